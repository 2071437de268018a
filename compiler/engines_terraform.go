package compiler

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Terraform counterparts of the backup and dlm engines' template resources,
// converted from the template's own (engines.go) by the lifecycle's
// converter, so the two outputs are written once.

const (
	tfTypeBackupVault     = "aws_backup_vault"
	tfTypeBackupVaultLock = "aws_backup_vault_lock_configuration"
	tfTypeBackupPlan      = "aws_backup_plan"
	tfTypeBackupSelection = "aws_backup_selection"
	tfTypeDLMPolicy       = "aws_dlm_lifecycle_policy"
	tfTypeCFNStack        = "aws_cloudformation_stack"
)

// A DLM lifecycle policy with pre/post scripts or an archive rule cannot be
// written as aws_dlm_lifecycle_policy: the hashicorp/aws provider (checked
// with 5.100) has neither a scripts nor an archive_rule block. Such a
// policy is deployed by Terraform as a CloudFormation stack holding that
// one AWS::DLM::LifecyclePolicy, the same resource the template has; the
// role and the script document stay Terraform resources and reach the
// stack as parameters.
const (
	dlmStackResource  = "LifecyclePolicy"
	dlmStackOutput    = "PolicyId"
	dlmStackRoleParam = "ExecutionRoleArn"
	dlmStackDocParam  = "HooksDocument"
)

// tfCFNStack is aws_cloudformation_stack.
type tfCFNStack struct {
	Name         string            `json:"name"`
	Parameters   map[string]string `json:"parameters"`
	Tags         map[string]string `json:"tags"`
	TemplateBody string            `json:"template_body"`
}

// needsStack reports whether a lifecycle policy uses what the provider
// cannot express.
func needsStack(props dlmPolicyResource) bool {
	for _, s := range props.PolicyDetails.Schedules {
		if len(s.CreateRule.Scripts) > 0 || s.ArchiveRule != nil {
			return true
		}
	}
	return false
}

// dlmStack converts a lifecycle policy into the stack that deploys it.
func (c *tfLifecycleConverter) dlmStack(id string, props dlmPolicyResource) error {
	params := map[string]string{}
	role, err := c.value(props.ExecutionRoleArn)
	if err != nil {
		return err
	}
	params[dlmStackRoleParam] = role
	inner := props
	inner.ExecutionRoleArn = ref{Ref: dlmStackRoleParam}
	inner.PolicyDetails.Schedules = nil
	for _, s := range props.PolicyDetails.Schedules {
		scripts := make([]dlmScript, len(s.CreateRule.Scripts))
		for i, sc := range s.CreateRule.Scripts {
			scripts[i] = sc
			if r, ok := sc.ExecutionHandler.(ref); ok {
				doc, err := c.value(r)
				if err != nil {
					return err
				}
				params[dlmStackDocParam] = doc
				scripts[i].ExecutionHandler = ref{Ref: dlmStackDocParam}
			}
		}
		s.CreateRule.Scripts = scripts
		inner.PolicyDetails.Schedules = append(inner.PolicyDetails.Schedules, s)
	}
	declared := map[string]any{}
	for k := range params {
		declared[k] = map[string]string{"Type": "String"}
	}
	body, err := json.Marshal(map[string]any{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Description":              "ssm-backup: the Data Lifecycle Manager policy of " + c.p.Names.Policy + ", deployed from Terraform",
		"Parameters":               declared,
		"Resources":                map[string]any{dlmStackResource: Resource{Type: "AWS::DLM::LifecyclePolicy", Properties: inner}},
		"Outputs":                  map[string]any{dlmStackOutput: map[string]any{"Value": ref{Ref: dlmStackResource}}},
	})
	if err != nil {
		return err
	}
	c.stacked[id] = true
	c.f.resource(tfTypeCFNStack, tfName(id), tfCFNStack{
		Name:         "ssm-backup-" + strings.ReplaceAll(tfName(id), "_", "-"),
		Parameters:   params,
		Tags:         tfTagsOf(props.Tags),
		TemplateBody: tfLiteral(string(body)),
	})
	return nil
}

