package compiler

import (
	"fmt"
	"sort"
	"time"

	"github.com/ssm-backup/ssm-backup/documents"
	"github.com/ssm-backup/ssm-backup/policies"
)

// A policy runs on one of three engines (policies.Engine). The ssm engine is
// the rest of this package: a maintenance window, runbooks and the
// on-instance script. The backup and dlm engines hand the schedule, the
// retention and the copies to AWS Backup or to Amazon Data Lifecycle
// Manager, and the compiler emits their resources instead: for backup a
// vault, a plan and tag-based selections; for dlm a lifecycle policy whose
// pre/post script is the policy's own quiesce document. Validation
// (policies/validate_engines.go) has refused every field the engine
// cannot express, so lowering here never drops one.

// EnginePlan is what a backup or dlm policy needs beyond the common plan.
type EnginePlan struct {
	Engine policies.Engine
	// Backup and DLM are the policy's settings for its engine; nil when it
	// has none.
	Backup *policies.BackupSettings
	DLM    *policies.DLMSettings
	// CronUTC is the schedule in the six-field form both services take;
	// empty for a DLM rate schedule, which is RateHours.
	Cron      string
	RateHours int
}

// Names of the resources of a backup or dlm policy.
func (n Names) engineRole(e policies.Engine) string { return "ssmb-" + n.Policy + "-" + string(e) }

// BackupVaultName is the vault a backup policy keeps its recovery points in.
func (p *PolicyPlan) BackupVaultName() string {
	if b := p.Engine.Backup; b != nil && b.Vault != nil && b.Vault.Name != "" {
		return b.Vault.Name
	}
	return "ssm-backup-" + p.Names.Policy
}

// DLMHooksDocumentName is the Command document DLM runs as the pre/post
// script of a Linux policy that freezes or quiesces.
func (p *PolicyPlan) DLMHooksDocumentName() string {
	return "ssm-backup-" + p.Names.Policy + "-dlm-hooks"
}

// lowerEngine fills the engine plan of a backup or dlm policy.
func lowerEngine(p *policies.Policy, pp *PolicyPlan) error {
	s := p.Spec
	pp.Engine = EnginePlan{Engine: s.EngineOrDefault(), Backup: s.Backup, DLM: s.DLM}
	if pp.Engine.Engine == policies.EngineSSM {
		return nil
	}
	if iv := pp.Schedule.Parsed.RateInterval(); iv > 0 {
		pp.Engine.RateHours = int(iv / time.Hour)
		return nil
	}
	cron, err := pp.Schedule.Parsed.SixFieldCron()
	if err != nil {
		return err
	}
	pp.Engine.Cron = cron
	return nil
}

// usesDLMHooks reports whether DLM runs the policy's quiesce document.
func (p *PolicyPlan) usesDLMHooks() bool {
	return p.Engine.Engine == policies.EngineDLM && p.Platform == policies.Linux &&
		(p.Consistency == policies.Filesystem || p.Consistency == policies.Application)
}

// usesServiceVSS reports whether AWS Backup or DLM runs VSS on the instance.
func (p *PolicyPlan) usesServiceVSS() bool {
	return p.Engine.Engine != policies.EngineSSM && p.Platform == policies.Windows && p.Consistency == policies.Application
}

// engineArtifacts are the generated documents of a backup or dlm policy
// that the summary and the Terraform output read.
type engineArtifacts struct {
	serviceRole    string
	serviceService string
	servicePolicy  *PolicyDocument
	serviceManaged []string
	serviceTrust   PolicyDocument
	// instanceManaged are the managed policies of the instance role; nil
	// when the instances need no role from this policy (nothing runs on
	// them).
	instanceManaged []string
	hooks           *documents.CommandDocument
	// properties is the main resource's properties (BackupPlan or
	// LifecyclePolicy), also written as a file for review.
	properties any
}

const (
	managedSSMCore        = "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
	managedVSSSnapshot    = "arn:${AWS::Partition}:iam::aws:policy/AWSEC2VssSnapshotPolicy"
	managedBackupService  = "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"
	dlmVSSHandler         = "AWS_VSS_BACKUP"
	dlmHandlerService     = "AWS_SYSTEMS_MANAGER"
	backupResourceEC2     = "arn:${AWS::Partition}:ec2:*:*:instance/*"
	backupDefaultComplete = 7 * 24 * time.Hour // AWS Backup's default completion window
)

