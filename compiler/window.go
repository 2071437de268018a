package compiler

// Maintenance-window API inputs, shaped and named exactly as the Systems
// Manager API (CreateMaintenanceWindow, RegisterTargetWithMaintenanceWindow,
// RegisterTaskWithMaintenanceWindow). Identifiers that exist only once the
// window is created (WindowId, WindowTargetId) and the account-specific role
// ARNs are left out or written with ${AWS::...} placeholders; the template
// wires them with Ref and GetAtt.

// WindowInputs are the three API calls that set up one policy's window.
type WindowInputs struct {
	CreateMaintenanceWindow             CreateWindowInput   `json:"CreateMaintenanceWindow"`
	RegisterTargetWithMaintenanceWindow RegisterTargetInput `json:"RegisterTargetWithMaintenanceWindow"`
	RegisterTaskWithMaintenanceWindow   RegisterTaskInput   `json:"RegisterTaskWithMaintenanceWindow"`
}

// CreateWindowInput is CreateMaintenanceWindowRequest.
type CreateWindowInput struct {
	Name                     string   `json:"Name"`
	Description              string   `json:"Description,omitempty"`
	Schedule                 string   `json:"Schedule"`
	ScheduleTimezone         string   `json:"ScheduleTimezone,omitempty"`
	ScheduleOffset           int      `json:"ScheduleOffset,omitempty"`
	Duration                 int      `json:"Duration"`
	Cutoff                   int      `json:"Cutoff"`
	AllowUnassociatedTargets bool     `json:"AllowUnassociatedTargets"`
	Tags                     []APITag `json:"Tags,omitempty"`
}

// APITag is an SSM API tag.
type APITag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// Target is an SSM target filter.
type Target struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

// RegisterTargetInput is RegisterTargetWithMaintenanceWindowRequest without WindowId.
type RegisterTargetInput struct {
	Name         string   `json:"Name"`
	Description  string   `json:"Description,omitempty"`
	ResourceType string   `json:"ResourceType"`
	Targets      []Target `json:"Targets"`
}

// RegisterTaskInput is RegisterTaskWithMaintenanceWindowRequest without
// WindowId; its Targets refer to the registered target by WindowTargetIds.
type RegisterTaskInput struct {
	Name                     string                   `json:"Name"`
	Description              string                   `json:"Description,omitempty"`
	TaskArn                  string                   `json:"TaskArn"`
	TaskType                 string                   `json:"TaskType"`
	ServiceRoleArn           string                   `json:"ServiceRoleArn"`
	Priority                 int                      `json:"Priority"`
	MaxConcurrency           string                   `json:"MaxConcurrency"`
	MaxErrors                string                   `json:"MaxErrors"`
	CutoffBehavior           string                   `json:"CutoffBehavior"`
	TaskInvocationParameters TaskInvocationParameters `json:"TaskInvocationParameters"`
}

// TaskInvocationParameters holds the Automation parameters of the task.
type TaskInvocationParameters struct {
	Automation AutomationTaskParameters `json:"Automation"`
}

// AutomationTaskParameters is MaintenanceWindowAutomationParameters.
type AutomationTaskParameters struct {
	DocumentVersion string              `json:"DocumentVersion"`
	Parameters      map[string][]string `json:"Parameters"`
}

func windowTargets(p *PolicyPlan) []Target {
	var out []Target
	for _, t := range p.Targets {
		out = append(out, Target{Key: "tag:" + t.Key, Values: t.Values})
	}
	return out
}

func resourceTags(p *PolicyPlan) []APITag {
	out := []APITag{{Key: TagPolicy, Value: p.Names.Policy}}
	for _, t := range p.Tags {
		out = append(out, APITag{Key: t.Key, Value: t.Value})
	}
	return out
}

func buildWindow(p *PolicyPlan) WindowInputs {
	n := p.Names
	s := p.Schedule
	return WindowInputs{
		CreateMaintenanceWindow: CreateWindowInput{
			Name:                     n.Window,
			Description:              truncate(p.Description, 128),
			Schedule:                 s.Expression,
			ScheduleTimezone:         s.Timezone,
			ScheduleOffset:           s.Offset,
			Duration:                 s.DurationHours,
			Cutoff:                   s.CutoffHours,
			AllowUnassociatedTargets: false,
			Tags:                     resourceTags(p),
		},
		RegisterTargetWithMaintenanceWindow: RegisterTargetInput{
			Name:         n.WindowTarget,
			Description:  "Instances backed up by ssm-backup policy " + n.Policy,
			ResourceType: "INSTANCE",
			Targets:      windowTargets(p),
		},
		RegisterTaskWithMaintenanceWindow: RegisterTaskInput{
			Name:           n.WindowTask,
			Description:    "Run " + n.Runbook + " on each target instance",
			TaskArn:        n.Runbook,
			TaskType:       "AUTOMATION",
			ServiceRoleArn: roleARN(n.WindowRole),
			Priority:       1,
			MaxConcurrency: s.MaxConcurrency,
			MaxErrors:      s.MaxErrors,
			// A backup that has started is let finish: cancelling the
			// runbook mid-way would leave nothing frozen (the script thaws
			// on every path) but would waste the run.
			CutoffBehavior: "CONTINUE_TASK",
			TaskInvocationParameters: TaskInvocationParameters{Automation: AutomationTaskParameters{
				DocumentVersion: "$DEFAULT",
				Parameters: map[string][]string{
					"InstanceId":           {"{{RESOURCE_ID}}"},
					"AutomationAssumeRole": {roleARN(n.AutomationRole)},
				},
			}},
		},
	}
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