func init() {
	// What Ref returns: the vault's name, the plan's id, the selection's id,
	// the lifecycle policy's id.
	tfCFNTypes["AWS::Backup::BackupVault"] = struct{ tfType, refAttr string }{tfTypeBackupVault, "name"}
	tfCFNTypes["AWS::Backup::BackupPlan"] = struct{ tfType, refAttr string }{tfTypeBackupPlan, "id"}
	tfCFNTypes["AWS::Backup::BackupSelection"] = struct{ tfType, refAttr string }{tfTypeBackupSelection, "id"}
	tfCFNTypes["AWS::DLM::LifecyclePolicy"] = struct{ tfType, refAttr string }{tfTypeDLMPolicy, "id"}
}

// tfKeep is the lifecycle meta-argument of a resource the template retains
// (DeletionPolicy and UpdateReplacePolicy Retain): Terraform has no retain
// policy, so it refuses to destroy the resource instead; remove it from the
// state (terraform state rm, or a removed block) to let it go.
type tfKeep struct {
	PreventDestroy bool `json:"prevent_destroy"`
}

type tfBackupVault struct {
	KMSKeyARN string            `json:"kms_key_arn,omitempty"`
	Lifecycle *tfKeep           `json:"lifecycle,omitempty"`
	Name      string            `json:"name"`
	Tags      map[string]string `json:"tags"`
}

type tfBackupVaultLock struct {
	BackupVaultName   string  `json:"backup_vault_name"`
	ChangeableForDays int     `json:"changeable_for_days,omitempty"`
	Lifecycle         *tfKeep `json:"lifecycle,omitempty"`
	MaxRetentionDays  int     `json:"max_retention_days,omitempty"`
	MinRetentionDays  int     `json:"min_retention_days"`
}

type tfBackupPlan struct {
	AdvancedBackupSetting []tfBackupAdvanced `json:"advanced_backup_setting,omitempty"`
	Name                  string             `json:"name"`
	Rule                  []tfBackupRule     `json:"rule"`
	Tags                  map[string]string  `json:"tags"`
}

type tfBackupRule struct {
	CompletionWindow           int                 `json:"completion_window"`
	CopyAction                 []tfBackupCopy      `json:"copy_action,omitempty"`
	Lifecycle                  []tfBackupLifecycle `json:"lifecycle,omitempty"`
	RecoveryPointTags          map[string]string   `json:"recovery_point_tags"`
	RuleName                   string              `json:"rule_name"`
	Schedule                   string              `json:"schedule"`
	ScheduleExpressionTimezone string              `json:"schedule_expression_timezone"`
	StartWindow                int                 `json:"start_window"`
	TargetVaultName            string              `json:"target_vault_name"`
}

type tfBackupLifecycle struct {
	ColdStorageAfter                    int  `json:"cold_storage_after,omitempty"`
	DeleteAfter                         int  `json:"delete_after,omitempty"`
	OptInToArchiveForSupportedResources bool `json:"opt_in_to_archive_for_supported_resources,omitempty"`
}

type tfBackupCopy struct {
	DestinationVaultARN string              `json:"destination_vault_arn"`
	Lifecycle           []tfBackupLifecycle `json:"lifecycle,omitempty"`
}

type tfBackupAdvanced struct {
	BackupOptions map[string]string `json:"backup_options"`
	ResourceType  string            `json:"resource_type"`
}

type tfBackupSelection struct {
	Condition  []tfBackupCondition `json:"condition"`
	IAMRoleARN string              `json:"iam_role_arn"`
	Name       string              `json:"name"`
	PlanID     string              `json:"plan_id"`
	Resources  []string            `json:"resources"`
}

type tfBackupCondition struct {
	StringEquals []tfKeyValue `json:"string_equals"`
}

type tfKeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type tfDLMPolicy struct {
	DependsOn        []string          `json:"depends_on,omitempty"`
	Description      string            `json:"description"`
	ExecutionRoleARN string            `json:"execution_role_arn"`
	PolicyDetails    []tfDLMDetails    `json:"policy_details"`
	State            string            `json:"state"`
	Tags             map[string]string `json:"tags"`
}

