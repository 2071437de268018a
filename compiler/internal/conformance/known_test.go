package conformance

import "testing"

func TestTriage(t *testing.T) {
	known := []KnownFinding{
		{Pointer: "/mainSteps/*", Keyword: "/additionalProperties", Contains: "onCancel", Reason: "r1"},
		{Pointer: "/never", Reason: "r2"},
	}
	findings := []Finding{
		{Pointer: "/mainSteps/2", Keyword: "/properties/mainSteps/items/additionalProperties", Message: "additional properties 'onCancel' not allowed"},
		{Pointer: "/mainSteps/2", Keyword: "/properties/mainSteps/items/additionalProperties", Message: "additional properties 'onCancle' not allowed"},
		{Pointer: "/mainSteps/2/inputs", Keyword: "/required", Message: "missing property 'Service'"},
		{Pointer: "/mainSteps/2/x", Keyword: "/additionalProperties", Message: "onCancel"},
	}
	hits := make([]int, len(known))
	unexpected := Triage(nil, findings, known, hits)
	if len(unexpected) != 3 {
		t.Errorf("unexpected = %v, want the last three findings", unexpected)
	}
	if hits[0] != 1 || hits[1] != 0 {
		t.Errorf("hits = %v, want [1 0]", hits)
	}
}

func TestTriageValue(t *testing.T) {
	instance, err := DecodeJSON([]byte(`{"mainSteps":[{"inputs":{"Runtime":"python3.11"}},{"inputs":{"Runtime":"python2.7"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	known := []KnownFinding{{Pointer: "/mainSteps/*/inputs/Runtime", Value: "python3.11", Reason: "r"}}
	findings := []Finding{
		{Pointer: "/mainSteps/0/inputs/Runtime", Message: "value must be one of 'python3.6'"},
		{Pointer: "/mainSteps/1/inputs/Runtime", Message: "value must be one of 'python3.6'"},
	}
	hits := make([]int, 1)
	unexpected := Triage(instance, findings, known, hits)
	if len(unexpected) != 1 || unexpected[0].Pointer != "/mainSteps/1/inputs/Runtime" || hits[0] != 1 {
		t.Fatalf("unexpected = %v, hits = %v: only python3.11 may be excused", unexpected, hits)
	}
}
