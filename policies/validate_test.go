package policies

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ssm-backup/ssm-backup/diag"
)

// basePolicy is valid and draws no warning; each case below changes it.
const basePolicy = `apiVersion: ssm-backup/v1
kind: BackupPolicy
metadata:
  name: base
spec:
  platform: linux
  targets:
    tags: {Backup: base}
  volumes: data
  consistency: filesystem
  schedule:
    expression: cron(0 2 * * ? *)
  retention: {count: 7}
  copies: [{region: us-west-2}]
`

func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	s := basePolicy
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("base policy has no %q", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

func printed(ds diag.Diagnostics) string {
	var b bytes.Buffer
	ds.Print(&b)
	return b.String()
}

func TestBasePolicyIsClean(t *testing.T) {
	if out := printed(check("p.yaml", []byte(basePolicy))); out != "" {
		t.Fatalf("base policy is not clean:\n%s", out)
	}
}

// TestValidateRules covers rules and positions the corpus does not show.
func TestValidateRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy string
		want   []string // substrings of the printed diagnostics
		not    []string // substrings that must not appear
	}{
		{
			name:   "exchange on linux",
			policy: edit(t, "consistency: filesystem", "consistency: application\n  apps: [{type: exchange}]"),
			want:   []string{"p.yaml:11:17: error: app type exchange is available on windows only"},
		},
		{
			name:   "offset with at()",
			policy: edit(t, "expression: cron(0 2 * * ? *)", "expression: at(2030-01-01T00:00:00)\n    offset: 1"),
			want:   []string{"p.yaml:13:5: error: spec.schedule.offset applies to cron() schedules only"},
		},
		{
			name:   "error column in a plain expression",
			policy: edit(t, "cron(0 2 * * ? *)", "cron(0 2 * * ? 1900)"),
			want:   []string{"p.yaml:12:32: error: year value 1900"},
		},
		{
			name:   "error column in a single-quoted expression",
			policy: edit(t, "cron(0 2 * * ? *)", "'cron(0 2 * * ? 1900)'"),
			want:   []string{"p.yaml:12:33: error: year value 1900"},
		},
		{
			name:   "error in a block scalar points at the value",
			policy: edit(t, "expression: cron(0 2 * * ? *)", "expression: |\n      cron(0 2 * * ? 1900)"),
			want:   []string{"p.yaml:12:17: error: year value 1900"},
		},
		{
			name:   "multi-byte characters before the error",
			policy: edit(t, "expression: cron(0 2 * * ? *)", "expression: \"cron(0 2 * * ? ü)\""),
			want:   []string{"p.yaml:12:33: error:"},
		},
		{
			name:   "description with a line break",
			policy: edit(t, "  name: base\n", "  name: base\n  description: \"a\\nb\"\n"),
			want:   []string{"metadata.description contains a line break (U+000A)"},
		},
		{
			name:   "empty description",
			policy: edit(t, "  name: base\n", "  name: base\n  description: \"\"\n"),
			want:   []string{"metadata.description is empty"},
		},
		{
			name:   "name too long",
			policy: edit(t, "name: base", "name: "+strings.Repeat("a", 41)),
			want:   []string{"is 41 characters long; at most 40 are allowed"},
		},
		{
			name:   "windows settings with stopped",
			policy: edit(t, "platform: linux", "platform: windows", "consistency: filesystem", "consistency: stopped\n  windows: {vss: managed}"),
			want:   []string{"spec.windows is set but consistency is stopped"},
		},
		{
			name:   "windows application without apps is VSS of every writer",
			policy: edit(t, "platform: linux", "platform: windows", "consistency: filesystem", "consistency: application"),
			not:    []string{"error"},
		},
		{
			name:   "maxAge shorter than the interval",
			policy: edit(t, "cron(0 2 * * ? *)", "cron(0 2 ? * SUN *)", "retention: {count: 7}", "retention: {maxAge: 3d}"),
			want:   []string{"p.yaml:13:23: warning[W002]: retention maxAge 3d is shorter than the 7d between runs"},
		},
		{
			name:   "maxAge shorter than the interval, with a floor",
			policy: edit(t, "cron(0 2 * * ? *)", "cron(0 2 ? * SUN *)", "retention: {count: 7}", "retention: {maxAge: 3d, minKeep: 2}"),
			not:    []string{"W002"},
		},
		{
			name:   "half a database fleet at once",
			policy: edit(t, "consistency: filesystem", "consistency: application\n  apps: [{type: mysql}]", "expression: cron(0 2 * * ? *)", "expression: cron(0 2 * * ? *)\n    maxConcurrency: 50%"),
			want:   []string{"warning[W003]: maxConcurrency 50% backs up half or more of a database fleet"},
		},
		{
			name:   "a small share of a database fleet at once",
			policy: edit(t, "consistency: filesystem", "consistency: application\n  apps: [{type: mysql}]", "expression: cron(0 2 * * ? *)", "expression: cron(0 2 * * ? *)\n    maxConcurrency: 49%"),
			not:    []string{"W003"},
		},
		{
			name:   "all volumes with filesystem consistency",
			policy: edit(t, "volumes: data", "volumes: all"),
			want:   []string{"p.yaml:9:12: warning[W004]"},
		},
		{
			name:   "copy retention checked like the policy's",
			policy: edit(t, "copies: [{region: us-west-2}]", "copies: [{region: us-west-2, retention: {count: 3, maxAge: 9d}}]"),
			want:   []string{"retention sets both count and maxAge"},
		},
		{
			name:   "KMS key forms",
			policy: edit(t, "copies: [{region: us-west-2}]", "copies:\n    - {region: us-west-2, kmsKeyId: alias/backup}\n    - {region: us-east-1, kmsKeyId: 1234abcd-12ab-34cd-56ef-1234567890ab}\n    - {region: eu-west-1, kmsKeyId: mrk-1234abcd12ab34cd56ef1234567890ab}"),
			not:    []string{"error"},
		},
		{
			name:   "time zone given as a city",
			policy: edit(t, "expression: cron(0 2 * * ? *)", "expression: cron(0 2 * * ? *)\n    timezone: Tokyo"),
			want:   []string{"did you mean \"Asia/Tokyo\"?"},
		},
		{
			name:   "restore drill time zone defaults to the schedule's and is optional",
			policy: edit(t, "copies: [{region: us-west-2}]", "copies: [{region: us-west-2}]\n  restoreDrill: {expression: rate(7 days)}"),
			not:    []string{"error"},
		},
		{
			name:   "mysql defaultsFile not absolute",
			policy: edit(t, "consistency: filesystem", "consistency: application\n  apps: [{type: mariadb, defaultsFile: my.cnf}]"),
			want:   []string{"defaultsFile \"my.cnf\" is not an absolute path"},
		},
		{
			name:   "postgresql service name",
			policy: edit(t, "consistency: filesystem", "consistency: application\n  apps: [{type: postgresql, service: \"a b\"}]"),
			want:   []string{"service \"a b\" is not a valid service name"},
		},
		{
			name:   "custom timeout out of range",
			policy: edit(t, "consistency: filesystem", "consistency: application\n  apps: [{type: custom, pre: /bin/true, timeout: 2h}]"),
			want:   []string{"timeout 2h is out of range"},
		},
		{
			name:   "custom on windows takes a Windows path",
			policy: edit(t, "platform: linux", "platform: windows", "consistency: filesystem", "consistency: application\n  apps: [{type: custom, pre: 'C:\\ssm-backup\\pre.cmd'}]"),
			not:    []string{"error"},
		},
		{
			name:   "agent file system as a mount",
			policy: edit(t, "consistency: filesystem", "consistency: filesystem\n  mounts: [/var/lib/amazon/ssm]"),
			want:   []string{"mount /var/lib/amazon/ssm must not be frozen"},
		},
		{
			name:   "empty mounts",
			policy: edit(t, "consistency: filesystem", "consistency: filesystem\n  mounts: []"),
			want:   []string{"spec.mounts is empty"},
		},
		{
			name:   "maxFreeze in range",
			policy: edit(t, "consistency: filesystem", "consistency: filesystem\n  maxFreeze: 60s"),
			not:    []string{"error"},
		},
		{
			name:   "many target values",
			policy: edit(t, "tags: {Backup: base}", "tags: {Backup: ["+strings.Repeat("x,", 50)+"y]}"),
			want:   []string{"spec.targets.tags.Backup has 51 values; at most 50 are allowed", "tag value \"x\" of spec.targets.tags.Backup is listed twice"},
		},
		{
			name:   "target tag value with a character EC2 rejects",
			policy: edit(t, "tags: {Backup: base}", "tags: {Backup: \"a;b\"}"),
			want:   []string{"tag value \"a;b\" of spec.targets.tags.Backup contains \";\""},
		},
		{
			name:   "target tags may hold any letter",
			policy: edit(t, "tags: {Backup: base}", "tags: {Besitzer: Müller}"),
			not:    []string{"error"},
		},
		{
			name:   "schedule expression too long",
			policy: edit(t, "cron(0 2 * * ? *)", "\"cron(0 2 * * ? *)"+strings.Repeat(" ", 300)+"\""),
			want:   []string{"schedule expression is 317 characters long; at most 256 are allowed"},
		},
		{
			name:   "explicit null retention",
			policy: edit(t, "retention: {count: 7}", "retention:"),
			want:   []string{"warning[W005]"},
		},
		{
			name:   "a misspelt retention is reported once",
			policy: edit(t, "retention: {count: 7}", "retension: {count: 7}"),
			want:   []string{"did you mean \"retention\"?"},
			not:    []string{"W005"},
		},
		{
			name:   "broken retention is not reported missing",
			policy: edit(t, "retention: {count: 7}", "retention: {count: x}"),
			not:    []string{"W005", "needs count or maxAge"},
		},
		{
			name:   "ignored warning is not reported",
			policy: edit(t, "copies: [{region: us-west-2}]", "lint: {ignore: [W001]}"),
			not:    []string{"W001", "error"},
		},
		{
			name:   "ignoring one warning keeps the others",
			policy: edit(t, "copies: [{region: us-west-2}]", "lint: {ignore: [W005]}"),
			want:   []string{"warning[W001]"},
		},
		{
			name:   "unknown lint code",
			policy: edit(t, "copies: [{region: us-west-2}]", "copies: [{region: us-west-2}]\n  lint: {ignore: [W03]}"),
			want:   []string{"p.yaml:15:19: error: unknown warning code \"W03\" in spec.lint.ignore", "did you mean \"W003\"?"},
		},
		{
			name:   "window long enough for the fleet",
			policy: edit(t, "tags: {Backup: base}", "tags: {Backup: base}\n    expectedInstances: 24"),
			not:    []string{"W007"},
		},
		{
			name:   "window too short for the fleet",
			policy: edit(t, "tags: {Backup: base}", "tags: {Backup: base}\n    expectedInstances: 25"),
			want:   []string{"p.yaml:9:24: warning[W007]: the window is too short for 25 instances at maxConcurrency 1: about 2h5m needed, 2h available", "raise maxConcurrency to 2, make the window 3h long"},
		},
		{
			name:   "a percentage of the fleet rounds up",
			policy: edit(t, "tags: {Backup: base}", "tags: {Backup: base}\n    expectedInstances: 250", "expression: cron(0 2 * * ? *)", "expression: cron(0 2 * * ? *)\n    maxConcurrency: 10%"),
			not:    []string{"W007"},
		},
		{
			name:   "no fleet size, no estimate",
			policy: edit(t, "expression: cron(0 2 * * ? *)", "expression: cron(0 2 * * ? *)\n    window: {duration: 1h}"),
			not:    []string{"W007"},
		},
		{
			name:   "a run in the hour the clocks skip",
			policy: edit(t, "expression: cron(0 2 * * ? *)", "expression: cron(30 2 ? * SUN *)\n    timezone: Europe/Berlin"),
			want:   []string{"p.yaml:12:17: warning[W008]: daylight saving time in Europe/Berlin skips 2 runs and puts 2 runs in a repeated hour in 2026–2027", "2026-03-29 02:30 does not exist"},
		},
		{
			name:   "rate schedules and UTC have no DST ambiguity",
			policy: edit(t, "expression: cron(0 2 * * ? *)", "expression: rate(1 day)\n    timezone: Europe/Berlin"),
			not:    []string{"W008"},
		},
		{
			name:   "archive without after",
			policy: edit(t, "copies: [{region: us-west-2}]", "copies: [{region: us-west-2}]\n  archive: {}"),
			want:   []string{"missing required field \"after\" in spec.archive"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := printed(check("p.yaml", []byte(tc.policy)))
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("want %q in:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("do not want %q in:\n%s", n, out)
				}
			}
		})
	}
}