type tfDLMDetails struct {
	Parameters    []tfDLMParameters `json:"parameters"`
	PolicyType    string            `json:"policy_type"`
	ResourceTypes []string          `json:"resource_types"`
	Schedule      []tfDLMSchedule   `json:"schedule"`
	TargetTags    map[string]string `json:"target_tags"`
}

type tfDLMParameters struct {
	ExcludeBootVolume bool `json:"exclude_boot_volume"`
}

type tfDLMSchedule struct {
	CopyTags            bool               `json:"copy_tags"`
	CreateRule          []tfDLMCreateRule  `json:"create_rule"`
	CrossRegionCopyRule []tfDLMRegionCopy  `json:"cross_region_copy_rule,omitempty"`
	FastRestoreRule     []tfDLMFastRestore `json:"fast_restore_rule,omitempty"`
	Name                string             `json:"name"`
	RetainRule          []tfDLMRetain      `json:"retain_rule"`
	ShareRule           []tfDLMShare       `json:"share_rule,omitempty"`
	TagsToAdd           map[string]string  `json:"tags_to_add"`
	VariableTags        map[string]string  `json:"variable_tags"`
}

type tfDLMCreateRule struct {
	CronExpression string `json:"cron_expression,omitempty"`
	Interval       int    `json:"interval,omitempty"`
	IntervalUnit   string `json:"interval_unit,omitempty"`
}

type tfDLMRetain struct {
	Count        int    `json:"count,omitempty"`
	Interval     int    `json:"interval,omitempty"`
	IntervalUnit string `json:"interval_unit,omitempty"`
}

type tfDLMRegionCopy struct {
	CmkARN     string        `json:"cmk_arn,omitempty"`
	CopyTags   bool          `json:"copy_tags"`
	Encrypted  bool          `json:"encrypted"`
	RetainRule []tfDLMRetain `json:"retain_rule,omitempty"`
	Target     string        `json:"target"`
}

type tfDLMShare struct {
	TargetAccounts []string `json:"target_accounts"`
}

type tfDLMFastRestore struct {
	AvailabilityZones []string `json:"availability_zones"`
	Count             int      `json:"count"`
}

// terraformEngine converts the template resources and outputs of a backup
// or dlm policy.
func terraformEngine(p *PolicyPlan, t *Template, a *engineArtifacts) terraformFragment {
	var f terraformFragment
	c := tfLifecycleConverter{f: &f, p: p, types: map[string]string{}, stacked: map[string]bool{}}
	c.docs = append(c.docs, a.serviceTrust, serviceTrust("ec2.amazonaws.com", false))
	if a.servicePolicy != nil {
		c.docs = append(c.docs, *a.servicePolicy)
	}
	for id, r := range t.Resources {
		c.types[id] = r.Type
	}
	for _, id := range slices.Sorted(maps.Keys(t.Resources)) {
		if err := c.resource(id, t.Resources[id]); err != nil {
			f.err = fmt.Errorf("terraform: policy %s: %s: %w", p.Names.Policy, id, err)
			return f
		}
	}
	for _, id := range slices.Sorted(maps.Keys(t.Outputs)) {
		o := t.Outputs[id]
		value, err := c.value(o.Value)
		if r, ok := o.Value.(ref); ok && c.stacked[r.Ref] {
			value = tfRef(tfTypeCFNStack, tfName(r.Ref), "outputs[\""+dlmStackOutput+"\"]")
		}
		if err != nil {
			f.err = fmt.Errorf("terraform: policy %s: output %s: %w", p.Names.Policy, id, err)
			return f
		}
		f.output(tfName(id), tfOutput{Description: tfLiteral(o.Description), Value: value})
	}
	return f
}

