package documents

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func exampleLinuxSnapshot() LinuxSnapshot {
	return LinuxSnapshot{
		Description:       "Consistent snapshots of the MySQL fleet",
		PolicyName:        "mysql-fleet",
		Consistency:       ConsistencyFilesystem,
		ExcludeBootVolume: true,
		Mounts:            []string{"/srv/db-data", "/srv/db-logs"},
		MaxFreezeSeconds:  10,
		Tags:              []Tag{{"CostCenter", "db"}, {"Team", "platform"}},
		TimeoutSeconds:    600,
	}
}

func mustLinuxSnapshotCommand(t *testing.T, s LinuxSnapshot) CommandDocument {
	t.Helper()
	doc, err := LinuxSnapshotCommand(s)
	if err != nil {
		t.Fatalf("LinuxSnapshotCommand: %v", err)
	}
	return doc
}

func TestLinuxSnapshotDocumentShape(t *testing.T) {
	doc := mustLinuxSnapshotCommand(t, exampleLinuxSnapshot())
	b, err := MarshalIndent(doc)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		SchemaVersion string                     `json:"schemaVersion"`
		Description   string                     `json:"description"`
		Parameters    map[string]json.RawMessage `json:"parameters"`
		MainSteps     []struct {
			Action       string `json:"action"`
			Name         string `json:"name"`
			Precondition struct {
				StringEquals []string `json:"StringEquals"`
			} `json:"precondition"`
			Inputs struct {
				TimeoutSeconds string   `json:"timeoutSeconds"`
				RunCommand     []string `json:"runCommand"`
			} `json:"inputs"`
		} `json:"mainSteps"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("document JSON: %v\n%s", err, b)
	}
	if got.SchemaVersion != "2.2" || got.Description != "Consistent snapshots of the MySQL fleet" {
		t.Errorf("schemaVersion %q, description %q", got.SchemaVersion, got.Description)
	}
	if len(got.MainSteps) != 1 {
		t.Fatalf("%d steps, want 1", len(got.MainSteps))
	}
	step := got.MainSteps[0]
	if step.Action != "aws:runShellScript" || step.Name != "snapshotInstance" || step.Inputs.TimeoutSeconds != "600" {
		t.Errorf("step = %+v", step)
	}
	if diff := cmp.Diff([]string{"platformType", "Linux"}, step.Precondition.StringEquals); diff != "" {
		t.Errorf("precondition (-want +got):\n%s", diff)
	}
	wantParams := []string{"Apps", "Client", "Consistency", "ExcludeBootVolume", "MaxFreezeSeconds", "Mounts", "PolicyName", "RunId", "SnapshotTags"}
	var names []string
	for n := range got.Parameters {
		names = append(names, n)
	}
	sort.Strings(names)
	if diff := cmp.Diff(wantParams, names); diff != "" {
		t.Errorf("parameters (-want +got):\n%s", diff)
	}
	if !bytes.HasSuffix(b, []byte("}\n")) || bytes.Contains(b, []byte(`\u003c`)) {
		t.Errorf("JSON must end in a newline and keep < > & unescaped")
	}
	// Reviewers read the script in the JSON: one element per line, no line
	// with an embedded newline.
	for i, line := range step.Inputs.RunCommand {
		if strings.Contains(line, "\n") {
			t.Errorf("runCommand[%d] holds a newline: %q", i, line)
		}
	}
}

func TestLinuxSnapshotParameterDefaults(t *testing.T) {
	doc := mustLinuxSnapshotCommand(t, exampleLinuxSnapshot())
	want := map[string]string{
		ParamPolicyName:        "mysql-fleet",
		ParamConsistency:       "filesystem",
		ParamApps:              "",
		ParamExcludeBootVolume: "true",
		ParamMounts:            "/srv/db-data /srv/db-logs",
		ParamMaxFreezeSeconds:  "10",
		ParamSnapshotTags:      `[{"Key":"CostCenter","Value":"db"},{"Key":"Team","Value":"platform"}]`,
		ParamRunID:             "",
		ParamClient:            "auto",
	}
	for name, w := range want {
		p := doc.Parameters[name]
		if p.Type != "String" {
			t.Errorf("%s: type %q, want String", name, p.Type)
		}
		if p.Default != w {
			t.Errorf("%s: default %#v, want %q", name, p.Default, w)
		}
		if err := checkParameterValue(p, w); err != nil {
			t.Errorf("%s: its own default is refused: %v", name, err)
		}
	}
	// An empty default must still be emitted: a parameter without one is required.
	b, _ := MarshalIndent(doc)
	if !bytes.Contains(b, []byte(`"default": ""`)) {
		t.Errorf("RunId's empty default is missing from the JSON")
	}
	// No tags and no mounts are valid values too.
	s := exampleLinuxSnapshot()
	s.Tags, s.Mounts = nil, nil
	doc = mustLinuxSnapshotCommand(t, s)
	if doc.Parameters[ParamSnapshotTags].Default != "[]" || doc.Parameters[ParamMounts].Default != "" {
		t.Errorf("empty defaults: tags %#v, mounts %#v", doc.Parameters[ParamSnapshotTags].Default, doc.Parameters[ParamMounts].Default)
	}
}

// Every parameter the script reads is constrained: a pattern, or a fixed list.
func TestLinuxSnapshotParametersHavePatterns(t *testing.T) {
	doc := mustLinuxSnapshotCommand(t, exampleLinuxSnapshot())
	for name, p := range doc.Parameters {
		if p.AllowedPattern == "" && len(p.AllowedValues) == 0 {
			t.Errorf("%s has neither allowedPattern nor allowedValues", name)
		}
		if p.AllowedPattern != "" {
			if _, err := regexp.Compile(p.AllowedPattern); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			if !strings.HasPrefix(p.AllowedPattern, "^") || !strings.HasSuffix(p.AllowedPattern, "$") {
				t.Errorf("%s: pattern %q is not anchored", name, p.AllowedPattern)
			}
		}
		for _, v := range p.AllowedValues {
			if !regexp.MustCompile(`^[a-z]+$`).MatchString(v) {
				t.Errorf("%s: allowed value %q is not a plain word", name, v)
			}
		}
	}
}

// The header pastes values inside single quotes: no pattern may admit a
// single quote, and none admits the other ways out of a shell word either.
func TestLinuxSnapshotPatternsRejectShellMetacharacters(t *testing.T) {
	doc := mustLinuxSnapshotCommand(t, exampleLinuxSnapshot())
	valid := map[string]string{
		ParamPolicyName:       "mysql-fleet",
		ParamMounts:           "/data",
		ParamMaxFreezeSeconds: "10",
		ParamSnapshotTags:     `[{"Key":"k","Value":"v"}]`,
		ParamRunID:            "0f0e0d0c-0b0a-4909-8807-060504030201",
		ParamApps:             "mysql:/etc/ssm-backup/mysql.cnf:5:1 postgresql:backup:/etc/ssm-backup/pg_service.conf custom:/usr/local/sbin/pause:/usr/local/sbin/resume:30",
	}
	hostile := []string{"'", "\n", "$(", "`", `\`, "\r", "\x00", "'; touch /tmp/x; '", "$HOME", "${IFS}", ";", "|", "&", ">", "<", "*", "?", "~", "\t"}
	for name, p := range doc.Parameters {
		if p.AllowedPattern == "" {
			continue
		}
		base, ok := valid[name]
		if !ok {
			t.Fatalf("no valid example for %s", name)
		}
		re := regexp.MustCompile(p.AllowedPattern)
		if !re.MatchString(base) {
			t.Fatalf("%s: the valid example %q is refused", name, base)
		}
		for _, h := range hostile {
			// Everywhere in the value: front, end, inside a quoted JSON string.
			cands := []string{h, base + h, h + base, base[:len(base)/2] + h + base[len(base)/2:]}
			if name == ParamSnapshotTags {
				cands = append(cands, `[{"Key":"k`+h+`","Value":"v"}]`, `[{"Key":"k","Value":"v`+h+`"}]`)
			}
			if name == ParamMounts {
				cands = append(cands, "/data "+h, "/data/"+h+"x")
			}
			if name == ParamApps {
				cands = append(cands, "mysql:/etc/"+h+":5:1", "postgresql:"+h+":", "custom:/bin/true:"+h+":1", "custom:/bin/"+h+"::1", base+" "+h)
			}
			for _, c := range cands {
				if re.MatchString(c) {
					t.Errorf("%s: pattern %s admits %q", name, p.AllowedPattern, c)
				}
			}
		}
	}
	for _, name := range []string{ParamConsistency, ParamExcludeBootVolume, ParamClient} {
		for _, v := range doc.Parameters[name].AllowedValues {
			if strings.ContainsAny(v, "'\n$`\\") {
				t.Errorf("%s: allowed value %q", name, v)
			}
		}
	}
}

