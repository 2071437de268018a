package deploy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/google/go-cmp/cmp"
)

func TestCompactTemplate(t *testing.T) {
	got, err := CompactTemplate([]byte("{\n  \"Resources\": {\n    \"A\": {\"Type\": \"x y\"}\n  }\n}\n"))
	if err != nil || string(got) != `{"Resources":{"A":{"Type":"x y"}}}` {
		t.Fatalf("%q, %v", got, err)
	}
	if _, err := CompactTemplate([]byte("{")); err == nil {
		t.Fatal("broken JSON compacted")
	}
}

func TestCheckTemplateSize(t *testing.T) {
	for _, c := range []struct {
		size   int
		bucket bool
		want   string // "" when accepted
	}{
		{InlineLimit, false, ""},
		{InlineLimit + 1, false, "the template is 51201 bytes, more than the 51200 bytes CloudFormation accepts inline; pass --s3-bucket"},
		{InlineLimit + 1, true, ""},
		{URLLimit, true, ""},
		{URLLimit + 1, true, "the template is 1048577 bytes, more than the 1048576 bytes (1 MB) CloudFormation reads from S3; deploy the policies as several stacks"},
		{URLLimit + 1, false, "1 MB"},
	} {
		err := CheckTemplateSize(c.size, c.bucket)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%d bytes, bucket %v: %v", c.size, c.bucket, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !IsKind(err, KindTemplate)):
			t.Errorf("%d bytes, bucket %v: %v, want %q", c.size, c.bucket, err, c.want)
		}
	}
}

func TestTemplateBucket(t *testing.T) {
	b := TemplateBucket{Bucket: "cfn-{region}-templates", Prefix: "ssm-backup/"}
	if got := b.BucketFor("eu-west-1"); got != "cfn-eu-west-1-templates" {
		t.Errorf("BucketFor: %s", got)
	}
	if got := b.Key([]byte("abc")); got != "ssm-backup/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.json" {
		t.Errorf("Key: %s", got)
	}
}

func TestResourceChangesAndPrinting(t *testing.T) {
	changes := []types.Change{
		{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{Action: types.ChangeActionRemove, LogicalResourceId: aws.String("OldRunbook"), ResourceType: aws.String("AWS::SSM::Document")}},
		modify("Window", "AWS::SSM::MaintenanceWindow", types.ReplacementFalse, "Schedule", "ScheduleTimezone", "Schedule"),
		{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{
			Action: types.ChangeActionModify, LogicalResourceId: aws.String("Role"), ResourceType: aws.String("AWS::IAM::Role"), Replacement: types.ReplacementConditional,
			Details: []types.ResourceChangeDetail{
				{Target: &types.ResourceTargetDefinition{Attribute: types.ResourceAttributeTags}},
				{Target: &types.ResourceTargetDefinition{Attribute: types.ResourceAttributeProperties, Name: aws.String("RoleName"), RequiresRecreation: types.RequiresRecreationAlways}},
				{Target: nil},
			}}},
		add("Runbook", "AWS::SSM::Document"),
		{Type: types.ChangeTypeResource},
	}
	got := ResourceChanges(changes)
	want := []ResourceChange{
		{Action: "Add", LogicalID: "Runbook", Type: "AWS::SSM::Document"},
		{Action: "Modify", LogicalID: "Role", Type: "AWS::IAM::Role", Replacement: "Conditional", Changed: []string{"RoleName (replaces)", "Tags"}},
		{Action: "Modify", LogicalID: "Window", Type: "AWS::SSM::MaintenanceWindow", Changed: []string{"Schedule", "ScheduleTimezone"}},
		{Action: "Remove", LogicalID: "OldRunbook", Type: "AWS::SSM::Document"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("changes (-want +got):\n%s", diff)
	}
	var b strings.Builder
	PrintChangeSet(&b, "Change set x", got)
	wantOut := `Change set x: 4 changes (1 to add, 2 to modify, 1 to remove)
  ACTION  RESOURCE    TYPE                         REPLACEMENT  CHANGED
  Add     Runbook     AWS::SSM::Document           -            -
  Modify  Role        AWS::IAM::Role               Conditional  RoleName (replaces), Tags
  Modify  Window      AWS::SSM::MaintenanceWindow  -            Schedule, ScheduleTimezone
  Remove  OldRunbook  AWS::SSM::Document           -            -
`
	if diff := cmp.Diff(wantOut, b.String()); diff != "" {
		t.Errorf("printed (-want +got):\n%s", diff)
	}
	b.Reset()
	PrintChangeSet(&b, "Change set y", nil)
	if b.String() != "Change set y: 0 changes\n" {
		t.Errorf("empty change set: %q", b.String())
	}
}

func TestCheckTemplateCounts(t *testing.T) {
	template := func(resources, outputs int) []byte {
		var b strings.Builder
		b.WriteString(`{"Resources":{`)
		for i := 0; i < resources; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"R%d":{"Type":"AWS::SSM::Document"}`, i)
		}
		b.WriteString(`},"Outputs":{`)
		for i := 0; i < outputs; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"O%d":{"Value":"x"}`, i)
		}
		b.WriteString("}}")
		return []byte(b.String())
	}
	if err := CheckTemplateCounts(template(MaxResources, MaxOutputs)); err != nil {
		t.Errorf("a template at the limits was refused: %v", err)
	}
	for _, c := range []struct {
		resources, outputs int
		want               string
	}{
		{MaxResources + 1, 0, "declares 501 resources, more than the 500"},
		{1, MaxOutputs + 1, "declares 201 outputs, more than the 200"},
	} {
		err := CheckTemplateCounts(template(c.resources, c.outputs))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "several stacks") {
			t.Errorf("%d resources, %d outputs: got %v, want an error containing %q and advice to split", c.resources, c.outputs, err, c.want)
		}
	}
	if err := CheckTemplateCounts([]byte("{")); err == nil {
		t.Error("malformed JSON accepted")
	}
}