// TestValidatePolicyBuiltInCode checks that a policy without a source (built
// by a program, not loaded) is validated by what it sets.
func TestValidatePolicyBuiltInCode(t *testing.T) {
	count := 7
	p := &Policy{
		APIVersion: APIVersion,
		Kind:       Kind,
		Metadata:   Metadata{Name: "built"},
		Spec: Spec{
			Platform:    Linux,
			Targets:     Targets{Tags: map[string]StringList{"Backup": {"built"}}},
			Volumes:     DataVolumes,
			Consistency: Filesystem,
			Schedule:    Schedule{Expression: "cron(0 2 * * ? *)"},
			Retention:   &Retention{Count: &count},
			Copies:      []Copy{{Region: "us-west-2"}},
		},
	}
	if ds := Validate([]*Policy{p}); len(ds) != 0 {
		t.Fatalf("valid policy built in code: %v", ds)
	}
	p.Spec.Consistency = "filesytem"
	ds := Validate([]*Policy{p})
	if len(ds) != 1 || !strings.Contains(ds[0].Detail, `did you mean "filesystem"?`) {
		t.Fatalf("got %v, want one error suggesting filesystem", ds)
	}
	if len(Validate([]*Policy{nil})) != 0 {
		t.Fatal("a nil policy must be skipped")
	}
}

