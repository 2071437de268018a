package conformance

import (
	"strings"
	"testing"
)

const validCommandDoc = `{
  "schemaVersion": "2.2",
  "description": "Example",
  "parameters": {
    "RunId": {"type": "String", "description": "run", "allowedPattern": "^[a-z0-9-]{1,64}$", "default": "run-1"},
    "Mode": {"type": "String", "allowedValues": ["fast", "safe"], "default": "safe"}
  },
  "mainSteps": [{
    "action": "aws:runShellScript",
    "name": "snapshot",
    "precondition": {"StringEquals": ["platformType", "Linux"]},
    "inputs": {"timeoutSeconds": "600", "runCommand": ["run --id {{ RunId }} --mode {{Mode}}"]}
  }]
}`

func decode(t *testing.T, s string) any {
	t.Helper()
	v, err := DecodeJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCheckCommandDocumentAcceptsDocumentedForm(t *testing.T) {
	if ps := CheckCommandDocument(decode(t, validCommandDoc)); len(ps) != 0 {
		t.Fatalf("valid document rejected: %v", ps)
	}
}

// TestCheckCommandDocumentRejects is the negative control: every rule can fail.
func TestCheckCommandDocumentRejects(t *testing.T) {
	cases := []struct {
		name, from, to, want string
	}{
		{"schema version", `"schemaVersion": "2.2"`, `"schemaVersion": "0.3"`, "schemaVersion"},
		{"unknown top level", `"description": "Example"`, `"description": "Example", "outputs": []`, "unknown top-level element"},
		{"parameter type", `"type": "String", "allowedValues"`, `"type": "Text", "allowedValues"`, "parameters.Mode.type"},
		{"pattern not RE2", `^[a-z0-9-]{1,64}$`, `^(?!x)[a-z]$`, "is not RE2 syntax"},
		{"default outside pattern", `"default": "run-1"`, `"default": "Run 1"`, "does not match the parameter's own allowedPattern"},
		{"default not allowed", `"default": "safe"`, `"default": "slow"`, "not among the parameter's allowedValues"},
		{"unknown action", `"action": "aws:runShellScript"`, `"action": "aws:runBash"`, "not a Command document plugin"},
		{"step name", `"name": "snapshot"`, `"name": "snap shot"`, "step name"},
		{"timeout above agent max", `"timeoutSeconds": "600"`, `"timeoutSeconds": "172801"`, "outside 5..172800"},
		{"timeout below agent min", `"timeoutSeconds": "600"`, `"timeoutSeconds": 4`, "outside 5..172800"},
		{"timeout not a number", `"timeoutSeconds": "600"`, `"timeoutSeconds": "10m"`, "whole number"},
		{"empty runCommand", `"runCommand": ["run --id {{ RunId }} --mode {{Mode}}"]`, `"runCommand": []`, "must not be empty"},
		{"runCommand not list", `"runCommand": ["run --id {{ RunId }} --mode {{Mode}}"]`, `"runCommand": [1]`, "must be a string"},
		{"undeclared placeholder", `{{ RunId }}`, `{{ RunId }} {{ Other }}`, "{{ Other }} is not a declared parameter"},
		{"unused parameter", `--mode {{Mode}}`, `--mode safe`, "parameters.Mode: declared but never referenced"},
		{"precondition platform", `["platformType", "Linux"]`, `["platformType", "Windows"]`, "does not run on Windows"},
		{"precondition operand", `["platformType", "Linux"]`, `["platformName", "Linux"]`, `must be "platformType"`},
		{"unknown input", `"timeoutSeconds": "600",`, `"timeoutSeconds": "600", "shell": "bash",`, `unknown input "shell"`},
		{"unknown step field", `"name": "snapshot",`, `"name": "snapshot", "onFailure": "Abort",`, `unknown step field "onFailure"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(validCommandDoc, c.from) {
				t.Fatalf("fixture lacks %q", c.from)
			}
			doc := decode(t, strings.Replace(validCommandDoc, c.from, c.to, 1))
			ps := CheckCommandDocument(doc)
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

func TestDuplicateStepNames(t *testing.T) {
	doc := decode(t, `{"schemaVersion":"2.2","mainSteps":[
	  {"action":"aws:runShellScript","name":"a","inputs":{"runCommand":["true"]}},
	  {"action":"aws:runShellScript","name":"a","inputs":{"runCommand":["true"]}}]}`)
	ps := CheckCommandDocument(doc)
	if len(ps) != 1 || !strings.Contains(ps[0].Message, "not unique") {
		t.Fatalf("got %v", ps)
	}
}

func TestPlaceholders(t *testing.T) {
	got := Placeholders("a {{ X }} b {{Y}} {{  Z.z-1  }} {{}} {not}")
	want := []string{"X", "Y", "Z.z-1", ""}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Placeholders = %q, want %q", got, want)
	}
	counts := RunCommandPlaceholders(decode(t, validCommandDoc))
	if counts["RunId"] != 1 || counts["Mode"] != 1 || len(counts) != 2 {
		t.Fatalf("RunCommandPlaceholders = %v", counts)
	}
}
