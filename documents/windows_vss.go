package documents

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
)

// windowsVSSPreflightScript checks a Windows instance can take a VSS
// snapshot before anything is frozen; its module docstring states the rules.
//
//go:embed scripts/windows_vss_preflight.py
var windowsVSSPreflightScript string

var windowsVSSPreflightStep = sync.OnceValue(func() string {
	return stepScript("windows_vss_preflight.py", windowsVSSPreflightScript)
})

// AWS's command documents of the managed VSS path.
const (
	// CreateVSSSnapshotDocument freezes the instance's volumes with VSS,
	// calls CreateSnapshots and thaws.
	CreateVSSSnapshotDocument = "AWSEC2-CreateVssSnapshot"
	// ConfigurePackageDocument installs a Distributor package.
	ConfigurePackageDocument = "AWS-ConfigureAWSPackage"
	// VSSPackage holds the EC2 VSS requester and provider.
	VSSPackage = "AwsVssComponents"
	// MinVSSAgentVersion is the oldest SSM Agent AWSEC2-CreateVssSnapshot
	// works with.
	MinVSSAgentVersion = "3.0.502.0"
)

// VSSReservedTagKeys are the tag keys AWSEC2-CreateVssSnapshot sets itself;
// passing any of them in its tags parameter fails the command.
var VSSReservedTagKeys = []string{"AppConsistent", "AwsVssConfig", "Device"}

// VSSUnsupportedInstanceTypes are the instance sizes the preflight refuses:
// too small for VSS snapshots.
var VSSUnsupportedInstanceTypes = []string{"t2.micro", "t2.nano", "t3.micro", "t3.nano", "t3a.micro", "t3a.nano"}

// VSSTagsParameter renders tags in the format of AWSEC2-CreateVssSnapshot's
// tags parameter, "Key=k,Value=v;Key=k2,Value=v2". A key or value holding
// one of the separators , ; = would be split differently by the document,
// and a reserved key fails it: both are errors.
func VSSTagsParameter(tags []Tag) (string, error) {
	parts := make([]string, 0, len(tags))
	for _, t := range tags {
		for _, r := range VSSReservedTagKeys {
			if strings.EqualFold(t.Key, r) {
				return "", fmt.Errorf("tag key %q is reserved by %s", t.Key, CreateVSSSnapshotDocument)
			}
		}
		if strings.ContainsAny(t.Key, ",;=") || strings.ContainsAny(t.Value, ",;=") {
			return "", fmt.Errorf("tag %q=%q: %s tags may not contain , ; or =", t.Key, t.Value, CreateVSSSnapshotDocument)
		}
		parts = append(parts, "Key="+t.Key+",Value="+t.Value)
	}
	return strings.Join(parts, ";"), nil
}

// VSSPreflightInputs is the InputPayload of the preflight step; every value
// is a string (an Automation expression or a literal).
type VSSPreflightInputs struct {
	InstanceId       string `json:"InstanceId"`
	MinAgentVersion  string `json:"MinAgentVersion"`
	UnsupportedTypes string `json:"UnsupportedTypes"`
	InstallPackages  string `json:"InstallPackages"`
}

// VSSPreflightStep is the aws:executeScript step that refuses, before the
// VSS command is sent, an instance that is not Windows, runs an SSM Agent
// older than MinVSSAgentVersion, is of a type too small for VSS, or lacks
// the AwsVssComponents package (see scripts/windows_vss_preflight.py).
// Outputs: AgentVersion, InstanceType, VssComponents.
func VSSPreflightStep(name string, in VSSPreflightInputs) AutomationStep {
	return AutomationStep{
		Name:           name,
		Action:         "aws:executeScript",
		Description:    "Before anything is frozen: Windows, SSM Agent " + MinVSSAgentVersion + " or later, an instance type VSS supports, the " + VSSPackage + " package.",
		TimeoutSeconds: 120,
		OnFailure:      "Abort",
		Inputs: executeScriptInputs{
			Runtime:      scriptRuntime,
			Handler:      "handler",
			InputPayload: in,
			Script:       windowsVSSPreflightStep(),
		},
		Outputs: []StepOutput{
			{Name: "AgentVersion", Selector: "$.Payload.agentVersion", Type: "String"},
			{Name: "InstanceType", Selector: "$.Payload.instanceType", Type: "String"},
			{Name: "VssComponents", Selector: "$.Payload.vssComponents", Type: "String"},
		},
	}
}

// WindowsVSSPreflightScript returns the preflight script's source.
func WindowsVSSPreflightScript() []byte { return []byte(windowsVSSPreflightScript) }
