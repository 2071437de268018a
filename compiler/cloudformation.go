package compiler

import (
	"bytes"
	"encoding/json"

	"github.com/ssm-backup/ssm-backup/documents"
)

// Template is a CloudFormation template. Resources is a map; encoding/json
// writes its keys sorted, so the template is deterministic.
type Template struct {
	AWSTemplateFormatVersion string              `json:"AWSTemplateFormatVersion"`
	Description              string              `json:"Description"`
	Resources                map[string]Resource `json:"Resources"`
	Outputs                  map[string]Output   `json:"Outputs,omitempty"`
}

// Resource is one template resource.
type Resource struct {
	Type      string   `json:"Type"`
	DependsOn []string `json:"DependsOn,omitempty"`
	// DeletionPolicy and UpdateReplacePolicy are set on resources that
	// hold backups (a backup vault): Retain.
	DeletionPolicy      string `json:"DeletionPolicy,omitempty"`
	UpdateReplacePolicy string `json:"UpdateReplacePolicy,omitempty"`
	Properties          any    `json:"Properties"`
}

// Output is a template output.
type Output struct {
	Description string `json:"Description"`
	Value       any    `json:"Value"`
}

type ref struct {
	Ref string `json:"Ref"`
}

type getAtt struct {
	GetAtt [2]string `json:"Fn::GetAtt"`
}

type sub struct {
	Sub string `json:"Fn::Sub"`
}

// CFNTag is a CloudFormation resource tag.
type CFNTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type documentProperties struct {
	Name           string   `json:"Name"`
	DocumentType   string   `json:"DocumentType"`
	DocumentFormat string   `json:"DocumentFormat"`
	UpdateMethod   string   `json:"UpdateMethod"`
	Content        any      `json:"Content"`
	Tags           []CFNTag `json:"Tags"`
}

type inlinePolicy struct {
	PolicyName     string `json:"PolicyName"`
	PolicyDocument any    `json:"PolicyDocument"`
}

type roleProperties struct {
	RoleName                 string         `json:"RoleName"`
	Path                     string         `json:"Path"`
	Description              string         `json:"Description"`
	AssumeRolePolicyDocument any            `json:"AssumeRolePolicyDocument"`
	ManagedPolicyArns        []any          `json:"ManagedPolicyArns,omitempty"`
	Policies                 []inlinePolicy `json:"Policies,omitempty"`
	Tags                     []CFNTag       `json:"Tags"`
}

type managedPolicyProperties struct {
	ManagedPolicyName string `json:"ManagedPolicyName"`
	Path              string `json:"Path"`
	Description       string `json:"Description"`
	PolicyDocument    any    `json:"PolicyDocument"`
}

type instanceProfileProperties struct {
	InstanceProfileName string `json:"InstanceProfileName"`
	Path                string `json:"Path"`
	Roles               []ref  `json:"Roles"`
}

type windowProperties struct {
	Name                     string   `json:"Name"`
	Description              string   `json:"Description,omitempty"`
	Schedule                 string   `json:"Schedule"`
	ScheduleTimezone         string   `json:"ScheduleTimezone,omitempty"`
	ScheduleOffset           int      `json:"ScheduleOffset,omitempty"`
	Duration                 int      `json:"Duration"`
	Cutoff                   int      `json:"Cutoff"`
	AllowUnassociatedTargets bool     `json:"AllowUnassociatedTargets"`
	Tags                     []CFNTag `json:"Tags"`
}

type windowTargetProperties struct {
	WindowId     ref      `json:"WindowId"`
	Name         string   `json:"Name"`
	Description  string   `json:"Description,omitempty"`
	ResourceType string   `json:"ResourceType"`
	Targets      []Target `json:"Targets"`
}

type cfnTaskTarget struct {
	Key    string `json:"Key"`
	Values []ref  `json:"Values"`
}

type windowTaskProperties struct {
	WindowId                 ref               `json:"WindowId"`
	Name                     string            `json:"Name"`
	Description              string            `json:"Description,omitempty"`
	TaskArn                  ref               `json:"TaskArn"`
	TaskType                 string            `json:"TaskType"`
	ServiceRoleArn           getAtt            `json:"ServiceRoleArn"`
	Priority                 int               `json:"Priority"`
	MaxConcurrency           string            `json:"MaxConcurrency"`
	MaxErrors                string            `json:"MaxErrors"`
	CutoffBehavior           string            `json:"CutoffBehavior"`
	Targets                  []cfnTaskTarget   `json:"Targets"`
	TaskInvocationParameters cfnTaskInvocation `json:"TaskInvocationParameters"`
}

