package compiler_test

// Proves the promise of every "consistency: stopped" runbook: an instance
// the run stopped is started again whatever happens after the stop, an
// instance that was already stopped is left stopped, and nothing needs the
// SSM agent.

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ssm-backup/ssm-backup/compiler"
)

// isStoppedRunbook tells a stopped policy's runbook: it changes the
// instance's state itself.
func isStoppedRunbook(runbook any) bool {
	for _, s := range confSteps(runbook) {
		if s["action"] == "aws:changeInstanceState" {
			return true
		}
	}
	return false
}

// confNext lists where control goes after step i: on success, and on
// failure or cancellation ("" = the runbook ends).
func confNext(steps []map[string]any, i int) (success []string, failure []string) {
	s := steps[i]
	if s["action"] == "aws:branch" {
		in, _ := s["inputs"].(map[string]any)
		for _, c := range confList(in["Choices"]) {
			m, _ := c.(map[string]any)
			n, _ := m["NextStep"].(string)
			success = append(success, n)
		}
		d, _ := in["Default"].(string)
		success = append(success, d)
	} else if n, _ := s["nextStep"].(string); n != "" {
		success = append(success, n)
	} else if end, _ := s["isEnd"].(bool); end || i+1 == len(steps) {
		success = append(success, "")
	} else {
		success = append(success, steps[i+1]["name"].(string))
	}
	for _, k := range []string{"onFailure", "onCancel"} {
		v, _ := s[k].(string)
		switch {
		case strings.HasPrefix(v, "step:"):
			failure = append(failure, strings.TrimPrefix(v, "step:"))
		case v == "Continue":
			failure = append(failure, success...)
		default: // Abort, or not set (Abort)
			failure = append(failure, "")
		}
	}
	return success, failure
}

// confEndsAvoiding reports a path from step i to the end of the runbook
// that passes no step guard takes (i itself included); a step that goes
// to no step is reported in out.
func confEndsAvoiding(steps []map[string]any, i int, guard func(map[string]any) bool, seen map[int]bool, out *[]string) bool {
	if guard(steps[i]) || seen[i] {
		return false
	}
	seen[i] = true
	byName := map[string]int{}
	for k, s := range steps {
		name, _ := s["name"].(string)
		byName[name] = k
	}
	succ, fail := confNext(steps, i)
	for _, n := range append(succ, fail...) {
		if n == "" {
			return true
		}
		j, ok := byName[n]
		if !ok {
			*out = append(*out, steps[i]["name"].(string)+": goes to "+n+", which is no step")
			continue
		}
		if confEndsAvoiding(steps, j, guard, seen, out) {
			return true
		}
	}
	return false
}