func TestLinuxSnapshotPatternsAcceptAndRefuse(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		ok      []string
		bad     []string
	}{
		{PatternPolicyName, []string{"a", "mysql-fleet", strings.Repeat("a", 40)}, []string{"", "Mysql", "a_b", strings.Repeat("a", 41)}},
		{PatternMounts, []string{"", "/", "/data", "/var/lib/mysql /var/log/mysql", "/a.b/c_d-e"}, []string{"data", "/data ", " /data", "/data  /x", "/data,/x", "/da ta x", "-f"}},
		{PatternMaxFreezeSeconds, []string{"1", "9", "10", "59", "60"}, []string{"0", "61", "01", "100", "-1", " 1", "1s"}},
		{PatternRunID, []string{"", "0f0e0d0c-0b0a-4909-8807-060504030201"}, []string{"a b", strings.Repeat("a", 65), "x/y"}},
		{PatternApps, []string{
			"",
			"mysql::5:1",
			"mariadb:/etc/ssm-backup/my.cnf:60:0",
			"postgresql::",
			"postgresql:backup:",
			"postgresql:back_up.1-x:/etc/ssm-backup/pg_service.conf",
			"custom:/usr/local/sbin/pause::1",
			"custom:/a:/b:3600",
			"custom:/a:/b:999",
			"custom:/a:/b:2500",
			"mysql::5:1 postgresql:: custom:/a:/b:30",
			"postgresql:" + strings.Repeat("s", 64) + ":",
		}, []string{
			" ", "mysql", "mysql::5:1 ", " mysql::5:1", "mysql::5:1  postgresql::", "mysql::5:1,postgresql::",
			"mysql::0:1", "mysql::61:1", "mysql::05:1", "mysql::5:2", "mysql::5", "mysql:etc/my.cnf:5:1", "mysql::5:1:x",
			"postgres::", "postgresql:", "postgresql::/etc/pg_service.conf", "postgresql:a b:", "postgresql:" + strings.Repeat("s", 65) + ":",
			"custom:::30", "custom:/a:/b:0", "custom:/a:/b:3601", "custom:/a:/b:", "custom:/a:b:30", "custom:/a b:/c:30",
			"sqlserver::", "MYSQL::5:1",
		}},
		{PatternSnapshotTags, []string{
			`[]`,
			`[{"Key":"k","Value":""}]`,
			`[{"Key":"a b:c/d=e+f@g.h_i-j","Value":"v 1"},{"Key":"x","Value":"y"}]`,
			`[{"Key":"` + strings.Repeat("k", 128) + `","Value":"` + strings.Repeat("v", 256) + `"}]`,
		}, []string{
			``, `[`, `[{}]`, `[{"Key":"","Value":"v"}]`, `[{"Key":"k","Value":"v"},]`, `[{"Key":"k","Value":"v"}{"Key":"k","Value":"v"}]`,
			`[{"Value":"v","Key":"k"}]`, `[{"Key": "k","Value":"v"}]`, `[{"Key":"k","Value":"v","X":"y"}]`,
			`[{"Key":"` + strings.Repeat("k", 129) + `","Value":"v"}]`, `[{"Key":"k","Value":"` + strings.Repeat("v", 257) + `"}]`,
			`[{"Key":"k\"","Value":"v"}]`, `[{"Key":"é","Value":"v"}]`,
		}},
	} {
		re := regexp.MustCompile(tc.pattern)
		for _, v := range tc.ok {
			if !re.MatchString(v) {
				t.Errorf("%s refuses %q", tc.pattern, v)
			}
		}
		for _, v := range tc.bad {
			if re.MatchString(v) {
				t.Errorf("%s admits %q", tc.pattern, v)
			}
		}
	}
}