// engineResource converts a template resource of the backup and dlm
// engines, and the instance profile they add.
func (c *tfLifecycleConverter) engineResource(id string, r Resource, deps []string) error {
	f := c.f
	name := tfName(id)
	if len(deps) > 0 {
		return fmt.Errorf("DependsOn of %s is not converted", r.Type)
	}
	switch props := r.Properties.(type) {
	case instanceProfileProperties:
		if len(props.Roles) != 1 {
			return fmt.Errorf("an instance profile holds one role")
		}
		role, err := c.value(props.Roles[0])
		if err != nil {
			return err
		}
		f.resource(tfTypeInstanceProfile, name, tfInstanceProfile{Name: tfLiteral(props.InstanceProfileName), Path: tfLiteral(props.Path), Role: role})
	case backupVaultProperties:
		if props.AccessPolicy != nil {
			return fmt.Errorf("a vault's AccessPolicy is not converted") // only destination templates have one
		}
		var keep *tfKeep
		if r.DeletionPolicy == "Retain" && r.UpdateReplacePolicy == "Retain" {
			keep = &tfKeep{PreventDestroy: true}
		}
		f.resource(tfTypeBackupVault, name, tfBackupVault{Name: tfLiteral(props.BackupVaultName), KMSKeyARN: tfLiteral(props.EncryptionKeyArn), Lifecycle: keep, Tags: tfLiteralMap(props.BackupVaultTags)})
		if lk := props.LockConfiguration; lk != nil {
			f.resource(tfTypeBackupVaultLock, name, tfBackupVaultLock{
				Lifecycle:         keep,
				BackupVaultName:   tfRef(tfTypeBackupVault, name, "name"),
				MinRetentionDays:  lk.MinRetentionDays,
				MaxRetentionDays:  lk.MaxRetentionDays,
				ChangeableForDays: lk.ChangeableForDays,
			})
		}
	case backupPlanResource:
		plan := tfBackupPlan{Name: tfLiteral(props.BackupPlan.BackupPlanName), Tags: tfLiteralMap(props.BackupPlanTags)}
		for _, rule := range props.BackupPlan.BackupPlanRule {
			vault, err := c.value(rule.TargetBackupVault)
			if err != nil {
				return err
			}
			tr := tfBackupRule{
				RuleName: tfLiteral(rule.RuleName), TargetVaultName: vault,
				Schedule: tfLiteral(rule.ScheduleExpression), ScheduleExpressionTimezone: tfLiteral(rule.ScheduleExpressionTimezone),
				StartWindow: rule.StartWindowMinutes, CompletionWindow: rule.CompletionWindowMinutes,
				Lifecycle: tfBackupLifecycles(rule.Lifecycle), RecoveryPointTags: tfLiteralMap(rule.RecoveryPointTags),
			}
			for _, ca := range rule.CopyActions {
				text, ok := subString(ca.DestinationBackupVaultArn)
				if !ok {
					return fmt.Errorf("copy destination %v is not converted", ca.DestinationBackupVaultArn)
				}
				dest, err := tfWithPseudoParameters(text)
				if err != nil {
					return err
				}
				tr.CopyAction = append(tr.CopyAction, tfBackupCopy{DestinationVaultARN: dest, Lifecycle: tfBackupLifecycles(ca.Lifecycle)})
			}
			plan.Rule = append(plan.Rule, tr)
		}
		for _, s := range props.BackupPlan.AdvancedBackupSettings {
			plan.AdvancedBackupSetting = append(plan.AdvancedBackupSetting, tfBackupAdvanced{BackupOptions: tfLiteralMap(s.BackupOptions), ResourceType: s.ResourceType})
		}
		f.resource(tfTypeBackupPlan, name, plan)
	case backupSelectionProperties:
		planID, err := c.value(props.BackupPlanId)
		if err != nil {
			return err
		}
		role, err := c.value(props.BackupSelection.IamRoleArn)
		if err != nil {
			return err
		}
		sel := tfBackupSelection{Name: tfLiteral(props.BackupSelection.SelectionName), PlanID: planID, IAMRoleARN: role}
		for _, res := range props.BackupSelection.Resources {
			text, ok := subString(res)
			if !ok {
				return fmt.Errorf("selection resource %v is not converted", res)
			}
			s, err := tfWithPseudoParameters(text)
			if err != nil {
				return err
			}
			sel.Resources = append(sel.Resources, s)
		}
		var eq []tfKeyValue
		for _, cond := range props.BackupSelection.Conditions.StringEquals {
			eq = append(eq, tfKeyValue{Key: tfLiteral(cond.ConditionKey), Value: tfLiteral(cond.ConditionValue)})
		}
		sel.Condition = []tfBackupCondition{{StringEquals: eq}}
		f.resource(tfTypeBackupSelection, name, sel)
	case dlmPolicyResource:
		if needsStack(props) {
			return c.dlmStack(id, props)
		}
		role, err := c.value(props.ExecutionRoleArn)
		if err != nil {
			return err
		}
		d := props.PolicyDetails
		details := tfDLMDetails{
			PolicyType: d.PolicyType, ResourceTypes: d.ResourceTypes,
			TargetTags: tfTagsOf(d.TargetTags),
			Parameters: []tfDLMParameters{{ExcludeBootVolume: d.Parameters.ExcludeBootVolume}},
		}
		for _, s := range d.Schedules {
			details.Schedule = append(details.Schedule, tfDLMScheduleOf(s))
		}
		f.resource(tfTypeDLMPolicy, name, tfDLMPolicy{
			Description: tfLiteral(props.Description), ExecutionRoleARN: role, State: props.State,
			PolicyDetails: []tfDLMDetails{details}, Tags: tfTagsOf(props.Tags),
		})
	default:
		return fmt.Errorf("%s has no Terraform counterpart here", r.Type)
	}
	return nil
}