type cfnTaskInvocation struct {
	Automation cfnAutomationParameters `json:"MaintenanceWindowAutomationParameters"`
}

type cfnAutomationParameters struct {
	DocumentVersion string         `json:"DocumentVersion"`
	Parameters      map[string]any `json:"Parameters"`
}

// withSub rewrites every string value holding a ${AWS::...} placeholder into
// an Fn::Sub, so IAM documents are written once and read the same in the
// standalone files and in the template. It rewrites the compact JSON token
// by token rather than through a generic tree: templates of large sets hold
// thousands of these documents.
func withSub(v any) any {
	raw, err := compactJSON(v)
	if err != nil {
		panic(err) // the IAM types always marshal
	}
	return json.RawMessage(subJSON(raw, "${AWS::"))
}

// subJSON wraps each string value of compact JSON that contains marker in
// {"Fn::Sub": ...}; keys are left alone.
func subJSON(raw []byte, marker string) []byte {
	out := make([]byte, 0, len(raw)+64)
	for i := 0; i < len(raw); {
		if raw[i] != '"' {
			out = append(out, raw[i])
			i++
			continue
		}
		end := i + 1
		for end < len(raw) && raw[end] != '"' {
			if raw[end] == '\\' {
				end++
			}
			end++
		}
		end++ // past the closing quote
		if end > len(raw) {
			end = len(raw)
		}
		token := raw[i:end]
		isKey := end < len(raw) && raw[end] == ':'
		if !isKey && bytes.Contains(token, []byte(marker)) {
			out = append(out, `{"Fn::Sub":`...)
			out = append(out, token...)
			out = append(out, '}')
		} else {
			out = append(out, token...)
		}
		i = end
	}
	return out
}

func cfnTags(p *PolicyPlan) []CFNTag {
	var out []CFNTag
	for _, t := range resourceTags(p) {
		out = append(out, CFNTag(t))
	}
	return out
}

// addSharedResources adds what every policy of the set uses.
func addSharedResources(t *Template, linuxName string, linux documents.CommandDocument) {
	t.Resources[LinuxSnapshotLogicalID] = Resource{
		Type: "AWS::SSM::Document",
		Properties: documentProperties{
			Name: linuxName, DocumentType: "Command", DocumentFormat: "JSON",
			UpdateMethod: "NewVersion", Content: linux,
			Tags: []CFNTag{{Key: "ssm-backup:shared", Value: "linux-snapshot"}},
		},
	}
}

// addWindowResources adds a maintenance window, its target and its
// Automation task, named prefix+"Window", prefix+"WindowTarget" and
// prefix+"WindowTask": the task runs the runbook with logical id runbook on
// each target, assuming the role with logical id assumeRole, and the window
// runs as the role with logical id windowRole.
func addWindowResources(t *Template, prefix string, w WindowInputs, tags []CFNTag, runbook, windowRole, assumeRole string) {
	l := prefix
	cw := w.CreateMaintenanceWindow
	t.Resources[l+"Window"] = Resource{
		Type: "AWS::SSM::MaintenanceWindow",
		Properties: windowProperties{
			Name: cw.Name, Description: cw.Description, Schedule: cw.Schedule,
			ScheduleTimezone: cw.ScheduleTimezone, ScheduleOffset: cw.ScheduleOffset,
			Duration: cw.Duration, Cutoff: cw.Cutoff, AllowUnassociatedTargets: cw.AllowUnassociatedTargets,
			Tags: tags,
		},
	}
	rt := w.RegisterTargetWithMaintenanceWindow
	t.Resources[l+"WindowTarget"] = Resource{
		Type: "AWS::SSM::MaintenanceWindowTarget",
		Properties: windowTargetProperties{
			WindowId: ref{Ref: l + "Window"}, Name: rt.Name, Description: rt.Description,
			ResourceType: rt.ResourceType, Targets: rt.Targets,
		},
	}
	rk := w.RegisterTaskWithMaintenanceWindow
	t.Resources[l+"WindowTask"] = Resource{
		Type: "AWS::SSM::MaintenanceWindowTask",
		Properties: windowTaskProperties{
			WindowId: ref{Ref: l + "Window"}, Name: rk.Name, Description: rk.Description,
			TaskArn: ref{Ref: runbook}, TaskType: rk.TaskType,
			ServiceRoleArn: getAtt{GetAtt: [2]string{windowRole, "Arn"}},
			Priority:       rk.Priority, MaxConcurrency: rk.MaxConcurrency, MaxErrors: rk.MaxErrors,
			CutoffBehavior: rk.CutoffBehavior,
			Targets:        []cfnTaskTarget{{Key: "WindowTargetIds", Values: []ref{{Ref: l + "WindowTarget"}}}},
			TaskInvocationParameters: cfnTaskInvocation{Automation: cfnAutomationParameters{
				DocumentVersion: rk.TaskInvocationParameters.Automation.DocumentVersion,
				Parameters: map[string]any{
					"InstanceId":           []string{"{{RESOURCE_ID}}"},
					"AutomationAssumeRole": []any{getAtt{GetAtt: [2]string{assumeRole, "Arn"}}},
				},
			}},
		},
	}
}