// The header is generated from the fixed list: one assignment per parameter,
// placeholders only, right after the script's #! line.
func TestLinuxSnapshotRunCommandHeader(t *testing.T) {
	doc := mustLinuxSnapshotCommand(t, exampleLinuxSnapshot())
	rc := doc.MainSteps[0].Inputs.RunCommand
	script := strings.Split(strings.TrimSuffix(string(LinuxSnapshotScript()), "\n"), "\n")
	if rc[0] != "#!/bin/bash" || rc[0] != script[0] {
		t.Fatalf("runCommand[0] = %q, want the script's #! line", rc[0])
	}
	header := rc[1 : 2+len(linuxSnapshotInputs)]
	if !strings.HasPrefix(header[0], "# ") {
		t.Errorf("header comment = %q", header[0])
	}
	assign := regexp.MustCompile(`^(SSMB_[A-Z_]+)='\{\{ ([A-Za-z]+) \}\}'$`)
	used := map[string]int{}
	for _, line := range header[1:] {
		m := assign.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("header line %q is not VAR='{{ Param }}'", line)
			continue
		}
		if _, ok := doc.Parameters[m[2]]; !ok {
			t.Errorf("header uses undeclared parameter %s", m[2])
		}
		used[m[2]]++
		if !strings.Contains(string(LinuxSnapshotScript()), `"${`+m[1]+`:=`) {
			t.Errorf("the script does not read %s", m[1])
		}
	}
	for name := range doc.Parameters {
		if used[name] != 1 {
			t.Errorf("parameter %s assigned %d times in the header, want 1", name, used[name])
		}
	}
	// After the header comes the script without its full-line comments and
	// blank lines (shellcheck directives kept), every other line unchanged
	// and in order.
	var code []string
	for _, line := range script[1:] {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || (strings.HasPrefix(trimmed, "#") && !strings.HasPrefix(trimmed, "# shellcheck")) {
			continue
		}
		code = append(code, line)
	}
	if len(code) < len(script)/2 {
		t.Fatalf("only %d of the script's %d lines are code; the comment filter is too eager", len(code), len(script))
	}
	if diff := cmp.Diff(code, rc[2+len(linuxSnapshotInputs):]); diff != "" {
		t.Errorf("runCommand after the header is not the script's code (-script +runCommand):\n%s", diff)
	}
	// Placeholders appear in the header only, and never hold a user value.
	for i, line := range rc {
		if strings.Contains(line, "{{") && (i < 2 || i >= 2+len(linuxSnapshotInputs)) {
			t.Errorf("runCommand[%d] outside the header holds a placeholder: %q", i, line)
		}
		for _, v := range []string{"mysql-fleet", "/srv/db-data", "CostCenter", "platform"} {
			if strings.Contains(line, v) {
				t.Errorf("runCommand[%d] holds the user value %q: %q", i, v, line)
			}
		}
	}
}

