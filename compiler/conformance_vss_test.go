package compiler_test

// Checks the runbooks of Windows VSS policies against the parameters of
// AWS's documents they run (AWSEC2-CreateVssSnapshot and
// AWS-ConfigureAWSPackage, as the EC2 User Guide's "Parameters for
// Systems Manager VSS snapshot documents" and the Distributor reference
// list them), and the order of their steps: every prerequisite is checked
// before the VSS command, and the snapshots are verified after it.

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/compiler/internal/conformance"
	"github.com/ssm-backup/ssm-backup/documents"
)

// awsDocumentParameters are the parameters of AWS's documents, each with
// the values it accepts (nil: any string).
var awsDocumentParameters = map[string]map[string][]string{
	documents.CreateVSSSnapshotDocument: {
		"AmiName":               nil,
		"CollectDiagnosticLogs": {"True", "False"},
		"CopyOnly":              {"True", "False"},
		"CreateAmi":             {"True", "False"},
		"description":           nil,
		"ExcludeBootVolume":     {"True", "False"},
		"executionTimeout":      nil,
		"NoWriters":             {"True", "False"},
		"SaveVssMetadata":       {"True", "False"},
		"tags":                  nil,
	},
	documents.ConfigurePackageDocument: {
		"action":              {"Install", "Uninstall"},
		"additionalArguments": nil,
		"installationType":    {"Uninstall and reinstall", "In-place update"},
		"name":                nil,
		"version":             nil,
	},
}

// vssTagsRE is the tags parameter's format, Key=k,Value=v pairs joined by ;
// after {{ variables }} are replaced by sample values.
var vssTagsRE = regexp.MustCompile(`^Key=[A-Za-z0-9 _.:/+@-]+,Value=[A-Za-z0-9 _.:/+@-]*(;Key=[A-Za-z0-9 _.:/+@-]+,Value=[A-Za-z0-9 _.:/+@-]*)*$`)

func isWindowsVSSRunbook(runbook any) bool {
	for _, s := range confSteps(runbook) {
		if in, _ := s["inputs"].(map[string]any); s["action"] == "aws:runCommand" && in["DocumentName"] == documents.CreateVSSSnapshotDocument {
			return true
		}
	}
	return false
}