// buildEngine builds the documents of a backup or dlm policy.
func buildEngine(p *PolicyPlan) (*engineArtifacts, error) {
	a := &engineArtifacts{serviceRole: p.Names.engineRole(p.Engine.Engine)}
	if p.usesServiceVSS() {
		// The service decides how the snapshots are requested and tagged,
		// so the instances get AWS's own VSS policy rather than one scoped
		// to this policy's tags.
		a.instanceManaged = []string{managedSSMCore, managedVSSSnapshot}
	}
	switch p.Engine.Engine {
	case policies.EngineBackup:
		a.serviceService = "backup.amazonaws.com"
		a.serviceTrust = serviceTrust(a.serviceService, false)
		// AWS Backup's own service-role policy: recovery points are
		// protected by the vault (Vault Lock) rather than by this role.
		a.serviceManaged = []string{managedBackupService}
		a.properties = backupPlanProperties(p)
	case policies.EngineDLM:
		a.serviceService = "dlm.amazonaws.com"
		a.serviceTrust = serviceTrust(a.serviceService, true)
		if p.usesDLMHooks() {
			doc, err := documents.LinuxDLMHooksCommand(p.Snapshot)
			if err != nil {
				return nil, fmt.Errorf("policy %s: %w", p.Names.Policy, err)
			}
			a.hooks = &doc
			a.instanceManaged = []string{managedSSMCore}
		}
		pol := dlmServicePolicy(p)
		a.servicePolicy = &pol
		a.properties = dlmPoliciesProperties(p)
	default:
		return nil, fmt.Errorf("policy %s: engine %q", p.Names.Policy, p.Engine.Engine)
	}
	return a, nil
}

// --- AWS Backup -----------------------------------------------------------

type backupVaultProperties struct {
	BackupVaultName   string            `json:"BackupVaultName"`
	EncryptionKeyArn  string            `json:"EncryptionKeyArn,omitempty"`
	LockConfiguration *backupVaultLock  `json:"LockConfiguration,omitempty"`
	BackupVaultTags   map[string]string `json:"BackupVaultTags"`
	// AccessPolicy lets another account copy into the vault (a copy
	// destination's vault only).
	AccessPolicy any `json:"AccessPolicy,omitempty"`
}

type backupVaultLock struct {
	MinRetentionDays  int `json:"MinRetentionDays"`
	MaxRetentionDays  int `json:"MaxRetentionDays,omitempty"`
	ChangeableForDays int `json:"ChangeableForDays,omitempty"`
}

type backupPlanResource struct {
	BackupPlan     backupPlanBody    `json:"BackupPlan"`
	BackupPlanTags map[string]string `json:"BackupPlanTags"`
}

type backupPlanBody struct {
	BackupPlanName         string                  `json:"BackupPlanName"`
	BackupPlanRule         []backupRule            `json:"BackupPlanRule"`
	AdvancedBackupSettings []backupAdvancedSetting `json:"AdvancedBackupSettings,omitempty"`
}

type backupRule struct {
	RuleName                   string             `json:"RuleName"`
	TargetBackupVault          any                `json:"TargetBackupVault"`
	ScheduleExpression         string             `json:"ScheduleExpression"`
	ScheduleExpressionTimezone string             `json:"ScheduleExpressionTimezone"`
	StartWindowMinutes         int                `json:"StartWindowMinutes"`
	CompletionWindowMinutes    int                `json:"CompletionWindowMinutes"`
	Lifecycle                  *backupLifecycle   `json:"Lifecycle,omitempty"`
	RecoveryPointTags          map[string]string  `json:"RecoveryPointTags"`
	CopyActions                []backupCopyAction `json:"CopyActions,omitempty"`
}

type backupLifecycle struct {
	DeleteAfterDays                     int  `json:"DeleteAfterDays,omitempty"`
	MoveToColdStorageAfterDays          int  `json:"MoveToColdStorageAfterDays,omitempty"`
	OptInToArchiveForSupportedResources bool `json:"OptInToArchiveForSupportedResources,omitempty"`
}

type backupCopyAction struct {
	// DestinationBackupVaultArn is the ARN with placeholders (the review
	// file), or its Fn::Sub (the template).
	DestinationBackupVaultArn any              `json:"DestinationBackupVaultArn"`
	Lifecycle                 *backupLifecycle `json:"Lifecycle,omitempty"`
}

type backupAdvancedSetting struct {
	ResourceType  string            `json:"ResourceType"`
	BackupOptions map[string]string `json:"BackupOptions"`
}

type backupSelectionProperties struct {
	BackupPlanId    any                 `json:"BackupPlanId"`
	BackupSelection backupSelectionBody `json:"BackupSelection"`
}

type backupSelectionBody struct {
	SelectionName string           `json:"SelectionName"`
	IamRoleArn    any              `json:"IamRoleArn"`
	Resources     []any            `json:"Resources"`
	Conditions    backupConditions `json:"Conditions"`
}

type backupConditions struct {
	StringEquals []backupCondition `json:"StringEquals"`
}

type backupCondition struct {
	ConditionKey   string `json:"ConditionKey"`
	ConditionValue string `json:"ConditionValue"`
}

// recoveryPointTags are the tags of every recovery point: the policy's
// tag, the consistency asked for, and the user's tags.
func recoveryPointTags(p *PolicyPlan) map[string]string {
	m := map[string]string{TagPolicy: p.Names.Policy, TagConsistency: string(p.Consistency)}
	for _, t := range p.Tags {
		m[t.Key] = t.Value
	}
	return m
}

func tagMap(p *PolicyPlan) map[string]string {
	m := map[string]string{}
	for _, t := range resourceTags(p) {
		m[t.Key] = t.Value
	}
	return m
}

