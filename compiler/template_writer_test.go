package compiler

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ssm-backup/ssm-backup/documents"
)

// TestWriteTemplateMatchesEncoder proves the hand-written template writer
// produces the very bytes the JSON encoder would.
func TestWriteTemplateMatchesEncoder(t *testing.T) {
	for _, tmpl := range []*renderedTemplate{
		{AWSTemplateFormatVersion: "2010-09-09", Description: "empty", Resources: map[string]json.RawMessage{}},
		{
			AWSTemplateFormatVersion: "2010-09-09",
			Description:              `quotes " and <html> & unicode — ok`,
			Resources: map[string]json.RawMessage{
				"B": json.RawMessage(`{"Type":"AWS::SSM::Document","Properties":{"Content":{"mainSteps":[{"inputs":{"runCommand":["a && b > c","${x}"]}}],"empty":{},"list":[]}}}`),
				"A": json.RawMessage(`{"Type":"AWS::IAM::Role","DependsOn":["B"],"Properties":{"n":1.5,"t":true,"z":null}}`),
			},
			Outputs: map[string]json.RawMessage{
				"AOut": json.RawMessage(`{"Description":"d","Value":{"Ref":"A"}}`),
			},
		},
	} {
		want, err := documents.MarshalIndent(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		got, err := writeTemplate(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("writeTemplate differs from the encoder:\n--- got\n%s\n--- want\n%s", got, want)
		}
	}
	if _, err := writeTemplate(&renderedTemplate{Resources: map[string]json.RawMessage{"X": json.RawMessage(`{"broken"`)}}); err == nil {
		t.Error("a malformed resource was written without an error")
	}
}

func TestSubJSONWrapsValuesOnly(t *testing.T) {
	in := `{"Resource":["arn:${AWS::Partition}:ec2:*","plain"],"${AWS::NotAValue}":"x","Q":"say \"${AWS::Region}\"","N":1}`
	want := `{"Resource":[{"Fn::Sub":"arn:${AWS::Partition}:ec2:*"},"plain"],"${AWS::NotAValue}":"x","Q":{"Fn::Sub":"say \"${AWS::Region}\""},"N":1}`
	if got := string(subJSON([]byte(in), "${AWS::")); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if !json.Valid(subJSON([]byte(in), "${")) {
		t.Fatal("the rewrite produced invalid JSON")
	}
}
