package conformance

import (
	"strings"
	"testing"
)

const modelPath = "../../../testdata/reference/botocore-ssm-service-2.json"

func loadTestModel(t *testing.T) *Model {
	t.Helper()
	m, err := LoadModel(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestModelPatternsAreCovered proves every pattern of the model either
// compiles in Go or has a documented translation or skip, and that the
// table has no stale entries.
func TestModelPatternsAreCovered(t *testing.T) {
	for _, err := range loadTestModel(t).CheckPatterns() {
		t.Error(err)
	}
}

func TestRE2Substitutes(t *testing.T) {
	m := loadTestModel(t)
	notBlank := `^(?!\s*$).+`
	cases := []struct {
		pattern string
		in      string
		want    bool
	}{
		{notBlank, "my-alarm", true},
		{notBlank, "  x", true},
		{notBlank, "", false},
		{notBlank, "   ", false},
		{notBlank, "\u00a0\u3000", false}, // ECMAScript \s includes these
		{notBlank, "\nx", false},          // "." does not match a line terminator
		{`^.{1,100000}$`, "value", true},
		{`^.{1,100000}$`, "", false},
		{`^.{1,100000}$`, "a\nb", false},
		{`^.{1,100000}$`, strings.Repeat("a", 100001), false},
	}
	for _, c := range cases {
		pc := m.pattern(c.pattern)
		if pc.err != nil || pc.match == nil {
			t.Fatalf("%s: not translated (%v)", c.pattern, pc.err)
		}
		if got := pc.match(c.in); got != c.want {
			t.Errorf("%s on %q = %v, want %v", c.pattern, c.in, got, c.want)
		}
	}
}

func TestModelCheck(t *testing.T) {
	m := loadTestModel(t)
	valid := map[string]any{
		"Name": "nightly", "Schedule": "cron(0 1 * * ? *)", "Duration": 2.0, "Cutoff": 1.0,
		"AllowUnassociatedTargets": false,
		"Tags":                     []any{map[string]any{"Key": "Owner", "Value": "team"}},
	}
	if ps := m.Check("CreateMaintenanceWindowRequest", "in", valid); len(ps) != 0 {
		t.Fatalf("valid input rejected: %v", ps)
	}
	cases := []struct {
		name   string
		mutate func(map[string]any)
		want   string
	}{
		{"duration above max", func(v map[string]any) { v["Duration"] = 25.0 }, "in.Duration: value 25 is above the maximum 24"},
		{"cutoff not integer", func(v map[string]any) { v["Cutoff"] = 1.5 }, "in.Cutoff: integer expected"},
		{"missing required", func(v map[string]any) { delete(v, "Schedule") }, `required member "Schedule"`},
		{"unknown member", func(v map[string]any) { v["Windowid"] = "x" }, `unknown member "Windowid"`},
		{"name pattern", func(v map[string]any) { v["Name"] = "a b c" }, "does not match pattern"},
		{"name too short", func(v map[string]any) { v["Name"] = "ab" }, "length 2 is below the minimum 3"},
		{"wrong type", func(v map[string]any) { v["AllowUnassociatedTargets"] = "false" }, "boolean expected"},
		{"tag value pattern", func(v map[string]any) {
			v["Tags"] = []any{map[string]any{"Key": "Owner", "Value": "a;b"}}
		}, "in.Tags[0].Value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := map[string]any{}
			for k, x := range valid {
				v[k] = x
			}
			c.mutate(v)
			ps := m.Check("CreateMaintenanceWindowRequest", "in", v)
			var all []string
			for _, p := range ps {
				all = append(all, p.String())
			}
			if !strings.Contains(strings.Join(all, "\n"), c.want) {
				t.Fatalf("want a problem containing %q, got %v", c.want, all)
			}
		})
	}
}

func TestModelCheckEnumMapAndTranslatedPattern(t *testing.T) {
	m := loadTestModel(t)
	task := map[string]any{
		"WindowId": "mw-0123456789abcdef0", "TaskArn": "doc", "TaskType": "AUTOMATION",
		"MaxErrors": "101%",
		"TaskInvocationParameters": map[string]any{"Automation": map[string]any{
			"Parameters": map[string]any{"InstanceId": []any{""}},
		}},
		"AlarmConfiguration": map[string]any{"Alarms": []any{map[string]any{"Name": "   "}}},
		"CutoffBehavior":     "STOP",
	}
	ps := m.Check("RegisterTaskWithMaintenanceWindowRequest", "task", task)
	var all []string
	for _, p := range ps {
		all = append(all, p.String())
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{
		`task.MaxErrors: "101%" does not match pattern`,
		`task.CutoffBehavior: "STOP" is not one of CONTINUE_TASK, CANCEL_TASK`,
		`task.TaskInvocationParameters.Automation.Parameters["InstanceId"][0]: length 0 is below the minimum 1`,
		`task.AlarmConfiguration.Alarms[0].Name: "   " does not match pattern`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing %q in:\n%s", want, joined)
		}
	}
	if notes := m.PatternNotes(); len(notes) != 1 || !strings.Contains(notes[0], "AlarmName") {
		t.Errorf("PatternNotes = %v, want the AlarmName translation", notes)
	}
}