// backupVaultARN is the ARN of the vault a copy goes to: the same vault
// name in the destination region and account (its template creates it).
func backupVaultARN(p *PolicyPlan, c CopyPlan) string {
	region, account := thisRegion, thisAccount
	if c.Region != "" {
		region = c.Region
	}
	if c.Account != "" {
		account = c.Account
	}
	return "arn:${AWS::Partition}:backup:" + region + ":" + account + ":backup-vault:" + p.BackupVaultName()
}

// backupCompletionWindow is how long a started job may run: the policy's
// backup.completionWindow, else AWS Backup's default.
func backupCompletionWindow(p *PolicyPlan) time.Duration {
	if b := p.Engine.Backup; b != nil && b.CompletionWindow != nil {
		return b.CompletionWindow.Value
	}
	return backupDefaultComplete
}

func backupPlanProperties(p *PolicyPlan) backupPlanResource {
	complete := backupCompletionWindow(p)
	rule := backupRule{
		RuleName:                   "ssm-backup-" + p.Names.Policy,
		TargetBackupVault:          ref{Ref: p.Names.Logical + "BackupVault"},
		ScheduleExpression:         p.Engine.Cron,
		ScheduleExpressionTimezone: p.Schedule.Timezone,
		StartWindowMinutes:         p.Schedule.DurationHours * 60,
		CompletionWindowMinutes:    int(complete / time.Minute),
		RecoveryPointTags:          recoveryPointTags(p),
	}
	lc := &backupLifecycle{}
	if p.Retention != nil {
		lc.DeleteAfterDays = p.Retention.MaxAgeDays
	}
	if p.Archive != nil {
		lc.MoveToColdStorageAfterDays = p.Archive.AfterDays
		lc.OptInToArchiveForSupportedResources = true // EBS: the archive tier
	}
	if *lc != (backupLifecycle{}) {
		rule.Lifecycle = lc
	}
	for _, c := range p.Copies {
		ca := backupCopyAction{DestinationBackupVaultArn: backupVaultARN(p, c)}
		if c.Retention != nil && c.Retention.MaxAgeDays > 0 {
			ca.Lifecycle = &backupLifecycle{DeleteAfterDays: c.Retention.MaxAgeDays}
		}
		rule.CopyActions = append(rule.CopyActions, ca)
	}
	body := backupPlanBody{BackupPlanName: "ssm-backup-" + p.Names.Policy, BackupPlanRule: []backupRule{rule}}
	if p.usesServiceVSS() {
		body.AdvancedBackupSettings = []backupAdvancedSetting{{ResourceType: "EC2", BackupOptions: map[string]string{"WindowsVSS": "enabled"}}}
	}
	return backupPlanResource{BackupPlan: body, BackupPlanTags: tagMap(p)}
}

// backupSelections are the tag-based selections of a backup policy. A
// selection's conditions are ANDed; a key whose instances may carry one of
// several values needs one selection per value, so the selections are the
// combinations of the target values (validation bounds their number).
func backupSelections(p *PolicyPlan) [][]backupCondition {
	combos := [][]backupCondition{nil}
	for _, t := range p.Targets {
		var next [][]backupCondition
		for _, c := range combos {
			for _, v := range t.Values {
				cc := append(append([]backupCondition(nil), c...), backupCondition{ConditionKey: "aws:ResourceTag/" + t.Key, ConditionValue: v})
				next = append(next, cc)
			}
		}
		combos = next
	}
	return combos
}

func selectionLogicalID(l string, i int) string {
	if i == 0 {
		return l + "BackupSelection"
	}
	return fmt.Sprintf("%sBackupSelection%d", l, i+1)
}