func tfDLMScheduleOf(s dlmSchedule) tfDLMSchedule {
	out := tfDLMSchedule{
		Name: tfLiteral(s.Name), CopyTags: s.CopyTags,
		TagsToAdd: tfTagsOf(s.TagsToAdd), VariableTags: tfTagsOf(s.VariableTags),
		RetainRule: []tfDLMRetain{tfDLMRetainOf(s.RetainRule)},
	}
	// Scripts and archive rules go to a stack (needsStack).
	out.CreateRule = []tfDLMCreateRule{{CronExpression: tfLiteral(s.CreateRule.CronExpression), Interval: s.CreateRule.Interval, IntervalUnit: s.CreateRule.IntervalUnit}}
	for _, rc := range s.CrossRegionCopyRules {
		t := tfDLMRegionCopy{Target: rc.TargetRegion, Encrypted: rc.Encrypted, CmkARN: tfLiteral(rc.CmkArn), CopyTags: rc.CopyTags}
		if rc.RetainRule != nil {
			t.RetainRule = []tfDLMRetain{tfDLMRetainOf(*rc.RetainRule)}
		}
		out.CrossRegionCopyRule = append(out.CrossRegionCopyRule, t)
	}
	for _, sr := range s.ShareRules {
		out.ShareRule = append(out.ShareRule, tfDLMShare{TargetAccounts: sr.TargetAccounts})
	}
	if fr := s.FastRestoreRule; fr != nil {
		out.FastRestoreRule = []tfDLMFastRestore{{AvailabilityZones: fr.AvailabilityZones, Count: fr.Count}}
	}
	return out
}

func tfDLMRetainOf(r dlmRetainRule) tfDLMRetain {
	return tfDLMRetain{Count: r.Count, Interval: r.Interval, IntervalUnit: r.IntervalUnit}
}

func tfBackupLifecycles(l *backupLifecycle) []tfBackupLifecycle {
	if l == nil {
		return nil
	}
	return []tfBackupLifecycle{{ColdStorageAfter: l.MoveToColdStorageAfterDays, DeleteAfter: l.DeleteAfterDays, OptInToArchiveForSupportedResources: l.OptInToArchiveForSupportedResources}}
}

// tfLiteralMap escapes the keys and values of a map of literals.
func tfLiteralMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[tfLiteral(k)] = tfLiteral(v)
	}
	return out
}