func TestLinuxSnapshotDeterministic(t *testing.T) {
	first, err := MarshalIndent(mustLinuxSnapshotCommand(t, exampleLinuxSnapshot()))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		again, _ := MarshalIndent(mustLinuxSnapshotCommand(t, exampleLinuxSnapshot()))
		if !bytes.Equal(first, again) {
			t.Fatalf("run %d differs:\n%s", i, cmp.Diff(string(first), string(again)))
		}
	}
}

func TestLinuxSnapshotCommandRejectsInvalid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*LinuxSnapshot)
		want   string
	}{
		{"policy name", func(s *LinuxSnapshot) { s.PolicyName = "My Policy" }, "PolicyName"},
		{"empty policy name", func(s *LinuxSnapshot) { s.PolicyName = "" }, "PolicyName"},
		{"consistency", func(s *LinuxSnapshot) { s.Consistency = "stopped" }, "Consistency"},
		{"application without apps", func(s *LinuxSnapshot) { s.Consistency = ConsistencyApplication }, "at least one application"},
		{"apps without application", func(s *LinuxSnapshot) { s.Apps = []LinuxApp{{Type: AppPostgreSQL}} }, "with consistency \"application\" only"},
		{"app type", func(s *LinuxSnapshot) {
			s.Consistency, s.Apps = ConsistencyApplication, []LinuxApp{{Type: "sqlserver"}}
		}, "type must be"},
		{"lock wait 0", func(s *LinuxSnapshot) {
			s.Consistency, s.Apps = ConsistencyApplication, []LinuxApp{{Type: AppMySQL}}
		}, "LockWaitSeconds"},
		{"defaults file with quote", func(s *LinuxSnapshot) {
			s.Consistency, s.Apps = ConsistencyApplication, []LinuxApp{{Type: AppMySQL, DefaultsFile: "/etc/my'.cnf", LockWaitSeconds: 5}}
		}, "DefaultsFile"},
		{"defaults file relative", func(s *LinuxSnapshot) {
			s.Consistency, s.Apps = ConsistencyApplication, []LinuxApp{{Type: AppMariaDB, DefaultsFile: "my.cnf", LockWaitSeconds: 5}}
		}, "DefaultsFile"},
		{"mysql with a hook", func(s *LinuxSnapshot) {
			s.Consistency, s.Apps = ConsistencyApplication, []LinuxApp{{Type: AppMySQL, LockWaitSeconds: 5, Pre: "/bin/true"}}
		}, "only DefaultsFile"},
		{"service with space", func(s *LinuxSnapshot) {
			s.Consistency, s.Apps = ConsistencyApplication, []LinuxApp{{Type: AppPostgreSQL, Service: "a b"}}
		}, "Service"},
		{"service file alone", func(s *LinuxSnapshot) {
			s.Consistency, s.Apps = ConsistencyApplication, []LinuxApp{{Type: AppPostgreSQL, ServiceFile: "/etc/pg_service.conf"}}
		}, "needs Service"},
		{"custom without pre", func(s *LinuxSnapshot) {
			s.Consistency, s.Apps = ConsistencyApplication, []LinuxApp{{Type: AppCustom, TimeoutSeconds: 30}}
		}, "Pre"},
		{"custom post with dollar", func(s *LinuxSnapshot) {
			s.Consistency, s.Apps = ConsistencyApplication, []LinuxApp{{Type: AppCustom, Pre: "/bin/true", Post: "/bin/$(reboot)", TimeoutSeconds: 30}}
		}, "Post"},
		{"custom timeout", func(s *LinuxSnapshot) {
			s.Consistency, s.Apps = ConsistencyApplication, []LinuxApp{{Type: AppCustom, Pre: "/bin/true", TimeoutSeconds: 3601}}
		}, "TimeoutSeconds"},
		{"too many apps", func(s *LinuxSnapshot) {
			s.Consistency = ConsistencyApplication
			for i := 0; i <= MaxApps; i++ {
				s.Apps = append(s.Apps, LinuxApp{Type: AppPostgreSQL})
			}
		}, "at most"},
		{"too many mysql", func(s *LinuxSnapshot) {
			s.Consistency = ConsistencyApplication
			for i := 0; i <= MaxMySQLApps; i++ {
				s.Apps = append(s.Apps, LinuxApp{Type: AppMySQL, LockWaitSeconds: 5})
			}
		}, "at most 3"},
		{"apps too slow", func(s *LinuxSnapshot) {
			s.Consistency = ConsistencyApplication
			for i := 0; i < 3; i++ {
				s.Apps = append(s.Apps, LinuxApp{Type: AppCustom, Pre: "/bin/true", TimeoutSeconds: 3600})
			}
		}, "may take"},
		{"timeout short of the apps", func(s *LinuxSnapshot) {
			s.Consistency, s.Apps = ConsistencyApplication, []LinuxApp{{Type: AppCustom, Pre: "/bin/true", TimeoutSeconds: 600}}
		}, "TimeoutSeconds"},
		{"relative mount", func(s *LinuxSnapshot) { s.Mounts = []string{"data"} }, "Mounts"},
		{"mount with space", func(s *LinuxSnapshot) { s.Mounts = []string{"/my data"} }, "Mounts"},
		{"mount with quote", func(s *LinuxSnapshot) { s.Mounts = []string{"/data'"} }, "Mounts"},
		{"budget zero", func(s *LinuxSnapshot) { s.MaxFreezeSeconds = 0 }, "MaxFreezeSeconds"},
		{"budget 61", func(s *LinuxSnapshot) { s.MaxFreezeSeconds = 61 }, "MaxFreezeSeconds"},
		{"timeout too short", func(s *LinuxSnapshot) { s.TimeoutSeconds = 20 }, "TimeoutSeconds"},
		{"timeout too long", func(s *LinuxSnapshot) { s.TimeoutSeconds = MaxStepTimeout + 1 }, "TimeoutSeconds"},
		{"tag key quote", func(s *LinuxSnapshot) { s.Tags = []Tag{{"a'b", "v"}} }, "Tags"},
		{"tag value dollar", func(s *LinuxSnapshot) { s.Tags = []Tag{{"k", "$(reboot)"}} }, "Tags"},
		{"tag value newline", func(s *LinuxSnapshot) { s.Tags = []Tag{{"k", "a\nb"}} }, "Tags"},
		{"empty tag key", func(s *LinuxSnapshot) { s.Tags = []Tag{{"", "v"}} }, "Tags"},
		{"reserved aws", func(s *LinuxSnapshot) { s.Tags = []Tag{{"aws:x", "v"}} }, "reserved"},
		{"reserved own", func(s *LinuxSnapshot) { s.Tags = []Tag{{"ssm-backup:policy", "v"}} }, "reserved"},
		{"unsorted", func(s *LinuxSnapshot) { s.Tags = []Tag{{"b", "1"}, {"a", "2"}} }, "sorted"},
		{"duplicate", func(s *LinuxSnapshot) { s.Tags = []Tag{{"a", "1"}, {"a", "2"}} }, "twice"},
		{"too many", func(s *LinuxSnapshot) {
			s.Tags = nil
			for i := 0; i <= MaxSnapshotTags; i++ {
				s.Tags = append(s.Tags, Tag{Key: "k" + string(rune('A'+i/26)) + string(rune('a'+i%26)), Value: "v"})
			}
		}, "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := exampleLinuxSnapshot()
			tc.change(&s)
			_, err := LinuxSnapshotCommand(s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
	// The limits themselves are fine.
	s := exampleLinuxSnapshot()
	s.MaxFreezeSeconds, s.TimeoutSeconds = 60, 180
	s.Tags = nil
	for i := 0; i < MaxSnapshotTags; i++ {
		s.Tags = append(s.Tags, Tag{Key: "k" + string(rune('A'+i/26)) + string(rune('a'+i%26)), Value: strings.Repeat("v", 256)})
	}
	if _, err := LinuxSnapshotCommand(s); err != nil {
		t.Errorf("limits refused: %v", err)
	}
}

func TestLinuxSnapshotScriptEmbedded(t *testing.T) {
	onDisk, err := os.ReadFile("scripts/linux-snapshot.sh")
	if err != nil {
		t.Fatal(err)
	}
	got := LinuxSnapshotScript()
	if !bytes.Equal(got, onDisk) {
		t.Fatalf("embedded script differs from scripts/linux-snapshot.sh")
	}
	got[0] = 'X'
	if LinuxSnapshotScript()[0] != '#' {
		t.Errorf("LinuxSnapshotScript returned the embedded bytes themselves; a caller changed them")
	}
	for _, stage := range []string{"prepare_apps() {", "quiesce_apps() {", "resume_apps() {"} {
		if !bytes.Contains(onDisk, []byte(stage)) {
			t.Errorf("the script lacks the stage %s", stage)
		}
	}
	if bytes.Contains(onDisk, []byte("\r")) || bytes.Contains(onDisk, []byte("\t")) {
		t.Errorf("the script holds CR or tab characters; it is shown line by line in the JSON")
	}
}

func exampleApplicationSnapshot() LinuxSnapshot {
	s := exampleLinuxSnapshot()
	s.Consistency = ConsistencyApplication
	s.Apps = []LinuxApp{
		{Type: AppMySQL, DefaultsFile: "/etc/ssm-backup/mysql.cnf", LockWaitSeconds: 5, PreFlush: true},
		{Type: AppPostgreSQL},
		{Type: AppPostgreSQL, Service: "backup", ServiceFile: "/etc/ssm-backup/pg_service.conf"},
		{Type: AppCustom, Pre: "/usr/local/sbin/pause", Post: "/usr/local/sbin/resume", TimeoutSeconds: 30},
		{Type: AppMariaDB, LockWaitSeconds: 60},
		{Type: AppCustom, Pre: "/usr/local/sbin/flush", TimeoutSeconds: 1},
	}
	s.TimeoutSeconds = 2*s.MaxFreezeSeconds + stepSlackSeconds + s.AppSeconds()
	return s
}

// The Apps value is the compact spec the script parses, in the listed order.
func TestLinuxSnapshotAppsValue(t *testing.T) {
	s := exampleApplicationSnapshot()
	want := "mysql:/etc/ssm-backup/mysql.cnf:5:1 postgresql:: postgresql:backup:/etc/ssm-backup/pg_service.conf " +
		"custom:/usr/local/sbin/pause:/usr/local/sbin/resume:30 mariadb::60:0 custom:/usr/local/sbin/flush::1"
	params, err := LinuxSnapshotParameters(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(params[ParamApps], "|"); got != want {
		t.Errorf("Apps = %q, want %q", got, want)
	}
	if got := params[ParamConsistency]; len(got) != 1 || got[0] != ConsistencyApplication {
		t.Errorf("Consistency = %q", got)
	}
	doc := mustLinuxSnapshotCommand(t, s)
	if err := checkParameterValue(doc.Parameters[ParamApps], want); err != nil {
		t.Errorf("the document refuses its own Apps: %v", err)
	}
	if doc.Parameters[ParamApps].Default != want {
		t.Errorf("Apps default = %#v", doc.Parameters[ParamApps].Default)
	}
	// The timeout covers the applications' steps outside the budget.
	wantSeconds := (mysqlConnectSeconds + 5 + 2 + mysqlReleaseSeconds + 2) + 2*(pgCheckpointSeconds+killAfterSeconds) +
		(30 + killAfterSeconds) + (mysqlConnectSeconds + 60 + 2 + mysqlReleaseSeconds + 2) + (1 + killAfterSeconds)
	if got := s.AppSeconds(); got != wantSeconds {
		t.Errorf("AppSeconds = %d, want %d", got, wantSeconds)
	}
	s.TimeoutSeconds--
	if _, err := LinuxSnapshotCommand(s); err == nil || !strings.Contains(err.Error(), "TimeoutSeconds") {
		t.Errorf("a timeout 1 s short of the apps' steps: err = %v", err)
	}
}

// The shared document takes no application by default, and accepts every
// level.
func TestSharedLinuxSnapshotDefaults(t *testing.T) {
	doc, err := SharedLinuxSnapshotCommand("shared")
	if err != nil {
		t.Fatal(err)
	}
	if d := doc.Parameters[ParamApps].Default; d != "" {
		t.Errorf("Apps default %#v, want \"\" (no application)", d)
	}
	if diff := cmp.Diff([]string{"crash", "filesystem", "application"}, doc.Parameters[ParamConsistency].AllowedValues); diff != "" {
		t.Errorf("Consistency allowedValues (-want +got):\n%s", diff)
	}
	if doc.Parameters[ParamConsistency].Default != nil {
		t.Errorf("Consistency has a default; each policy must pass its own")
	}
	if got, _ := strconv.Atoi(doc.MainSteps[0].Inputs.TimeoutSeconds); got != SharedLinuxSnapshotTimeoutSeconds || got < 2*60+stepSlackSeconds+MaxAppSeconds {
		t.Errorf("shared step timeout %d does not cover the longest budget and MaxAppSeconds", got)
	}
}

// SSM refuses a document whose content exceeds 64 KB. The shared document is
// the biggest one; it must stay well below, so that the script can grow.
func TestSharedLinuxSnapshotDocumentSize(t *testing.T) {
	doc, err := SharedLinuxSnapshotCommand("ssm-backup: consistent EBS snapshots of a Linux instance's volumes, taken on the instance. Run by the backup runbook of each Linux policy, which passes the policy's settings.")
	if err != nil {
		t.Fatal(err)
	}
	checkDocumentSize(t, "shared document", doc, 12<<10)
}

// checkDocumentSize fails when the document, as compact JSON, comes closer
// than room to SSM's 64 KiB limit, or exceeds it as emitted (indented).
func checkDocumentSize(t *testing.T, what string, doc CommandDocument, room int) {
	t.Helper()
	compact, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	indented, err := MarshalIndent(doc)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 64 << 10
	t.Logf("%s: %d bytes compact, %d indented (limit %d)", what, len(compact), len(indented), limit)
	if len(compact) > limit-room {
		t.Errorf("%s is %d bytes of compact JSON; keep it under %d (SSM's %d less %d of room)", what, len(compact), limit-room, limit, room)
	}
	if len(indented) > limit {
		t.Errorf("%s is %d bytes as emitted (indented); SSM's limit is %d", what, len(indented), limit)
	}
}

// The Go side's view of the script's time bounds (AppSeconds) must match
// the script's own constants.
func TestLinuxSnapshotScriptBounds(t *testing.T) {
	script := string(LinuxSnapshotScript())
	for name, want := range map[string]int{
		"MYSQL_CONNECT_SECONDS": mysqlConnectSeconds,
		"MYSQL_RELEASE_SECONDS": mysqlReleaseSeconds,
		"PG_CHECKPOINT_SECONDS": pgCheckpointSeconds,
		"KILL_AFTER_SECONDS":    killAfterSeconds,
		"MAX_APPS":              MaxApps,
		"MAX_MYSQL_APPS":        MaxMySQLApps,
		"MAX_USER_TAGS":         MaxSnapshotTags,
	} {
		m := regexp.MustCompile(`\b` + name + `=([0-9]+)\b`).FindStringSubmatch(script)
		if m == nil {
			t.Errorf("the script does not set %s", name)
			continue
		}
		if got, _ := strconv.Atoi(m[1]); got != want {
			t.Errorf("the script's %s is %d, the Go side assumes %d", name, got, want)
		}
	}
}