func windowsVSSRunbookProblems(runbook any) []string {
	var out []string
	samples := runbookSamples(runbook)
	order := map[string]int{}
	for i, s := range confSteps(runbook) {
		name, _ := s["name"].(string)
		in, _ := s["inputs"].(map[string]any)
		switch s["action"] {
		case "aws:executeScript":
			if strings.Contains(in["Script"].(string), "windows_vss_preflight.py") {
				order["preflight"] = i + 1
			}
		case "aws:assertAwsResourceProperty":
			if in["Api"] == "DescribeSnapshots" {
				order["verify"] = i + 1
			}
			if in["Api"] == "DescribeInstanceInformation" {
				order["agent"] = i + 1
			}
		case "aws:runCommand":
			doc, _ := in["DocumentName"].(string)
			known, ok := awsDocumentParameters[doc]
			if !ok {
				out = append(out, name+": runs "+doc+", which a Windows VSS runbook does not use")
				continue
			}
			if doc == documents.CreateVSSSnapshotDocument {
				order["vss"] = i + 1
			} else {
				order["install"] = i + 1
			}
			params, _ := in["Parameters"].(map[string]any)
			keys := make([]string, 0, len(params))
			for k := range params {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				allowed, declared := known[k]
				if !declared {
					out = append(out, name+": passes "+k+", which "+doc+" does not declare")
					continue
				}
				values, _ := params[k].([]any)
				if len(values) != 1 {
					out = append(out, name+": "+k+" must be one string")
					continue
				}
				v, _ := values[0].(string)
				resolved, err := confSubstituteVariables(v, samples)
				if err != nil {
					out = append(out, name+": "+k+": "+err.Error())
					continue
				}
				r := resolved.(string)
				if allowed != nil && !contains(allowed, r) {
					out = append(out, name+": "+k+" = "+r+", want one of "+strings.Join(allowed, ", "))
				}
				if k == "tags" {
					if !vssTagsRE.MatchString(r) {
						out = append(out, name+": tags "+r+" is not Key=k,Value=v;...")
					}
					for _, reserved := range documents.VSSReservedTagKeys {
						if strings.Contains(";"+r, ";Key="+reserved+",") {
							out = append(out, name+": tags set "+reserved+", which "+doc+" reserves")
						}
					}
				}
			}
		}
	}
	for _, k := range []string{"agent", "preflight", "vss", "verify"} {
		if order[k] == 0 {
			out = append(out, "the runbook has no "+k+" step")
		}
	}
	if order["preflight"] > order["vss"] || order["agent"] > order["vss"] {
		out = append(out, "a prerequisite is checked after the VSS command")
	}
	if order["install"] != 0 && (order["install"] < order["preflight"] || order["install"] > order["vss"]) {
		out = append(out, "the package is installed outside preflight → VSS command")
	}
	if order["verify"] < order["vss"] {
		out = append(out, "the snapshots are verified before the VSS command")
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// TestWindowsVSSRunbookNegativeControl proves the checks can fail.
func TestWindowsVSSRunbookNegativeControl(t *testing.T) {
	set := goldenSet(t, "windows-vss-fileserver")
	paths := set.PathsWithSuffix("/automation-runbook.json")
	if len(paths) != 1 {
		t.Fatalf("want one runbook, got %v", paths)
	}
	decode := func() any {
		var v any
		if err := json.Unmarshal(set.Files[paths[0]], &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if p := windowsVSSRunbookProblems(decode()); len(p) > 0 {
		t.Fatalf("the golden runbook should be clean: %v", p)
	}
	vss := func(steps []map[string]any) map[string]any {
		for _, s := range steps {
			if in, _ := s["inputs"].(map[string]any); in["DocumentName"] == documents.CreateVSSSnapshotDocument {
				return in["Parameters"].(map[string]any)
			}
		}
		t.Fatal("no VSS step")
		return nil
	}
	for _, m := range []struct {
		name   string
		mutate func(steps []map[string]any) []map[string]any
		want   string
	}{
		{"unknown parameter", func(s []map[string]any) []map[string]any { vss(s)["Writers"] = []any{"True"}; return s }, "does not declare"},
		{"boolean spelt lower case", func(s []map[string]any) []map[string]any { vss(s)["CopyOnly"] = []any{"true"}; return s }, "want one of"},
		{"reserved tag", func(s []map[string]any) []map[string]any {
			vss(s)["tags"] = []any{"Key=AppConsistent,Value=true"}
			return s
		}, "reserves"},
		{"preflight after the command", func(s []map[string]any) []map[string]any {
			for i, st := range s {
				if st["action"] == "aws:executeScript" {
					return append(append(append([]map[string]any{}, s[:i]...), s[i+1:]...), st)
				}
			}
			return s
		}, "after the VSS command"},
	} {
		t.Run(m.name, func(t *testing.T) {
			doc := decode().(map[string]any)
			steps := m.mutate(confSteps(doc))
			list := make([]any, len(steps))
			for i, s := range steps {
				list[i] = s
			}
			doc["mainSteps"] = list
			got := strings.Join(windowsVSSRunbookProblems(doc), "\n")
			if !strings.Contains(got, m.want) {
				t.Errorf("mutation not reported (want %q): %s", m.want, got)
			}
		})
	}
}

// isVSSTagging tells the one CreateTags grant an instance role may hold
// without ec2:CreateAction: AWSEC2-CreateVssSnapshot adds AppConsistent and
// Device to the snapshots it created once VSS reports success. The grant
// must be limited to exactly those tag keys, to snapshots, and to this
// policy's snapshots.
func isVSSTagging(path string, st map[string]any) bool {
	actions := conformance.StringList(st["Action"])
	if len(actions) != 1 || actions[0] != "ec2:CreateTags" {
		return false
	}
	for _, r := range conformance.StringList(st["Resource"]) {
		if !strings.HasSuffix(r, ":snapshot/*") {
			return false
		}
	}
	cond, _ := st["Condition"].(map[string]any)
	keys, _ := cond["ForAllValues:StringEquals"].(map[string]any)
	tagKeys := conformance.StringList(keys["aws:TagKeys"])
	if len(tagKeys) == 0 {
		return false
	}
	for _, k := range tagKeys {
		if k != "AppConsistent" && k != "Device" {
			return false
		}
	}
	eq, _ := cond["StringEquals"].(map[string]any)
	owner := conformance.StringList(eq["ec2:ResourceTag/"+compiler.TagPolicy])
	return len(owner) == 1 && owner[0] == confPathPolicy(path)
}

// TestVSSTaggingNegativeControl proves the exception stays narrow.
func TestVSSTaggingNegativeControl(t *testing.T) {
	path := "policies/file-servers/iam/instance-policy.json"
	good := func() map[string]any {
		return map[string]any{
			"Effect": "Allow", "Action": "ec2:CreateTags",
			"Resource": "arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*",
			"Condition": map[string]any{
				"StringEquals":              map[string]any{"ec2:ResourceTag/" + compiler.TagPolicy: "file-servers"},
				"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []any{"AppConsistent", "Device"}},
			},
		}
	}
	if !isVSSTagging(path, good()) {
		t.Fatal("the generated grant is not recognised")
	}
	for name, mutate := range map[string]func(st map[string]any){
		"any tag key": func(st map[string]any) {
			st["Condition"].(map[string]any)["ForAllValues:StringEquals"] = map[string]any{"aws:TagKeys": []any{"AppConsistent", compiler.TagPolicy}}
		},
		"no key limit": func(st map[string]any) { delete(st["Condition"].(map[string]any), "ForAllValues:StringEquals") },
		"another policy": func(st map[string]any) {
			st["Condition"].(map[string]any)["StringEquals"] = map[string]any{"ec2:ResourceTag/" + compiler.TagPolicy: "other"}
		},
		"volumes too": func(st map[string]any) {
			st["Resource"] = []any{"arn:aws:ec2:*::snapshot/*", "arn:aws:ec2:*:*:volume/*"}
		},
		"more than tagging": func(st map[string]any) { st["Action"] = []any{"ec2:CreateTags", "ec2:DeleteTags"} },
	} {
		st := good()
		mutate(st)
		if isVSSTagging(path, st) {
			t.Errorf("%s: accepted", name)
		}
	}
}

func isDiskshadowRunbook(runbook any) bool {
	for _, s := range confSteps(runbook) {
		// The shared document's name is the prefix and the set's id.
		in, _ := s["inputs"].(map[string]any)
		name, _ := in["DocumentName"].(string)
		if s["action"] == "aws:runCommand" && strings.HasPrefix(name, compiler.WindowsDiskshadowDocument+"-") {
			return true
		}
	}
	return false
}