func TestWarningsTable(t *testing.T) {
	seen := map[string]bool{}
	for i, w := range Warnings {
		if w.Code == "" || w.Title == "" {
			t.Errorf("warning %d has no code or title", i)
		}
		if seen[w.Code] {
			t.Errorf("warning code %s is listed twice", w.Code)
		}
		seen[w.Code] = true
	}
	for _, code := range []string{WarnNoOffsiteCopy, WarnShortRetention, WarnDatabaseAllAtOnce, WarnRootNotFrozen, WarnNoRetention, WarnSameTargets, WarnWindowTooShort, WarnDSTAmbiguous} {
		if !seen[code] {
			t.Errorf("warning %s is missing from Warnings", code)
		}
	}
}

// TestSameTargets checks W006 over a set: overlap needs the same keys and a
// common value for each; it is reported once per pair, at the later policy,
// and silenced by either policy.
func TestSameTargets(t *testing.T) {
	policy := func(name, tags, extra string) string {
		return strings.Replace(edit(t, "name: base", "name: "+name, "tags: {Backup: base}", "tags: "+tags), "copies:", extra+"copies:", 1)
	}
	for _, tc := range []struct {
		name string
		a, b string
		want string // "" when no W006 is expected
	}{
		{"same single tag", policy("a", "{Backup: web}", ""), policy("b", "{Backup: web}", ""), `p.yaml:23:11: warning[W006]: spec.targets.tags selects the same instances as policy "a"`},
		{"overlapping lists", policy("a", "{Backup: [web, api]}", ""), policy("b", "{Backup: [db, api]}", ""), "instances tagged Backup=api match both"},
		{"different values", policy("a", "{Backup: web}", ""), policy("b", "{Backup: db}", ""), ""},
		{"different keys", policy("a", "{Backup: web}", ""), policy("b", "{Backup: web, Env: prod}", ""), ""},
		{"one key differs", policy("a", "{Backup: web, Env: prod}", ""), policy("b", "{Backup: web, Env: test}", ""), ""},
		{"ignored by the first", policy("a", "{Backup: web}", "lint: {ignore: [W006]}\n  "), policy("b", "{Backup: web}", ""), ""},
		{"ignored by the second", policy("a", "{Backup: web}", ""), policy("b", "{Backup: web}", "lint: {ignore: [W006]}\n  "), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := printed(check("p.yaml", []byte(tc.a+"---\n"+tc.b)))
			if tc.want == "" {
				if strings.Contains(out, "W006") {
					t.Errorf("unexpected W006:\n%s", out)
				}
				return
			}
			if !strings.Contains(out, tc.want) || strings.Count(out, "warning[W006]") != 1 {
				t.Errorf("want one W006 with %q in:\n%s", tc.want, out)
			}
		})
	}
}

func TestConcurrencyFor(t *testing.T) {
	for _, tc := range []struct {
		mc   string
		n    int
		want int
	}{{"1", 10, 1}, {"20", 10, 10}, {"10%", 10, 1}, {"10%", 11, 2}, {"1%", 3, 1}, {"100%", 7, 7}} {
		if got := concurrencyFor(tc.mc, tc.n); got != tc.want {
			t.Errorf("concurrencyFor(%q, %d) = %d, want %d", tc.mc, tc.n, got, tc.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                             "0s",
		5 * time.Minute:               "5m",
		90 * time.Minute:              "1h30m",
		24 * time.Hour:                "1d",
		36*time.Hour + 15*time.Second: "1d12h15s",
		time.Millisecond:              "1ms",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestSuggestName(t *testing.T) {
	for in, want := range map[string]string{
		"My_Fleet":     "my-fleet",
		"-web--1-":     "web-1",
		"ÄÖÜ":          "",
		"db.prod/east": "db-prod-east",
	} {
		if got := suggestName(in); got != want {
			t.Errorf("suggestName(%q) = %q, want %q", in, got, want)
		}
	}
}