func addBackupResources(t *Template, p *PolicyPlan, a *engineArtifacts) {
	l := p.Names.Logical
	vault := backupVaultProperties{BackupVaultName: p.BackupVaultName(), BackupVaultTags: tagMap(p)}
	if b := p.Engine.Backup; b != nil && b.Vault != nil {
		vault.EncryptionKeyArn = b.Vault.KMSKeyID
		if lk := b.Vault.Lock; lk != nil {
			vault.LockConfiguration = &backupVaultLock{MinRetentionDays: days(lk.MinRetention.Value)}
			if lk.MaxRetention != nil {
				vault.LockConfiguration.MaxRetentionDays = days(lk.MaxRetention.Value)
			}
			if lk.ChangeableFor != nil {
				vault.LockConfiguration.ChangeableForDays = days(lk.ChangeableFor.Value)
			}
		}
	}
	// The vault holds the recovery points: deleting the stack or replacing
	// the vault must never take them with it.
	t.Resources[l+"BackupVault"] = Resource{Type: "AWS::Backup::BackupVault", DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain", Properties: vault}
	plan := a.properties.(backupPlanResource)
	rules := make([]backupRule, len(plan.BackupPlan.BackupPlanRule))
	for i, r := range plan.BackupPlan.BackupPlanRule {
		rules[i] = r
		rules[i].CopyActions = nil
		for _, ca := range r.CopyActions {
			ca.DestinationBackupVaultArn = withSub(ca.DestinationBackupVaultArn.(string))
			rules[i].CopyActions = append(rules[i].CopyActions, ca)
		}
	}
	plan.BackupPlan.BackupPlanRule = rules
	t.Resources[l+"BackupPlan"] = Resource{Type: "AWS::Backup::BackupPlan", Properties: plan}
	for i, conds := range backupSelections(p) {
		t.Resources[selectionLogicalID(l, i)] = Resource{
			Type: "AWS::Backup::BackupSelection",
			Properties: backupSelectionProperties{
				BackupPlanId: ref{Ref: l + "BackupPlan"},
				BackupSelection: backupSelectionBody{
					SelectionName: fmt.Sprintf("ssm-backup-%s-%d", p.Names.Policy, i+1),
					IamRoleArn:    getAtt{GetAtt: [2]string{l + "ServiceRole", "Arn"}},
					Resources:     []any{withSub(backupResourceEC2)},
					Conditions:    backupConditions{StringEquals: conds},
				},
			},
		}
	}
	t.Outputs[l+"BackupVault"] = Output{Description: "Backup vault of policy " + p.Names.Policy, Value: ref{Ref: l + "BackupVault"}}
	t.Outputs[l+"BackupPlan"] = Output{Description: "Backup plan of policy " + p.Names.Policy, Value: ref{Ref: l + "BackupPlan"}}
}

func days(d time.Duration) int { return int(d / (24 * time.Hour)) }

// --- Data Lifecycle Manager ---------------------------------------------

type dlmPolicyResource struct {
	Description      string           `json:"Description"`
	State            string           `json:"State"`
	ExecutionRoleArn any              `json:"ExecutionRoleArn"`
	PolicyDetails    dlmPolicyDetails `json:"PolicyDetails"`
	Tags             []CFNTag         `json:"Tags"`
}

type dlmPolicyDetails struct {
	PolicyType    string        `json:"PolicyType"`
	ResourceTypes []string      `json:"ResourceTypes"`
	TargetTags    []CFNTag      `json:"TargetTags"`
	Parameters    dlmParameters `json:"Parameters"`
	Schedules     []dlmSchedule `json:"Schedules"`
}

type dlmParameters struct {
	ExcludeBootVolume bool `json:"ExcludeBootVolume"`
}

type dlmSchedule struct {
	Name                 string               `json:"Name"`
	CopyTags             bool                 `json:"CopyTags"`
	TagsToAdd            []CFNTag             `json:"TagsToAdd"`
	VariableTags         []CFNTag             `json:"VariableTags"`
	CreateRule           dlmCreateRule        `json:"CreateRule"`
	RetainRule           dlmRetainRule        `json:"RetainRule"`
	ArchiveRule          *dlmArchiveRule      `json:"ArchiveRule,omitempty"`
	CrossRegionCopyRules []dlmCrossRegionCopy `json:"CrossRegionCopyRules,omitempty"`
	ShareRules           []dlmShareRule       `json:"ShareRules,omitempty"`
	FastRestoreRule      *dlmFastRestore      `json:"FastRestoreRule,omitempty"`
}

type dlmCreateRule struct {
	CronExpression string      `json:"CronExpression,omitempty"`
	Interval       int         `json:"Interval,omitempty"`
	IntervalUnit   string      `json:"IntervalUnit,omitempty"`
	Scripts        []dlmScript `json:"Scripts,omitempty"`
}

type dlmScript struct {
	Stages                          []string `json:"Stages,omitempty"`
	ExecutionHandlerService         string   `json:"ExecutionHandlerService"`
	ExecutionHandler                any      `json:"ExecutionHandler"`
	ExecuteOperationOnScriptFailure bool     `json:"ExecuteOperationOnScriptFailure"`
	ExecutionTimeout                int      `json:"ExecutionTimeout,omitempty"`
	MaximumRetryCount               int      `json:"MaximumRetryCount,omitempty"`
}

type dlmRetainRule struct {
	Count        int    `json:"Count,omitempty"`
	Interval     int    `json:"Interval,omitempty"`
	IntervalUnit string `json:"IntervalUnit,omitempty"`
}

type dlmArchiveRule struct {
	RetainRule dlmArchiveRetain `json:"RetainRule"`
}

type dlmArchiveRetain struct {
	RetentionArchiveTier dlmRetainRule `json:"RetentionArchiveTier"`
}

type dlmCrossRegionCopy struct {
	TargetRegion string         `json:"TargetRegion"`
	Encrypted    bool           `json:"Encrypted"`
	CmkArn       string         `json:"CmkArn,omitempty"`
	CopyTags     bool           `json:"CopyTags"`
	RetainRule   *dlmRetainRule `json:"RetainRule,omitempty"`
}

type dlmShareRule struct {
	TargetAccounts []string `json:"TargetAccounts"`
}

type dlmFastRestore struct {
	AvailabilityZones []string `json:"AvailabilityZones"`
	Count             int      `json:"Count"`
}

// dlmTagsToAdd are the tags DLM puts on every snapshot: the policy's tag
// (the write-once IAM, pruning by DLM's role and the Recycle Bin rule rely
// on it), the consistency asked for, and the user's tags.
func dlmTagsToAdd(p *PolicyPlan) []CFNTag {
	out := []CFNTag{{Key: TagPolicy, Value: p.Names.Policy}, {Key: TagConsistency, Value: string(p.Consistency)}}
	for _, t := range p.Tags {
		out = append(out, CFNTag{Key: t.Key, Value: t.Value})
	}
	return out
}

// dlmTargets are the target tags of the policy's DLM lifecycle policies,
// one each: validation allows one key, and Terraform's target_tags is a map
// that cannot hold one key twice, so a key with several values becomes one
// lifecycle policy per value (an instance carries one value, so they never
// overlap).
func dlmTargets(p *PolicyPlan) []CFNTag {
	var out []CFNTag
	for _, t := range p.Targets {
		for _, v := range t.Values {
			out = append(out, CFNTag{Key: t.Key, Value: v})
		}
	}
	return out
}

func dlmLogicalID(l string, i int) string {
	if i == 0 {
		return l + "LifecyclePolicy"
	}
	return fmt.Sprintf("%sLifecyclePolicy%d", l, i+1)
}

// dlmPoliciesProperties are the policy's DLM lifecycle policies, one per
// target tag value.
func dlmPoliciesProperties(p *PolicyPlan) []dlmPolicyResource {
	var out []dlmPolicyResource
	for _, t := range dlmTargets(p) {
		out = append(out, dlmPolicyProperties(p, t))
	}
	return out
}

func dlmPolicyProperties(p *PolicyPlan, target CFNTag) dlmPolicyResource {
	l := p.Names.Logical
	targets := []CFNTag{target}
	create := dlmCreateRule{CronExpression: p.Engine.Cron}
	if p.Engine.RateHours > 0 {
		create = dlmCreateRule{Interval: p.Engine.RateHours, IntervalUnit: "HOURS"}
	}
	onFailure := p.Engine.DLM != nil && p.Engine.DLM.OnScriptFailure == "crash"
	switch {
	case p.usesDLMHooks():
		create.Scripts = []dlmScript{{
			Stages:                          []string{"PRE", "POST"},
			ExecutionHandlerService:         dlmHandlerService,
			ExecutionHandler:                ref{Ref: l + "HooksDocument"},
			ExecuteOperationOnScriptFailure: onFailure,
			ExecutionTimeout:                documents.LinuxDLMHooksExecutionTimeoutSeconds,
		}}
	case p.usesServiceVSS():
		create.Scripts = []dlmScript{{
			ExecutionHandlerService:         dlmHandlerService,
			ExecutionHandler:                dlmVSSHandler,
			ExecuteOperationOnScriptFailure: onFailure,
		}}
	}
	sched := dlmSchedule{
		Name:         "ssm-backup " + p.Names.Policy,
		CopyTags:     false,
		TagsToAdd:    dlmTagsToAdd(p),
		VariableTags: []CFNTag{{Key: TagInstanceID, Value: "$(instance-id)"}},
		CreateRule:   create,
	}
	if r := p.Retention; r != nil {
		switch {
		case r.KeepCount > 0:
			sched.RetainRule = dlmRetainRule{Count: r.KeepCount}
		case p.Archive != nil:
			// The standard tier keeps a snapshot until it is archived; the
			// archive tier keeps it for the rest of its maximum age.
			sched.RetainRule = dlmRetainRule{Interval: p.Archive.AfterDays, IntervalUnit: "DAYS"}
			sched.ArchiveRule = &dlmArchiveRule{RetainRule: dlmArchiveRetain{RetentionArchiveTier: dlmRetainRule{Interval: r.MaxAgeDays - p.Archive.AfterDays, IntervalUnit: "DAYS"}}}
		default:
			sched.RetainRule = dlmRetainRule{Interval: r.MaxAgeDays, IntervalUnit: "DAYS"}
		}
	}
	var accounts []string
	for _, c := range p.Copies {
		if c.Region == "" {
			accounts = append(accounts, c.Account)
			continue
		}
		rc := dlmCrossRegionCopy{TargetRegion: c.Region, Encrypted: true, CmkArn: c.KMSKeyID, CopyTags: true}
		if c.Retention != nil {
			rc.RetainRule = &dlmRetainRule{Interval: c.Retention.MaxAgeDays, IntervalUnit: "DAYS"}
		}
		sched.CrossRegionCopyRules = append(sched.CrossRegionCopyRules, rc)
	}
	if len(accounts) > 0 {
		sort.Strings(accounts)
		sched.ShareRules = []dlmShareRule{{TargetAccounts: accounts}}
	}
	if d := p.Engine.DLM; d != nil && d.FastRestore != nil {
		sched.FastRestoreRule = &dlmFastRestore{AvailabilityZones: append([]string(nil), d.FastRestore.AvailabilityZones...), Count: d.FastRestore.Count}
	}
	return dlmPolicyResource{
		Description:      "ssm-backup policy " + p.Names.Policy,
		State:            "ENABLED",
		ExecutionRoleArn: getAtt{GetAtt: [2]string{l + "ServiceRole", "Arn"}},
		PolicyDetails: dlmPolicyDetails{
			PolicyType:    "EBS_SNAPSHOT_MANAGEMENT",
			ResourceTypes: []string{"INSTANCE"},
			TargetTags:    targets,
			Parameters:    dlmParameters{ExcludeBootVolume: p.Volumes == policies.DataVolumes},
			Schedules:     []dlmSchedule{sched},
		},
		Tags: cfnTags(p),
	}
}

// dlmServicePolicy is what Data Lifecycle Manager may do for this policy:
// snapshot the target instances, tag the snapshots, delete, copy, archive
// and share only snapshots carrying this policy's tag, run the policy's
// script document on the target instances, and keep its own EventBridge
// rules. It is the AWS managed AWSDataLifecycleManagerServiceRole and
// AWSDataLifecycleManagerSSMFullAccess, narrowed to this policy.
func dlmServicePolicy(p *PolicyPlan) PolicyDocument {
	policyTag := policyTagIs("ec2:ResourceTag/", p.Names.Policy)
	st := []Statement{
		{
			Sid:    "ReadInstancesVolumesSnapshots",
			Effect: "Allow",
			Action: Strings{
				"ec2:DescribeAvailabilityZones", "ec2:DescribeFastSnapshotRestores", "ec2:DescribeInstances",
				"ec2:DescribeSnapshotAttribute", "ec2:DescribeSnapshotTierStatus", "ec2:DescribeSnapshots", "ec2:DescribeVolumes",
			},
			Resource: Strings{"*"},
		},
		{
			Sid:       "SnapshotOnlyTargetInstances",
			Effect:    "Allow",
			Action:    Strings{"ec2:CreateSnapshot", "ec2:CreateSnapshots"},
			Resource:  Strings{arn("ec2", thisRegion, thisAccount, "instance/*")},
			Condition: Condition{"StringEquals": targetTagCondition("ec2:ResourceTag/", p.Targets)},
		},
		{
			Sid:      "SnapshotTheirVolumes",
			Effect:   "Allow",
			Action:   Strings{"ec2:CreateSnapshot", "ec2:CreateSnapshots"},
			Resource: Strings{arn("ec2", thisRegion, thisAccount, "volume/*"), snapshotsIn(thisRegion)},
		},
		{
			Sid:      "TagSnapshots",
			Effect:   "Allow",
			Action:   Strings{"ec2:CreateTags"},
			Resource: Strings{snapshotsIn("*")},
		},
		{
			// DLM deletes the snapshots its retention rules expire; IAM
			// makes sure they are this policy's.
			Sid:       "DeleteOnlyThisPolicysSnapshots",
			Effect:    "Allow",
			Action:    Strings{"ec2:DeleteSnapshot"},
			Resource:  Strings{snapshotsIn("*")},
			Condition: Condition{"StringEquals": policyTag},
		},
		{
			Sid:    "ManageItsScheduleRules",
			Effect: "Allow",
			Action: Strings{
				"events:DeleteRule", "events:DescribeRule", "events:DisableRule", "events:EnableRule",
				"events:ListTargetsByRule", "events:PutRule", "events:PutTargets", "events:RemoveTargets",
			},
			Resource: Strings{arn("events", thisRegion, thisAccount, "rule/AwsDataLifecycleRule.managed-cwe.*")},
		},
	}
	var regions, accounts []string
	for _, c := range p.Copies {
		if c.Region != "" {
			regions = append(regions, c.Region)
		} else {
			accounts = append(accounts, c.Account)
		}
	}
	sort.Strings(accounts)
	share := len(accounts) > 0
	if len(regions) > 0 {
		st = append(st, Statement{
			Sid:       "CopyOnlyThisPolicysSnapshots",
			Effect:    "Allow",
			Action:    Strings{"ec2:CopySnapshot"},
			Resource:  Strings{snapshotsIn("*")},
			Condition: Condition{"StringEquals": policyTag},
		})
		st = append(st, kmsThroughEC2("Copy", regions)...)
	}
	if share {
		st = append(st, Statement{
			Sid:      "ShareOnlyThisPolicysSnapshotsWithItsAccounts",
			Effect:   "Allow",
			Action:   Strings{"ec2:ModifySnapshotAttribute"},
			Resource: Strings{snapshotsIn(thisRegion)},
			Condition: Condition{"StringEquals": {
				"ec2:ResourceTag/" + TagPolicy: {p.Names.Policy},
				"ec2:Add/userId":               Strings(accounts),
			}},
		}, Statement{
			Sid:       "NeverPublic",
			Effect:    "Deny",
			Action:    Strings{"ec2:ModifySnapshotAttribute"},
			Resource:  Strings{snapshotsIn("*")},
			Condition: Condition{"Null": {"ec2:Add/group": {"false"}}},
		})
	}
	if p.Archive != nil {
		st = append(st, Statement{
			Sid:       "ArchiveOnlyThisPolicysSnapshots",
			Effect:    "Allow",
			Action:    Strings{"ec2:ModifySnapshotTier"},
			Resource:  Strings{snapshotsIn(thisRegion)},
			Condition: Condition{"StringEquals": policyTag},
		})
	}
	if d := p.Engine.DLM; d != nil && d.FastRestore != nil {
		st = append(st, Statement{
			Sid:       "FastRestoreOnlyThisPolicysSnapshots",
			Effect:    "Allow",
			Action:    Strings{"ec2:DisableFastSnapshotRestores", "ec2:EnableFastSnapshotRestores"},
			Resource:  Strings{snapshotsIn(thisRegion)},
			Condition: Condition{"StringEquals": policyTag},
		})
	}
	var doc string
	switch {
	case p.usesDLMHooks():
		doc = arn("ssm", thisRegion, thisAccount, "document/"+p.DLMHooksDocumentName())
	case p.usesServiceVSS():
		doc = arn("ssm", thisRegion, "", "document/"+documents.CreateVSSSnapshotDocument)
	}
	if doc != "" {
		st = append(st,
			Statement{
				Sid:      "RunThePolicysScript",
				Effect:   "Allow",
				Action:   Strings{"ssm:DescribeDocument", "ssm:GetDocument", "ssm:SendCommand"},
				Resource: Strings{doc},
			},
			Statement{
				Sid:       "OnTargetInstancesOnly",
				Effect:    "Allow",
				Action:    Strings{"ssm:SendCommand"},
				Resource:  Strings{arn("ec2", thisRegion, thisAccount, "instance/*")},
				Condition: Condition{"StringEquals": targetTagCondition("ssm:resourceTag/", p.Targets)},
			},
			Statement{
				Sid:      "FollowScripts",
				Effect:   "Allow",
				Action:   Strings{"ssm:DescribeInstanceInformation", "ssm:GetCommandInvocation", "ssm:ListCommands"},
				Resource: Strings{"*"},
			})
	}
	return PolicyDocument{Version: iamVersion, Statement: st}
}

// addEngineResources adds every resource of a backup or dlm policy.
func addEngineResources(t *Template, p *PolicyPlan, a *engineArtifacts) {
	n := p.Names
	l := n.Logical
	tags := cfnTags(p)
	role := roleProperties{
		RoleName: a.serviceRole, Path: IAMPath,
		Description:              EngineTitleOf(p) + " runs ssm-backup policy " + n.Policy + " with this role",
		AssumeRolePolicyDocument: withSub(a.serviceTrust),
		Tags:                     tags,
	}
	for _, m := range a.serviceManaged {
		role.ManagedPolicyArns = append(role.ManagedPolicyArns, withSub(m))
	}
	if a.servicePolicy != nil {
		role.Policies = []inlinePolicy{{PolicyName: string(p.Engine.Engine) + "-" + n.Policy, PolicyDocument: withSub(*a.servicePolicy)}}
	}
	t.Resources[l+"ServiceRole"] = Resource{Type: "AWS::IAM::Role", Properties: role}
	if a.instanceManaged != nil {
		var managed []any
		for _, m := range a.instanceManaged {
			managed = append(managed, withSub(m))
		}
		t.Resources[l+"InstanceRole"] = Resource{
			Type: "AWS::IAM::Role",
			Properties: roleProperties{
				RoleName: n.InstanceRole, Path: IAMPath,
				Description:              "Instances of ssm-backup policy " + n.Policy + ": run " + EngineTitleOf(p) + "'s script through Systems Manager",
				AssumeRolePolicyDocument: withSub(serviceTrust("ec2.amazonaws.com", false)),
				ManagedPolicyArns:        managed,
				Tags:                     tags,
			},
		}
		t.Resources[l+"InstanceProfile"] = Resource{
			Type:       "AWS::IAM::InstanceProfile",
			Properties: instanceProfileProperties{InstanceProfileName: n.InstanceProfile, Path: IAMPath, Roles: []ref{{Ref: l + "InstanceRole"}}},
		}
		t.Outputs[l+"InstanceProfile"] = Output{
			Description: "Attach this instance profile to the instances of policy " + n.Policy + " (or attach its managed policies to the role they have)",
			Value:       ref{Ref: l + "InstanceProfile"},
		}
	}
	switch p.Engine.Engine {
	case policies.EngineBackup:
		addBackupResources(t, p, a)
	case policies.EngineDLM:
		if a.hooks != nil {
			t.Resources[l+"HooksDocument"] = Resource{
				Type: "AWS::SSM::Document",
				Properties: documentProperties{
					Name: p.DLMHooksDocumentName(), DocumentType: "Command", DocumentFormat: "JSON",
					UpdateMethod: "NewVersion", Content: *a.hooks, Tags: tags,
				},
			}
		}
		for i, props := range a.properties.([]dlmPolicyResource) {
			id := dlmLogicalID(l, i)
			t.Resources[id] = Resource{Type: "AWS::DLM::LifecyclePolicy", Properties: props}
			t.Outputs[id] = Output{Description: "Data Lifecycle Manager policy of policy " + n.Policy + " for instances tagged " + props.PolicyDetails.TargetTags[0].Key + " = " + props.PolicyDetails.TargetTags[0].Value, Value: ref{Ref: id}}
		}
	}
	addLifecycleResources(t, p) // the Recycle Bin rule (lifecycle_cfn.go)
}

// EngineTitleOf names the service that runs the policy.
func EngineTitleOf(p *PolicyPlan) string { return policies.EngineTitle(p.Engine.Engine) }

// engineFileName is the review file of the main resource.
func engineFileName(e policies.Engine) string {
	if e == policies.EngineBackup {
		return "backup-plan.json"
	}
	return "dlm-lifecycle-policies.json"
}

// emitEnginePolicy renders the files and template resources of a backup
// or dlm policy.
func emitEnginePolicy(p *PolicyPlan) policyOutput {
	ea, err := buildEngine(p)
	if err != nil {
		return policyOutput{err: err}
	}
	a := &policyArtifacts{engine: ea}
	out := policyOutput{artifacts: a, files: Files{}}
	dir := PolicyDir(p.Names.Policy)
	type file struct {
		name string
		v    any
	}
	fs := []file{{engineFileName(p.Engine.Engine), ea.properties}, {"iam/service-trust.json", ea.serviceTrust}}
	if ea.servicePolicy != nil {
		fs = append(fs, file{"iam/service-policy.json", *ea.servicePolicy})
	}
	if ea.hooks != nil {
		fs = append(fs, file{"dlm-hooks-document.json", *ea.hooks})
	}
	if p.Engine.Engine == policies.EngineBackup {
		for _, c := range p.Copies {
			fs = append(fs, file{BackupVaultTemplatePath(c), backupVaultTemplate(p, c)})
		}
	}
	for _, f := range fs {
		b, err := indentJSON(f.v)
		if err != nil {
			return policyOutput{err: fmt.Errorf("policy %s: %s: %w", p.Names.Policy, f.name, err)}
		}
		out.files[dir+f.name] = b
	}
	frag := &Template{Resources: map[string]Resource{}, Outputs: map[string]Output{}}
	addEngineResources(frag, p, ea)
	if out.resources, err = compactEach(frag.Resources); err == nil {
		out.outputs, err = compactEach(frag.Outputs)
	}
	if err != nil {
		return policyOutput{err: fmt.Errorf("policy %s: template: %w", p.Names.Policy, err)}
	}
	out.terraform = terraformEngine(p, frag, ea)
	return out
}

// BackupVaultTemplatePath is the template that creates the vault a backup
// policy's copy goes to, in the copy's region and account.
func BackupVaultTemplatePath(c CopyPlan) string {
	dest := c.Region
	switch {
	case c.Account != "" && c.Region != "":
		dest = c.Account + "-" + c.Region
	case c.Account != "":
		dest = c.Account
	}
	return "copy-destination-vault-" + dest + ".json"
}

// backupVaultTemplate is the template of a copy's destination vault: the
// policy's vault name (the copy action's ARN names it), the copy's KMS key,
// retained like the policy's own vault; in another account, an access
// policy that lets the source account copy into it, and nothing else.
func backupVaultTemplate(p *PolicyPlan, c CopyPlan) destinationTemplate {
	vault := backupVaultProperties{BackupVaultName: p.BackupVaultName(), EncryptionKeyArn: c.KMSKeyID, BackupVaultTags: tagMap(p)}
	where := "this account"
	tmpl := destinationTemplate{AWSTemplateFormatVersion: "2010-09-09"}
	if c.Account != "" {
		where = "account " + c.Account
		tmpl.Parameters = map[string]cfnParameter{"SourceAccountId": {
			Type: "String", AllowedPattern: "^[0-9]{12}$",
			Description: "The account ssm-backup policy " + p.Names.Policy + " runs in, whose AWS Backup copies into this vault",
		}}
		vault.AccessPolicy = withSubAll(PolicyDocument{Version: iamVersion, Statement: []Statement{{
			Sid:       "CopiesFromTheSourceAccountOnly",
			Effect:    "Allow",
			Principal: &Principal{AWS: Strings{"arn:${AWS::Partition}:iam::${SourceAccountId}:root"}},
			Action:    Strings{"backup:CopyIntoBackupVault"},
			Resource:  Strings{"*"},
		}}})
	}
	region := "the region policy " + p.Names.Policy + " is deployed to"
	if c.Region != "" {
		region = c.Region
	}
	tmpl.Description = "ssm-backup policy " + p.Names.Policy + ": the AWS Backup vault its copies go to. Deploy in " + region + " of " + where + " before the policy's first run."
	tmpl.Resources = map[string]Resource{"CopyVault": {
		Type: "AWS::Backup::BackupVault", DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain", Properties: vault,
	}}
	tmpl.Outputs = map[string]Output{"VaultArn": {Description: "The vault the copies of policy " + p.Names.Policy + " go to", Value: getAtt{GetAtt: [2]string{"CopyVault", "BackupVaultArn"}}}}
	return tmpl
}