func confSteps(runbook any) []map[string]any {
	top, _ := runbook.(map[string]any)
	var out []map[string]any
	for _, s := range confList(top["mainSteps"]) {
		if m, ok := s.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// stoppedRunbookProblems walks the runbook's control flow: from the step
// that stops the instance, every path, including each step's onFailure
// and onCancel, reaches a step that starts it; from the branch's
// already-stopped choice, no path starts it.
func stoppedRunbookProblems(runbook any) []string {
	var out []string
	steps := confSteps(runbook)
	byName := map[string]int{}
	for i, s := range steps {
		name, _ := s["name"].(string)
		byName[name] = i
		switch s["action"] {
		case "aws:runCommand":
			out = append(out, name+": a stopped instance cannot run a command")
		case "aws:assertAwsResourceProperty":
			if in, _ := s["inputs"].(map[string]any); in["Service"] == "ssm" {
				out = append(out, name+": a stopped policy must not need the SSM agent")
			}
		}
	}
	isStart := func(s map[string]any) bool {
		in, _ := s["inputs"].(map[string]any)
		return s["action"] == "aws:changeInstanceState" && in["DesiredState"] == "running"
	}
	isStop := func(s map[string]any) bool {
		in, _ := s["inputs"].(map[string]any)
		return s["action"] == "aws:changeInstanceState" && in["DesiredState"] == "stopped"
	}
	next := func(i int) ([]string, []string) { return confNext(steps, i) }
	walk := func(i int, seen map[int]bool) bool {
		return confEndsAvoiding(steps, i, func(s map[string]any) bool { return isStart(s) }, seen, &out)
	}
	stops := 0
	for i, s := range steps {
		if !isStop(s) {
			continue
		}
		stops++
		if walk(i, map[int]bool{}) {
			out = append(out, s["name"].(string)+": a path from the stop ends without starting the instance again")
		}
		// The start step itself may fail: its own failure must lead to
		// another start attempt.
		for j, t := range steps {
			if !isStart(t) || j == len(steps)-1 {
				continue
			}
			if f, _ := t["onFailure"].(string); !strings.HasPrefix(f, "step:") {
				out = append(out, t["name"].(string)+": a failed start must be retried by the last-resort start step")
			}
		}
	}
	if stops != 1 {
		out = append(out, "want exactly one step that stops the instance")
	}
	// The already-stopped path: the branch's default.
	for _, s := range steps {
		if s["action"] != "aws:branch" {
			continue
		}
		in, _ := s["inputs"].(map[string]any)
		d, _ := in["Default"].(string)
		j, ok := byName[d]
		if !ok {
			out = append(out, s["name"].(string)+": default "+d+" is no step")
			continue
		}
		var reachesStart func(k int, seen map[int]bool) bool
		reachesStart = func(k int, seen map[int]bool) bool {
			if isStart(steps[k]) || isStop(steps[k]) {
				return true
			}
			if seen[k] {
				return false
			}
			seen[k] = true
			succ, fail := next(k)
			for _, n := range append(succ, fail...) {
				if m, ok := byName[n]; ok && reachesStart(m, seen) {
					return true
				}
			}
			return false
		}
		if reachesStart(j, map[int]bool{}) {
			out = append(out, s["name"].(string)+": an instance that was already stopped is started or stopped by the run")
		}
	}
	return out
}

// TestStoppedRunbookNegativeControl proves the control-flow check can
// fail: a snapshot step that aborts instead of starting the instance, and
// a branch whose already-stopped path starts it, are both reported.
func TestStoppedRunbookNegativeControl(t *testing.T) {
	set := goldenSet(t, "stopped-linux")
	var path string
	for _, p := range set.PathsWithSuffix("/automation-runbook.json") {
		path = p
	}
	raw := set.Files[path]
	decode := func() any {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if p := stoppedRunbookProblems(decode()); len(p) > 0 {
		t.Fatalf("the golden runbook should be clean: %v", p)
	}
	for _, m := range []struct {
		name   string
		mutate func(steps []map[string]any)
		want   string
	}{
		{"snapshot aborts", func(steps []map[string]any) {
			for _, s := range steps {
				if s["name"] == "snapshotStoppedInstance" {
					s["onFailure"] = "Abort"
				}
			}
		}, "ends without starting"},
		{"cancel not covered", func(steps []map[string]any) {
			for _, s := range steps {
				if s["name"] == "stopInstance" {
					delete(s, "onCancel")
				}
			}
		}, "ends without starting"},
		{"already stopped is started", func(steps []map[string]any) {
			for _, s := range steps {
				if s["action"] == "aws:branch" {
					s["inputs"].(map[string]any)["Default"] = "startInstance"
				}
			}
		}, "already stopped"},
		{"agent needed", func(steps []map[string]any) {
			steps[0]["inputs"].(map[string]any)["Service"] = "ssm"
		}, "SSM agent"},
	} {
		t.Run(m.name, func(t *testing.T) {
			doc := decode()
			m.mutate(confSteps(doc))
			got := strings.Join(stoppedRunbookProblems(doc), "\n")
			if !strings.Contains(got, m.want) {
				t.Errorf("mutation not reported (want %q): %s", m.want, got)
			}
		})
	}
}

// goldenSet returns the compiled golden case of that name.
func goldenSet(t *testing.T, name string) compiledSet {
	t.Helper()
	for _, s := range conformanceSets(t) {
		if s.Name == "golden/"+name {
			return s
		}
	}
	t.Fatalf("golden case %s was not compiled", name)
	return compiledSet{}
}

// TestStrategyPermissions: a stopped policy's automation role may not send
// commands (its runbook runs none) and may stop and start only target
// instances; a Windows policy's roles never name the Linux snapshot
// document, and its instance role may tag after creation only as VSS does.
func TestStrategyPermissions(t *testing.T) {
	checked := 0
	for _, set := range conformanceSets(t) {
		for _, policy := range set.SSMPolicies() {
			dir := compiler.PolicyDir(policy)
			runbook := confDecode(t, set, dir+"automation-runbook.json")
			auto := string(set.Files[dir+"iam/automation-policy.json"])
			inst := string(set.Files[dir+"iam/instance-policy.json"])
			switch {
			case isStoppedRunbook(runbook):
				checked++
				if strings.Contains(auto, "ssm:SendCommand") {
					t.Errorf("%s/%s: the automation role of a stopped policy may send commands", set.Name, policy)
				}
				if !strings.Contains(auto, "ec2:StopInstances") || !strings.Contains(auto, "ec2:ResourceTag/") {
					t.Errorf("%s/%s: the automation role cannot stop target instances, or not only them", set.Name, policy)
				}
			case isWindowsVSSRunbook(runbook), isDiskshadowRunbook(runbook):
				checked++
				if strings.Contains(auto+inst, compiler.LinuxSnapshotDocument) {
					t.Errorf("%s/%s: a Windows policy's roles name %s", set.Name, policy, compiler.LinuxSnapshotDocument)
				}
				if isWindowsVSSRunbook(runbook) && !strings.Contains(inst, "VssTagOwnSnapshotsAfterCreation") {
					t.Errorf("%s/%s: the instance role lacks the VSS tagging AWSEC2-CreateVssSnapshot needs", set.Name, policy)
				}
			}
		}
	}
	if checked < 4 {
		t.Fatalf("checked %d stopped or Windows policies, want the golden cases at least", checked)
	}
}
