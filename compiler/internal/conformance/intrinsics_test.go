package conformance

import (
	"reflect"
	"strings"
	"testing"
)

func TestResolver(t *testing.T) {
	r := &Resolver{
		Pseudo: SamplePseudo(),
		Resources: map[string]TemplateResource{
			"Window":   {Type: "AWS::SSM::MaintenanceWindow"},
			"Target":   {Type: "AWS::SSM::MaintenanceWindowTarget"},
			"Doc":      {Type: "AWS::SSM::Document", Properties: map[string]any{"Name": "my-doc"}},
			"Role":     {Type: "AWS::IAM::Role", Properties: map[string]any{"RoleName": "r", "Path": "/p/"}},
			"Policy":   {Type: "AWS::IAM::ManagedPolicy", Properties: map[string]any{"ManagedPolicyName": "mp"}},
			"Profile":  {Type: "AWS::IAM::InstanceProfile", Properties: map[string]any{"InstanceProfileName": "ip"}},
			"Nameless": {Type: "AWS::SSM::Document", Properties: map[string]any{}},
			"Bucket":   {Type: "AWS::S3::Bucket"},
		},
	}
	in := map[string]any{
		"WindowId": map[string]any{"Ref": "Window"},
		"Targets":  []any{map[string]any{"Key": "WindowTargetIds", "Values": []any{map[string]any{"Ref": "Target"}}}},
		"TaskArn":  map[string]any{"Ref": "Doc"},
		"Role":     map[string]any{"Fn::GetAtt": []any{"Role", "Arn"}},
		"Role2":    map[string]any{"Fn::GetAtt": "Role.Arn"},
		"Policy":   map[string]any{"Ref": "Policy"},
		"Profile":  map[string]any{"Ref": "Profile"},
		"Sub":      map[string]any{"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:document/${Doc} ${!Literal} ${Role.Arn}"},
		"SubVars":  map[string]any{"Fn::Sub": []any{"${X}-${AWS::Region}", map[string]any{"X": map[string]any{"Ref": "Window"}}}},
		"Plain":    "kept",
	}
	got, err := r.Resolve(in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"WindowId": SampleWindowID,
		"Targets":  []any{map[string]any{"Key": "WindowTargetIds", "Values": []any{SampleWindowTarget}}},
		"TaskArn":  "my-doc",
		"Role":     "arn:aws:iam::123456789012:role/p/r",
		"Role2":    "arn:aws:iam::123456789012:role/p/r",
		"Policy":   "arn:aws:iam::123456789012:policy/mp",
		"Profile":  "ip",
		"Sub":      "arn:aws:ssm:us-east-1:123456789012:document/my-doc ${Literal} arn:aws:iam::123456789012:role/p/r",
		"SubVars":  SampleWindowID + "-us-east-1",
		"Plain":    "kept",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve:\n got %#v\nwant %#v", got, want)
	}
	if fns := Intrinsics(in); !reflect.DeepEqual(fns, []string{"Fn::GetAtt", "Fn::Sub", "Ref"}) {
		t.Errorf("Intrinsics = %v", fns)
	}

	for _, bad := range []any{
		map[string]any{"Ref": "Missing"},
		map[string]any{"Ref": "Nameless"},
		map[string]any{"Ref": "Bucket"},
		map[string]any{"Fn::GetAtt": []any{"Window", "Arn"}},
		map[string]any{"Fn::Join": []any{"", []any{"a"}}},
		map[string]any{"Fn::Sub": "${AWS::NoSuchThing}"},
	} {
		if _, err := r.Resolve(bad); err == nil {
			t.Errorf("Resolve(%v) succeeded; an unresolvable intrinsic must be an error", bad)
		}
	}
}

func TestSubstitutePseudo(t *testing.T) {
	got, err := SubstitutePseudo("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/x")
	if err != nil || got != "arn:aws:iam::123456789012:role/x" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := SubstitutePseudo("${Unknown}"); err == nil || !strings.Contains(err.Error(), "Unknown") {
		t.Fatalf("unknown placeholder: err = %v", err)
	}
}