// addPolicyResources adds every resource of one policy to the template.
func addPolicyResources(t *Template, p *PolicyPlan, a *policyArtifacts) {
	n := p.Names
	l := n.Logical
	tags := cfnTags(p)
	roles := a.roles
	t.Resources[l+"Runbook"] = Resource{
		Type:      "AWS::SSM::Document",
		DependsOn: runbookDependsOn(p),
		Properties: documentProperties{
			Name: n.Runbook, DocumentType: "Automation", DocumentFormat: "JSON",
			UpdateMethod: "NewVersion", Content: a.runbookJSON, Tags: tags,
		},
	}
	// The instance permissions are a managed policy so that fleets whose
	// instances already have a role attach it there; the role and profile
	// below serve instances that have none.
	t.Resources[l+"InstancePolicy"] = Resource{
		Type: "AWS::IAM::ManagedPolicy",
		Properties: managedPolicyProperties{
			ManagedPolicyName: n.InstancePolicy, Path: IAMPath,
			Description:    instancePolicyDescription(p),
			PolicyDocument: withSub(roles.InstancePolicy),
		},
	}
	managed := []any{ref{Ref: l + "InstancePolicy"}}
	for _, m := range roles.InstanceManagedPolicies {
		managed = append(managed, withSub(m))
	}
	t.Resources[l+"InstanceRole"] = Resource{
		Type: "AWS::IAM::Role",
		Properties: roleProperties{
			RoleName: n.InstanceRole, Path: IAMPath,
			Description:              "Instances of ssm-backup policy " + n.Policy + ": snapshot own volumes, tagged at creation",
			AssumeRolePolicyDocument: withSub(roles.InstanceTrust),
			ManagedPolicyArns:        managed,
			Tags:                     tags,
		},
	}
	t.Resources[l+"InstanceProfile"] = Resource{
		Type: "AWS::IAM::InstanceProfile",
		Properties: instanceProfileProperties{
			InstanceProfileName: n.InstanceProfile, Path: IAMPath, Roles: []ref{{Ref: l + "InstanceRole"}},
		},
	}
	t.Resources[l+"AutomationRole"] = Resource{
		Type: "AWS::IAM::Role",
		Properties: roleProperties{
			RoleName: n.AutomationRole, Path: IAMPath,
			Description:              "Runbook of ssm-backup policy " + n.Policy + ": run the snapshot command on target instances",
			AssumeRolePolicyDocument: withSub(roles.AutomationTrust),
			Policies:                 []inlinePolicy{{PolicyName: n.AutomationPolicy, PolicyDocument: withSub(roles.AutomationPolicy)}},
			Tags:                     tags,
		},
	}
	t.Resources[l+"WindowRole"] = Resource{
		Type: "AWS::IAM::Role",
		Properties: roleProperties{
			RoleName: n.WindowRole, Path: IAMPath,
			Description:              "Maintenance window of ssm-backup policy " + n.Policy + ": start the backup runbook",
			AssumeRolePolicyDocument: withSub(roles.WindowTrust),
			Policies:                 []inlinePolicy{{PolicyName: n.WindowPolicy, PolicyDocument: withSub(roles.WindowPolicy)}},
			Tags:                     tags,
		},
	}
	w := a.window
	addWindowResources(t, l, w, tags, l+"Runbook", l+"WindowRole", l+"AutomationRole")
	t.Outputs[l+"InstanceProfile"] = Output{
		Description: "Attach this instance profile to the instances of policy " + n.Policy,
		Value:       ref{Ref: l + "InstanceProfile"},
	}
	t.Outputs[l+"InstancePolicy"] = Output{
		Description: "Or attach this managed policy to the role the instances of policy " + n.Policy + " already have",
		Value:       ref{Ref: l + "InstancePolicy"},
	}
	t.Outputs[l+"Window"] = Output{
		Description: "Maintenance window of policy " + n.Policy,
		Value:       ref{Ref: l + "Window"},
	}
	// Recycle Bin rule, restore drill (lifecycle_cfn.go).
	addLifecycleResources(t, p)
}
