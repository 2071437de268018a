package compiler_test

// Proves that each runbook's role (the backup runbook's automation role,
// the restore drill's drill role) allows what the runbook's own API steps
// call: every aws:executeAwsApi,
// aws:assertAwsResourceProperty and aws:waitForAwsResourceProperty API, the
// instance-state changes, and Run Command (SendCommand on the document the
// step names, and the calls that follow the command). The Python step
// scripts (aws:executeScript) are checked by their own tests; this check
// is at the level of actions and documents: resources and conditions are
// the IAM conformance tests' business.

import (
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/compiler/internal/conformance"
)

// runbookNeeds lists what the runbook's steps call, as IAM actions, and the
// documents its aws:runCommand steps send.
func runbookNeeds(runbook any) (actions map[string]string, documents map[string]string) {
	actions, documents = map[string]string{}, map[string]string{}
	for _, s := range confSteps(runbook) {
		name, _ := s["name"].(string)
		in, _ := s["inputs"].(map[string]any)
		switch s["action"] {
		case "aws:executeAwsApi", "aws:assertAwsResourceProperty", "aws:waitForAwsResourceProperty":
			service, _ := in["Service"].(string)
			api, _ := in["Api"].(string)
			actions[strings.ToLower(service)+":"+api] = name
		case "aws:changeInstanceState":
			switch in["DesiredState"] {
			case "stopped":
				actions["ec2:StopInstances"] = name
			case "running":
				actions["ec2:StartInstances"] = name
			}
			actions["ec2:DescribeInstances"] = name
		case "aws:runCommand":
			doc, _ := in["DocumentName"].(string)
			documents[doc] = name
			for _, a := range []string{"ssm:SendCommand", "ssm:ListCommands", "ssm:ListCommandInvocations"} {
				actions[a] = name
			}
		}
	}
	return actions, documents
}

// allowedActions are the Allow statements of an identity policy: each
// action pattern with the resources it is allowed on.
func allowedActions(policy any) map[string][]string {
	out := map[string][]string{}
	doc, _ := policy.(map[string]any)
	for _, st := range confList(doc["Statement"]) {
		m, _ := st.(map[string]any)
		if m["Effect"] != "Allow" {
			continue
		}
		for _, a := range conformance.StringList(m["Action"]) {
			out[strings.ToLower(a)] = append(out[strings.ToLower(a)], conformance.StringList(m["Resource"])...)
		}
	}
	return out
}

// permissionProblems lists the runbook's calls its role does not allow.
func permissionProblems(runbook, role any) []string {
	allowed := allowedActions(role)
	resourcesOf := func(action string) ([]string, bool) {
		var res []string
		found := false
		for pattern, r := range allowed {
			if ok, _ := path.Match(pattern, strings.ToLower(action)); ok {
				res, found = append(res, r...), true
			}
		}
		return res, found
	}
	actions, documents := runbookNeeds(runbook)
	var out []string
	for _, a := range confSortedKeys(actions) {
		if _, ok := resourcesOf(a); !ok {
			out = append(out, fmt.Sprintf("%s: calls %s, which the runbook's role does not allow", actions[a], a))
		}
	}
	sendable, _ := resourcesOf("ssm:SendCommand")
	for _, d := range confSortedKeys(documents) {
		ok := false
		for _, r := range sendable {
			if strings.HasSuffix(r, ":document/"+d) || strings.HasSuffix(r, ":document/*") {
				ok = true
			}
		}
		if !ok {
			out = append(out, fmt.Sprintf("%s: sends document %s, which the runbook's role may not send", documents[d], d))
		}
	}
	return out
}

func TestConformanceRunbookPermissions(t *testing.T) {
	checked := 0
	drills := 0
	for _, set := range conformanceSets(t) {
		for _, policy := range set.SSMPolicies() {
			dir := compiler.PolicyDir(policy)
			// The backup runbook with the automation role, the restore
			// drill's with the drill role.
			for runbook, role := range map[string]string{"automation-runbook.json": "iam/automation-policy.json", "drill/automation-runbook.json": "iam/drill-policy.json"} {
				if _, ok := set.Files[dir+runbook]; !ok {
					continue
				}
				t.Run(set.Name+"/"+policy+"/"+runbook, func(t *testing.T) {
					for _, p := range permissionProblems(confDecode(t, set, dir+runbook), confDecode(t, set, dir+role)) {
						t.Error(p)
					}
				})
				checked++
				if strings.HasPrefix(runbook, "drill/") {
					drills++
				}
			}
		}
	}
	if checked == 0 || drills == 0 {
		t.Fatalf("checked %d runbooks, %d of them drills; want both kinds", checked, drills)
	}
	t.Logf("checked the roles of %d runbooks (%d restore drills) against their API steps", checked, drills)
}

