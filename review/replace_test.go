package review

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCreateOnlyTable checks the table of properties that force a
// replacement against the CloudFormation provider schemas it is taken from.
func TestCreateOnlyTable(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "reference", "cfn", "aws-*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no provider schemas in testdata/reference/cfn: %v", err)
	}
	strip := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			rest, ok := strings.CutPrefix(p, "/properties/")
			if !ok {
				t.Errorf("create-only path %q is not below /properties", p)
				continue
			}
			out = append(out, rest)
		}
		sort.Strings(out)
		return out
	}
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			TypeName                        string   `json:"typeName"`
			CreateOnlyProperties            []string `json:"createOnlyProperties"`
			ConditionalCreateOnlyProperties []string `json:"conditionalCreateOnlyProperties"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		seen[s.TypeName] = true
		table, ok := createOnly[s.TypeName]
		if !ok {
			t.Errorf("%s (%s) is missing from createOnly", s.TypeName, filepath.Base(f))
			continue
		}
		if diff := cmp.Diff(strip(s.CreateOnlyProperties), table, cmpEmpty); diff != "" {
			t.Errorf("createOnly[%s] differs from %s (-schema +table):\n%s", s.TypeName, filepath.Base(f), diff)
		}
		if diff := cmp.Diff(strip(s.ConditionalCreateOnlyProperties), conditionalCreateOnly[s.TypeName], cmpEmpty); diff != "" {
			t.Errorf("conditionalCreateOnly[%s] differs from %s (-schema +table):\n%s", s.TypeName, filepath.Base(f), diff)
		}
		if len(s.ConditionalCreateOnlyProperties) > 0 && replacedWhen[s.TypeName] == nil {
			t.Errorf("%s has conditional create-only properties but no rule in replacedWhen", s.TypeName)
		}
	}
	for typ := range createOnly {
		if !seen[typ] {
			t.Errorf("createOnly lists %s, which has no provider schema in testdata/reference/cfn", typ)
		}
	}
}

// cmpEmpty treats nil and empty lists alike.
var cmpEmpty = cmp.Transformer("empty", func(xs []string) []string {
	if len(xs) == 0 {
		return nil
	}
	return xs
})

func resource(typ string, props map[string]any) templateResource {
	b, _ := json.Marshal(props)
	return templateResource{Type: typ, Properties: b}
}

func TestReplacements(t *testing.T) {
	old := &templateFile{Resources: map[string]templateResource{
		"Role":    resource("AWS::IAM::Role", map[string]any{"RoleName": "a", "Path": "/x/", "Description": "d"}),
		"Profile": resource("AWS::IAM::InstanceProfile", map[string]any{"InstanceProfileName": "p", "Path": "/x/", "Roles": []any{map[string]any{"Ref": "Role"}}}),
		"Window":  resource("AWS::SSM::MaintenanceWindow", map[string]any{"Name": "w", "Duration": 2}),
		"Target":  resource("AWS::SSM::MaintenanceWindowTarget", map[string]any{"WindowId": map[string]any{"Ref": "Window"}, "Name": "t"}),
		"DocNew":  resource("AWS::SSM::Document", map[string]any{"Name": "n", "UpdateMethod": "NewVersion", "Content": map[string]any{"v": 1}}),
		"DocRepl": resource("AWS::SSM::Document", map[string]any{"Name": "r", "Content": map[string]any{"v": 1}}),
		"Retyped": resource("AWS::IAM::Policy", map[string]any{}),
		"Gone":    resource("AWS::IAM::Role", map[string]any{"RoleName": "g"}),
		"Odd":     resource("AWS::Example::Thing", map[string]any{"A": 1}),
	}}
	cur := &templateFile{Resources: map[string]templateResource{
		"Role":    resource("AWS::IAM::Role", map[string]any{"RoleName": "b", "Path": "/x/", "Description": "d"}),
		"Profile": resource("AWS::IAM::InstanceProfile", map[string]any{"InstanceProfileName": "p", "Path": "/x/", "Roles": []any{map[string]any{"Ref": "Role"}}}),
		"Window":  resource("AWS::SSM::MaintenanceWindow", map[string]any{"Name": "w2", "Duration": 3}),
		"Target":  resource("AWS::SSM::MaintenanceWindowTarget", map[string]any{"WindowId": map[string]any{"Ref": "Window"}, "Name": "t2"}),
		"DocNew":  resource("AWS::SSM::Document", map[string]any{"Name": "n", "UpdateMethod": "NewVersion", "Content": map[string]any{"v": 2}}),
		"DocRepl": resource("AWS::SSM::Document", map[string]any{"Name": "r", "Content": map[string]any{"v": 2}}),
		"Retyped": resource("AWS::IAM::ManagedPolicy", map[string]any{}),
		"New":     resource("AWS::IAM::Role", map[string]any{"RoleName": "n"}),
		"Odd":     resource("AWS::Example::Thing", map[string]any{"A": 2}),
	}}
	reps, notes := replacements(old, cur)
	var got []string
	for _, r := range reps {
		got = append(got, r.LogicalID+": "+strings.Join(r.Properties, ",")+": "+r.Reason)
	}
	want := []string{
		"DocRepl: Content: Content cannot be changed in place",
		"Retyped: : its type changes from AWS::IAM::Policy to AWS::IAM::ManagedPolicy",
		"Role: RoleName: RoleName cannot be changed in place",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("replacements (-want +got):\n%s", diff)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "AWS::Example::Thing") {
		t.Errorf("notes = %q, want one about the unknown type", notes)
	}

	// A create-only property that refers to a replaced resource is replaced too.
	old.Resources["Target"] = resource("AWS::SSM::MaintenanceWindowTarget", map[string]any{"WindowId": map[string]any{"Ref": "Retyped"}})
	cur.Resources["Target"] = old.Resources["Target"]
	reps, _ = replacements(old, cur)
	i := slices.IndexFunc(reps, func(r Replacement) bool { return r.LogicalID == "Target" })
	if i < 0 || reps[i].Reason != "it refers to Retyped, which is replaced" || !slices.Equal(reps[i].Properties, []string{"WindowId"}) {
		t.Errorf("cascade: got %+v", reps)
	}
}

func TestReferences(t *testing.T) {
	raw := json.RawMessage(`[{"Ref":"A"},{"Fn::GetAtt":["B","Arn"]},{"Fn::Sub":"arn:${AWS::Partition}:x:${C}/${D.Arn}"},{"Key":{"Ref":"E"}}]`)
	if got, want := references(raw), []string{"A", "B", "C", "D", "E"}; !slices.Equal(got, want) {
		t.Errorf("references = %q, want %q", got, want)
	}
}
