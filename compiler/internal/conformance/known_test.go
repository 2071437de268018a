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
	unexpected := Triage(findings, known, hits)
	if len(unexpected) != 3 {
		t.Errorf("unexpected = %v, want the last three findings", unexpected)
	}
	if hits[0] != 1 || hits[1] != 0 {
		t.Errorf("hits = %v, want [1 0]", hits)
	}
}