// TestRunbookPermissionsNegativeControl proves the check can fail: a role
// without DescribeSnapshots, and one that may send another document.
func TestRunbookPermissionsNegativeControl(t *testing.T) {
	set := goldenSet(t, "windows-diskshadow")
	dir := compiler.PolicyDir("sql-legacy")
	runbook := confDecode(t, set, dir+"automation-runbook.json")
	if p := permissionProblems(runbook, confDecode(t, set, dir+"iam/automation-policy.json")); len(p) > 0 {
		t.Fatalf("the unmutated role already fails: %v", p)
	}
	for name, c := range map[string]struct {
		mutate func(st map[string]any)
		want   string
	}{
		"no DescribeSnapshots": {func(st map[string]any) {
			var keep []any
			for _, a := range conformance.StringList(st["Action"]) {
				if a != "ec2:DescribeSnapshots" {
					keep = append(keep, a)
				}
			}
			st["Action"] = keep
		}, "calls ec2:DescribeSnapshots, which the runbook's role does not allow"},
		"another document": {func(st map[string]any) {
			if st["Sid"] == "RunSnapshotDocument" {
				st["Resource"] = []any{"arn:aws:ssm:us-east-1:111122223333:document/other"}
			}
		}, "which the runbook's role may not send"},
	} {
		role := confDecode(t, set, dir+"iam/automation-policy.json")
		for _, st := range confList(role.(map[string]any)["Statement"]) {
			c.mutate(st.(map[string]any))
		}
		if got := permissionProblems(runbook, role); !strings.Contains(strings.Join(got, "\n"), c.want) {
			t.Errorf("%s: want %q, got %v", name, c.want, got)
		}
	}
}

// windowTaskProblems lists what a maintenance window's task needs that the
// window's role (named by ServiceRoleArn, found in roles by its name) does
// not allow: starting the task's runbook, and passing it its role.
func windowTaskProblems(window any, roles map[string]any) []string {
	w, _ := window.(map[string]any)
	task, _ := w["RegisterTaskWithMaintenanceWindow"].(map[string]any)
	if task == nil || task["TaskType"] != "AUTOMATION" {
		return []string{"no AUTOMATION task"}
	}
	roleARN, _ := task["ServiceRoleArn"].(string)
	role, ok := roles[roleARN[strings.LastIndex(roleARN, "/")+1:]]
	if !ok {
		return []string{"the task's role " + roleARN + " is no role of the policy"}
	}
	allowed := allowedActions(role)
	allows := func(action, resourceSuffix string) bool {
		for _, r := range allowed[strings.ToLower(action)] {
			if strings.HasSuffix(r, resourceSuffix) {
				return true
			}
		}
		return false
	}
	var out []string
	runbook, _ := task["TaskArn"].(string)
	if !allows("ssm:StartAutomationExecution", ":automation-definition/"+runbook+":*") {
		out = append(out, "the window's role may not start "+runbook)
	}
	inv, _ := task["TaskInvocationParameters"].(map[string]any)
	auto, _ := inv["Automation"].(map[string]any)
	params, _ := auto["Parameters"].(map[string]any)
	for _, r := range conformance.StringList(params["AutomationAssumeRole"]) {
		if !allows("iam:PassRole", r[strings.LastIndex(r, ":role/"):]) {
			out = append(out, "the window's role may not pass "+r+" to "+runbook)
		}
	}
	return out
}

// TestConformanceWindowPermissions: each maintenance window's role may
// start its task's runbook and pass the runbook its role (the backup
// window and the restore drill's).
func TestConformanceWindowPermissions(t *testing.T) {
	checked := 0
	for _, set := range conformanceSets(t) {
		for _, policy := range set.SSMPolicies() {
			dir := compiler.PolicyDir(policy)
			roles := map[string]any{}
			for _, p := range set.PathsWithSuffix("-policy.json") {
				if strings.HasPrefix(p, dir+"iam/") {
					kind := strings.TrimSuffix(strings.TrimPrefix(p, dir+"iam/"), "-policy.json")
					roles["ssmb-"+policy+"-"+kind] = confDecode(t, set, p)
				}
			}
			for _, w := range []string{"maintenance-window.json", "drill/maintenance-window.json"} {
				if _, ok := set.Files[dir+w]; !ok {
					continue
				}
				t.Run(set.Name+"/"+policy+"/"+w, func(t *testing.T) {
					for _, p := range windowTaskProblems(confDecode(t, set, dir+w), roles) {
						t.Error(p)
					}
				})
				checked++
			}
		}
	}
	if checked == 0 {
		t.Fatal("no maintenance window was checked")
	}
	t.Logf("checked %d maintenance windows' roles against their tasks", checked)
}

// TestWindowPermissionsNegativeControl proves the check can fail.
func TestWindowPermissionsNegativeControl(t *testing.T) {
	set := goldenSet(t, "restore-drill")
	dir := compiler.PolicyDir("files")
	window := confDecode(t, set, dir+"drill/maintenance-window.json")
	for name, c := range map[string]struct {
		edit func(role map[string]any)
		want string
	}{
		"unchanged":      {func(map[string]any) {}, ""},
		"no start":       {func(r map[string]any) { dropActions(r, "ssm:StartAutomationExecution") }, "may not start ssm-backup-files-drill"},
		"no pass role":   {func(r map[string]any) { dropActions(r, "iam:PassRole") }, "may not pass"},
		"no window role": {nil, "is no role of the policy"},
	} {
		roles := map[string]any{}
		if c.edit != nil {
			role := confDecode(t, set, dir+"iam/window-policy.json").(map[string]any)
			c.edit(role)
			roles["ssmb-files-window"] = role
		}
		got := strings.Join(windowTaskProblems(window, roles), "\n")
		if (c.want == "" && got != "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: want %q, got %q", name, c.want, got)
		}
	}
}

// dropActions removes an action from every statement of a policy.
func dropActions(policy map[string]any, action string) {
	for _, st := range confList(policy["Statement"]) {
		m := st.(map[string]any)
		var keep []any
		for _, a := range conformance.StringList(m["Action"]) {
			if a != action {
				keep = append(keep, a)
			}
		}
		m["Action"] = keep
	}
}
