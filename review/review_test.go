package review

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/policies"
)

var testNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const testPolicy = `apiVersion: ssm-backup/v1
kind: BackupPolicy
metadata:
  name: web
spec:
  platform: linux
  targets:
    tags: {Backup: web}
  volumes: data
  consistency: filesystem
  mounts: [/data]
  schedule:
    expression: cron(0 2 * * ? *)
  retention: {count: 7}
  tags: {Team: web}
`

func compileText(t *testing.T, text string) compiler.Files {
	t.Helper()
	res := compiler.Compile([]policies.File{{Name: "p.yaml", Data: []byte(text)}}, compiler.Options{Now: testNow})
	if res.Diagnostics.HasErrors() {
		t.Fatalf("does not compile: %v", res.Diagnostics)
	}
	return res.Files
}

// editJSON decodes a file of the tree, lets edit change it and encodes it back.
func editJSON(t *testing.T, files compiler.Files, path string, edit func(m map[string]any)) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(files[path], &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	files[path] = b
}

func clone(files compiler.Files) compiler.Files {
	out := compiler.Files{}
	for k, v := range files {
		out[k] = v
	}
	return out
}

func TestReadPolicy(t *testing.T) {
	st, notes := newTree("new", compileText(t, testPolicy)).read("web")
	if len(notes) > 0 {
		t.Fatalf("notes: %q", notes)
	}
	if st.schedule == nil || st.schedule.Expression != "cron(0 2 * * ? *)" || st.schedule.Timezone != "UTC" || st.schedule.DurationHours != 2 || st.schedule.MaxConcurrency != "1" {
		t.Errorf("schedule = %+v", st.schedule)
	}
	if want := []Target{{Key: "Backup", Values: []string{"web"}}}; !cmp.Equal(st.targets, want) {
		t.Errorf("targets = %+v", st.targets)
	}
	if st.retention != (Retention{Rule: RuleCount, KeepCount: 7}) {
		t.Errorf("retention = %+v", st.retention)
	}
	wantSettings := []setting{{"consistency", "filesystem"}, {"volumes", "data"}, {"apps", ""}, {"mounts", "/data"}, {"maxFreezeSeconds", "10"}, {"snapshotTags", "Team=web"}}
	if !cmp.Equal(st.snapshot, wantSettings, cmp.AllowUnexported(setting{})) {
		t.Errorf("snapshot = %+v", st.snapshot)
	}
	if got := slices.Sorted(func(yield func(string) bool) {
		for k := range st.roles {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(got, []string{"automation", "instance", "window"}) {
		t.Errorf("roles = %v", got)
	}
}

// TestReadWindowsSnapshot: a Windows runbook's settings come from its VSS
// command, not from the package install or the custom hooks run before it,
// and the hooks are read too — on both VSS paths.
func TestReadWindowsSnapshot(t *testing.T) {
	const windows = `apiVersion: ssm-backup/v1
kind: BackupPolicy
metadata: {name: win}
spec:
  platform: windows
  targets: {tags: {Role: sql}}
  volumes: data
  consistency: application
  apps:
    - {type: custom, pre: 'C:\hooks\pause.cmd', post: 'C:\hooks\resume.cmd', timeout: 45s}
  windows: {vss: VSS, installPackages: true, noWriters: true}
  schedule: {expression: "cron(0 2 * * ? *)"}
  retention: {count: 7}
  copies: [{region: us-west-2}]
  tags: {Team: sql}
`
	for vss, want := range map[string][]setting{
		"managed":    {{"volumes", "data"}, {"vss", "managed"}, {"copyOnly", "true"}, {"noWriters", "true"}, {"customHooks", `C:\hooks\pause.cmd|C:\hooks\resume.cmd|45`}},
		"diskshadow": {{"volumes", "data"}, {"vss", "diskshadow"}, {"copyOnly", "true"}, {"noWriters", "true"}, {"customHooks", `C:\hooks\pause.cmd|C:\hooks\resume.cmd|45`}, {"snapshotTags", "Team=sql"}},
	} {
		text := strings.Replace(windows, "vss: VSS", "vss: "+vss, 1)
		if vss == "diskshadow" {
			text = strings.Replace(text, "installPackages: true, ", "", 1)
		}
		st, notes := newTree("new", compileText(t, text)).read("win")
		if len(notes) > 0 {
			t.Fatalf("%s: notes: %q", vss, notes)
		}
		if !cmp.Equal(st.snapshot, want, cmp.AllowUnexported(setting{})) {
			t.Errorf("%s: snapshot = %+v, want %+v", vss, st.snapshot, want)
		}
	}
}

// commandDoc is a command document whose parameters have these defaults.
func commandDoc(defaults map[string]string) map[string]any {
	params := map[string]any{}
	for k, v := range defaults {
		params[k] = map[string]any{"type": "String", "default": v}
	}
	return map[string]any{"schemaVersion": "2.2", "parameters": params, "mainSteps": []any{}}
}

// runbookDoc is a runbook whose aws:runCommand step runs document with
// parameters, followed by a prune step keeping count sets.
func runbookDoc(document string, parameters map[string]any, count int) map[string]any {
	return map[string]any{"schemaVersion": "0.3", "mainSteps": []any{
		map[string]any{"name": "takeSnapshots", "action": "aws:runCommand", "inputs": map[string]any{"DocumentName": document, "Parameters": parameters}},
		map[string]any{"name": "pruneSnapshots", "action": "aws:executeScript", "inputs": map[string]any{"InputPayload": map[string]any{"KeepCount": fmt.Sprint(count), "MaxAgeDays": "0", "MinKeep": "1"}}},
	}}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadCommandDocumentForms reads the snapshot settings in each form a
// compiled tree has held them: a command document per policy; one document
// the set shares, found in the template by the name the runbook gives,
// with the runbook passing some parameters; and a shared document that is
// only a file.
func TestReadCommandDocumentForms(t *testing.T) {
	defaults := map[string]string{"Consistency": "filesystem", "ExcludeBootVolume": "true", "Mounts": "", "MaxFreezeSeconds": "10", "SnapshotTags": "[]"}
	passed := map[string]any{"Consistency": []any{"crash"}, "Mounts": []any{"/data /logs"}, "RunId": []any{"{{ automation:EXECUTION_ID }}"}, "MaxFreezeSeconds": []any{"{{ Freeze }}"}}
	want := []setting{{"consistency", "crash"}, {"volumes", "data"}, {"mounts", "/data /logs"}, {"maxFreezeSeconds", "10"}, {"snapshotTags", ""}}
	template := map[string]any{"Resources": map[string]any{
		"SharedDocument": map[string]any{"Type": "AWS::SSM::Document", "Properties": map[string]any{"Name": "shared-snapshot", "Content": commandDoc(defaults)}},
		"OtherDocument":  map[string]any{"Type": "AWS::SSM::Document", "Properties": map[string]any{"Name": "other", "Content": commandDoc(nil)}},
	}}
	for _, tc := range []struct {
		name  string
		files compiler.Files
	}{
		{"per policy", compiler.Files{
			"policies/web/command-document.json":   mustJSON(t, commandDoc(defaults)),
			"policies/web/automation-runbook.json": mustJSON(t, runbookDoc("ssm-backup-web-snapshot", passed, 7)),
		}},
		{"shared, in the template", compiler.Files{
			compiler.TemplatePath:                  mustJSON(t, template),
			"policies/web/automation-runbook.json": mustJSON(t, runbookDoc("shared-snapshot", passed, 7)),
		}},
		{"shared, a file only", compiler.Files{
			"shared/snapshot/command-document.json": mustJSON(t, commandDoc(defaults)),
			"policies/web/automation-runbook.json":  mustJSON(t, runbookDoc("shared-snapshot", passed, 7)),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, notes := newTree("new", tc.files).read("web")
			if diff := cmp.Diff(want, st.snapshot, cmp.AllowUnexported(setting{})); diff != "" {
				t.Errorf("snapshot settings (-want +got):\n%s", diff)
			}
			if st.retention.KeepCount != 7 {
				t.Errorf("retention = %+v", st.retention)
			}
			for _, n := range notes {
				if strings.Contains(n, "command document") || strings.Contains(n, "runbook") {
					t.Errorf("unexpected note %q", n)
				}
			}
		})
	}
	// The runbook may live in the template only, found by the name the
	// window's task gives.
	template["Resources"].(map[string]any)["WebRunbook"] = map[string]any{"Type": "AWS::SSM::Document", "Properties": map[string]any{"Name": "web-backup", "Content": runbookDoc("shared-snapshot", passed, 5)}}
	files := compiler.Files{
		compiler.TemplatePath:                  mustJSON(t, template),
		"policies/web/maintenance-window.json": []byte(`{"CreateMaintenanceWindow":{"Schedule":"rate(1 day)","Duration":2},"RegisterTaskWithMaintenanceWindow":{"TaskArn":"web-backup"}}`),
	}
	st, _ := newTree("new", files).read("web")
	if st.retention.KeepCount != 5 || settingValue(st.snapshot, "consistency") != "crash" {
		t.Errorf("runbook from the template: retention %+v, settings %+v", st.retention, st.snapshot)
	}
}

func settingValue(ss []setting, name string) string {
	for _, s := range ss {
		if s.name == name {
			return s.value
		}
	}
	return "<none>"
}

func TestReadMissingAndBrokenFiles(t *testing.T) {
	files := compileText(t, testPolicy)
	delete(files, "policies/web/maintenance-window.json")
	files["policies/web/iam/instance-policy.json"] = []byte("{not json")
	st, notes := newTree("old", files).read("web")
	if st.schedule != nil || len(st.targets) != 0 {
		t.Errorf("schedule and targets without a window file: %+v %+v", st.schedule, st.targets)
	}
	if _, ok := st.roles["instance"]; ok {
		t.Error("an unreadable IAM file must be left out")
	}
	joined := strings.Join(notes, "\n")
	for _, want := range []string{"old set: policy web has no maintenance-window.json", "old set: policies/web/iam/instance-policy.json cannot be read"} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes lack %q:\n%s", want, joined)
		}
	}
}

// TestReadCopiesAndArchive reads copy and archive steps, which a runbook
// has once the compiler emits them; the prune step's retention is not
// mistaken for a copy's.
func TestReadCopiesAndArchive(t *testing.T) {
	files := compileText(t, testPolicy)
	editJSON(t, files, "policies/web/automation-runbook.json", func(m map[string]any) {
		steps := m["mainSteps"].([]any)
		copySteps := []any{
			map[string]any{"name": "copySnapshots", "action": "aws:executeScript", "inputs": map[string]any{"InputPayload": map[string]any{
				"Copies": []any{
					map[string]any{"Region": "us-west-2", "KeepCount": "30"},
					map[string]any{"Account": "111122223333", "MaxAgeDays": 90, "MinKeep": 2},
				},
			}}},
			map[string]any{"name": "archiveOldSnapshots", "action": "aws:executeAwsApi", "inputs": map[string]any{"Api": "ModifySnapshotTier", "ArchiveAfterDays": "120"}},
		}
		m["mainSteps"] = append(copySteps, steps...)
	})
	st, _ := newTree("new", files).read("web")
	want := []Copy{
		{Account: "111122223333", Retention: &Retention{Rule: RuleMaxAge, MaxAgeDays: 90, MinKeep: 2, Text: "keeps each instance's snapshot sets for 90 days, and always the newest 2"}},
		{Region: "us-west-2", Retention: &Retention{Rule: RuleCount, KeepCount: 30, Text: "keeps the newest 30 snapshot sets of each instance"}},
	}
	if diff := cmp.Diff(want, st.copies); diff != "" {
		t.Errorf("copies (-want +got):\n%s", diff)
	}
	if st.archive == nil || st.archive.AfterDays != 120 {
		t.Errorf("archive = %+v", st.archive)
	}
	if st.retention.KeepCount != 7 {
		t.Errorf("retention = %+v, want the prune step's", st.retention)
	}

	plan := Compare(Input{Old: Side{Files: compileText(t, testPolicy)}, New: Side{Files: files}, Now: testNow})
	if len(plan.Policies) != 1 || plan.Policies[0].Copies == nil || plan.Policies[0].Archive == nil {
		t.Fatalf("copies and archive not compared: %+v", plan.Policies)
	}
	md := string(plan.Markdown())
	for _, want := range []string{"**Copies**", "- after: account `111122223333` (keeps", "**Archive**", "- after: to the archive tier after 120 days"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestPermissions(t *testing.T) {
	doc := []byte(`{"Version":"2012-10-17","Statement":[
		{"Sid":"b","Effect":"Allow","Action":["s:B","s:A"],"Resource":"*"},
		{"Sid":"a","Effect":"Allow","Action":"s:A","Resource":["*"]},
		{"Effect":"Deny","NotAction":"s:C","Resource":"r","Condition":{"StringEquals":{"k2":["y","x"],"k1":"v"}}}
	]}`)
	got, err := permissions(doc)
	if err != nil {
		t.Fatal(err)
	}
	var ps []Permission
	for _, e := range got {
		ps = append(ps, e.p)
	}
	want := []Permission{
		{Effect: "Deny", Action: "NOT s:C", Resource: "r", Conditions: []Condition{{"StringEquals", "k1", []string{"v"}}, {"StringEquals", "k2", []string{"x", "y"}}}},
		{Effect: "Allow", Action: "s:A", Resource: "*"},
		{Effect: "Allow", Action: "s:B", Resource: "*"},
	}
	if diff := cmp.Diff(want, ps); diff != "" {
		t.Errorf("permissions (-want +got):\n%s", diff)
	}
	// A single statement object is read too.
	one, err := permissions([]byte(`{"Statement":{"Effect":"Allow","Action":"s:A","Resource":"*"}}`))
	if err != nil || len(one) != 1 {
		t.Errorf("single statement: %v %v", one, err)
	}
}

func TestRetentionChange(t *testing.T) {
	daily := &Schedule{Expression: "cron(0 2 * * ? *)", Timezone: "UTC"}
	count := func(n int) Retention { return Retention{Rule: RuleCount, KeepCount: n} }
	age := func(d, k int) Retention { return Retention{Rule: RuleMaxAge, MaxAgeDays: d, MinKeep: k} }
	none := Retention{Rule: RuleNone}
	for _, tc := range []struct {
		name     string
		old, new Retention
		deletes  bool
		atMost   int
	}{
		{"count lowered", count(14), count(7), true, 7},
		{"count raised", count(7), count(14), false, 0},
		{"retention added", none, count(7), true, 0},
		{"retention removed", count(7), none, false, 0},
		{"maxAge shortened", age(30, 1), age(14, 1), true, 0},
		{"maxAge lengthened", age(14, 1), age(30, 1), false, 0},
		{"minKeep lowered", age(30, 5), age(30, 2), true, 3},
		{"minKeep raised", age(30, 2), age(30, 5), false, 0},
		{"count to a longer age", count(7), age(30, 1), false, 0},
		{"count to a shorter age", count(7), age(3, 1), true, 0},
		{"count to an age with a high floor", count(7), age(1, 7), false, 0},
		{"age to a larger count", age(7, 1), count(10), false, 0},
		{"age to a smaller count", age(30, 1), count(10), true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := retentionChange(tc.old, tc.new, daily, testNow)
			if c.DeletesExisting != tc.deletes || c.DeleteAtMostPerInstance != tc.atMost {
				t.Errorf("deletes %v at most %d, want %v %d: %s", c.DeletesExisting, c.DeleteAtMostPerInstance, tc.deletes, tc.atMost, c.Explanation)
			}
			if c.Explanation == "" || c.Old.Text == "" || c.New.Text == "" {
				t.Errorf("missing words: %+v", c)
			}
		})
	}
}

func TestSummaryWarnings(t *testing.T) {
	files := compiler.Files{compiler.SummaryPath: []byte("# ssm-backup summary\n\n## a\n\n- **Targets:** x\n\n### Warnings\n\n" +
		"- W001 `p.yaml:5:1`: no off-site copy\n- `p.yaml:7:3`: a \\| b\n\n## b\n\n### Permissions\n\n- W009 `not:1:1`: not a warning line\n")}
	got := summaryWarnings(files)
	want := []Warning{
		{Policy: "a", Code: "W001", Summary: "no off-site copy", File: "p.yaml", Line: 5, Column: 1},
		{Policy: "a", Summary: "a | b", File: "p.yaml", Line: 7, Column: 3},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summaryWarnings (-want +got):\n%s", diff)
	}
	// Matching ignores positions and counts repeats.
	old := []Warning{{Policy: "a", Code: "W001", Summary: "x", Line: 1}}
	cur := []Warning{{Policy: "a", Code: "W001", Summary: "x", Line: 9}, {Policy: "a", Code: "W001", Summary: "x", Line: 10}, {Policy: "b", Code: "W001", Summary: "x"}}
	if got := newWarnings(old, cur); len(got) != 2 || got[0].Line != 10 || got[1].Policy != "b" {
		t.Errorf("newWarnings = %+v", got)
	}
}

// TestWarningsOf attributes warnings to the document they are in.
func TestWarningsOf(t *testing.T) {
	text := testPolicy + "---\n" + strings.Replace(strings.Replace(testPolicy, "name: web", "name: db", 1), "retention: {count: 7}\n", "", 1)
	ps, ds := policies.LoadFiles([]policies.File{{Name: "p.yaml", Data: []byte(text)}})
	ds = append(ds, policies.Validate(ps)...)
	ws := WarningsOf(ps, ds)
	var got []string
	for _, w := range ws {
		got = append(got, w.Policy+" "+w.Code)
	}
	want := []string{"web W001", "db W001", "db W005", "db W006"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("WarningsOf = %q, want %q", got, want)
	}
	if ws := WarningsOf(nil, nil); ws == nil {
		t.Error("WarningsOf must not return nil")
	}
}

// TestUnchangedButDifferentFiles reports a policy whose files differ
// without a change the plan describes, so "No changes." is never said of
// a set that would deploy something.
func TestUnchangedButDifferentFiles(t *testing.T) {
	old := compileText(t, testPolicy)
	cur := clone(old)
	cur["policies/web/linux-snapshot.sh"] = append([]byte("# newer\n"), cur["policies/web/linux-snapshot.sh"]...)
	plan := Compare(Input{Old: Side{Files: old}, New: Side{Files: cur}, Now: testNow})
	if !plan.Changed || len(plan.Policies) != 1 || !slices.Equal(plan.Policies[0].Files, []string{"linux-snapshot.sh"}) {
		t.Fatalf("plan = %+v", plan)
	}
	if md := string(plan.Markdown()); strings.Contains(md, "No changes.") || !strings.Contains(md, "`linux-snapshot.sh` differs") {
		t.Errorf("Markdown:\n%s", md)
	}
	// A file the set shares is reported once, not under each policy.
	shared := clone(old)
	shared["shared/example/script.sh"] = []byte("#!/bin/sh\n")
	plan = Compare(Input{Old: Side{Files: old}, New: Side{Files: shared}, Now: testNow})
	md := string(plan.Markdown())
	if !plan.Changed || len(plan.Policies) != 0 || !strings.Contains(md, "### Shared by the policies\n\n- added `shared/example/script.sh`\n") {
		t.Errorf("shared file: %+v\n%s", plan.Policies, md)
	}
	same := Compare(Input{Old: Side{Files: old}, New: Side{Files: clone(old)}, Now: testNow})
	if same.Changed || !strings.Contains(string(same.Markdown()), "No changes.") {
		t.Errorf("identical trees: %+v", same)
	}
}

// TestCreateOnlyCoversEmittedTypes fails when the compiler emits a resource
// type whose replacement rules the review does not know.
func TestCreateOnlyCoversEmittedTypes(t *testing.T) {
	tf := newTree("new", compileText(t, testPolicy)).tmpl()
	if tf == nil || len(tf.Resources) == 0 {
		t.Fatal("the compiled template has no resources")
	}
	for id, r := range tf.Resources {
		if _, ok := createOnly[r.Type]; !ok {
			t.Errorf("%s is of type %s, which createOnly does not list; add it from its provider schema", id, r.Type)
		}
	}
}

func TestMarkdownEscapes(t *testing.T) {
	if got := code("a`b"); got != "`` a`b ``" {
		t.Errorf("code = %q", got)
	}
	if got := cell("a|b\nc"); got != `a\|b c` {
		t.Errorf("cell = %q", got)
	}
}
