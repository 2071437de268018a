package review

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Policies run by AWS Backup or Data Lifecycle Manager (spec.engine) have
// no maintenance window or runbook: their schedule, targets and retention
// are read from the engine's file, and from the template for AWS Backup's
// tag selections.

// Engine names, as spec.engine writes them.
const (
	EngineSSM    = "ssm"
	EngineBackup = "backup"
	EngineDLM    = "dlm"
)

// Files of an engine policy's directory.
const (
	backupPlanFile = "backup-plan.json"
	dlmPolicyFile  = "dlm-lifecycle-policies.json"
)

// engineOf tells a policy's engine by its files.
func engineOf(dir map[string][]byte) string {
	switch {
	case dir[backupPlanFile] != nil:
		return EngineBackup
	case dir[dlmPolicyFile] != nil:
		return EngineDLM
	}
	return EngineSSM
}

// engineTitles name the service behind each engine.
var engineTitles = map[string]string{EngineSSM: "Systems Manager", EngineBackup: "AWS Backup", EngineDLM: "Data Lifecycle Manager"}

func engineText(e string) string {
	if t, ok := engineTitles[e]; ok {
		return t + " (" + code(e) + ")"
	}
	return code(e)
}

// readBackup reads a policy run by AWS Backup.
func (r *policyReader) readBackup(st *policyState, dir map[string][]byte) {
	var plan struct {
		BackupPlan struct {
			BackupPlanRule []struct {
				ScheduleExpression         string            `json:"ScheduleExpression"`
				RecoveryPointTags          map[string]string `json:"RecoveryPointTags"`
				ScheduleExpressionTimezone string            `json:"ScheduleExpressionTimezone"`
				StartWindowMinutes         int               `json:"StartWindowMinutes"`
				Lifecycle                  *struct {
					DeleteAfterDays            int `json:"DeleteAfterDays"`
					MoveToColdStorageAfterDays int `json:"MoveToColdStorageAfterDays"`
				} `json:"Lifecycle"`
				CopyActions []struct {
					DestinationBackupVaultArn string `json:"DestinationBackupVaultArn"`
					Lifecycle                 *struct {
						DeleteAfterDays int `json:"DeleteAfterDays"`
					} `json:"Lifecycle"`
				} `json:"CopyActions"`
			} `json:"BackupPlanRule"`
		} `json:"BackupPlan"`
	}
	if err := json.Unmarshal(dir[backupPlanFile], &plan); err != nil || len(plan.BackupPlan.BackupPlanRule) != 1 {
		r.notef("policies/%s/%s cannot be read (%v): its schedule and retention are not compared", st.name, backupPlanFile, err)
		return
	}
	rule := plan.BackupPlan.BackupPlanRule[0]
	st.schedule = &Schedule{Expression: rule.ScheduleExpression, Timezone: rule.ScheduleExpressionTimezone, DurationHours: rule.StartWindowMinutes / 60}
	if lc := rule.Lifecycle; lc != nil {
		if lc.DeleteAfterDays > 0 {
			st.retention = Retention{Rule: RuleMaxAge, MaxAgeDays: lc.DeleteAfterDays, MinKeep: 0}
		}
		if lc.MoveToColdStorageAfterDays > 0 {
			st.archive = &Archive{AfterDays: lc.MoveToColdStorageAfterDays}
		}
	}
	for _, ca := range rule.CopyActions {
		c := Copy{Region: vaultARNPart(ca.DestinationBackupVaultArn, 3), Account: vaultARNPart(ca.DestinationBackupVaultArn, 4)}
		if ca.Lifecycle != nil && ca.Lifecycle.DeleteAfterDays > 0 {
			c.Retention = copyRetention(ca.Lifecycle.DeleteAfterDays)
		}
		st.copies = append(st.copies, c)
	}
	st.targets = r.t.backupTargets(st.name)
	st.snapshot = []setting{{"consistency", rule.RecoveryPointTags[tagConsistency]}, {"volumes", "all"}}
}

// tagConsistency is the tag the engines put the policy's consistency in.
const tagConsistency = "ssm-backup:consistency"

// arnPlaceholders renames the pseudo parameters of an ARN, which hold "::"
// themselves, so that the ARN splits into its fields at ":".
var arnPlaceholders = strings.NewReplacer("${AWS::Partition}", "${partition}", "${AWS::Region}", "${region}", "${AWS::AccountId}", "${account}")

// vaultARNPart is field i of a vault ARN; "" for a placeholder (this
// region, this account).
func vaultARNPart(arn string, i int) string {
	arn = arnPlaceholders.Replace(arn)
	parts := strings.Split(arn, ":")
	if i >= len(parts) || strings.HasPrefix(parts[i], "${") {
		return ""
	}
	return parts[i]
}

// backupTargets reads the tag conditions of a backup policy's selections
// from the template: each selection is one combination of values.
func (t *tree) backupTargets(policy string) []Target {
	tf := t.tmpl()
	if tf == nil {
		return nil
	}
	values := map[string][]string{}
	prefix := "ssm-backup-" + policy + "-"
	for _, id := range sortedKeys(tf.Resources) {
		res := tf.Resources[id]
		if res.Type != "AWS::Backup::BackupSelection" {
			continue
		}
		var props struct {
			BackupSelection struct {
				SelectionName string `json:"SelectionName"`
				Conditions    struct {
					StringEquals []struct {
						ConditionKey   string `json:"ConditionKey"`
						ConditionValue string `json:"ConditionValue"`
					} `json:"StringEquals"`
				} `json:"Conditions"`
			} `json:"BackupSelection"`
		}
		if json.Unmarshal(res.Properties, &props) != nil || !strings.HasPrefix(props.BackupSelection.SelectionName, prefix) {
			continue
		}
		for _, c := range props.BackupSelection.Conditions.StringEquals {
			k := strings.TrimPrefix(c.ConditionKey, "aws:ResourceTag/")
			if !slices.Contains(values[k], c.ConditionValue) {
				values[k] = append(values[k], c.ConditionValue)
			}
		}
	}
	return targetsOf(values)
}

func targetsOf(values map[string][]string) []Target {
	var out []Target
	for _, k := range sortedKeys(values) {
		vs := append([]string(nil), values[k]...)
		sort.Strings(vs)
		out = append(out, Target{Key: k, Values: vs})
	}
	return out
}

// readDLM reads a policy run by Data Lifecycle Manager: one lifecycle
// policy per target tag value, the same schedule in each.
func (r *policyReader) readDLM(st *policyState, dir map[string][]byte) {
	var policies []struct {
		PolicyDetails struct {
			TargetTags []struct{ Key, Value string } `json:"TargetTags"`
			Parameters struct {
				ExcludeBootVolume bool `json:"ExcludeBootVolume"`
			} `json:"Parameters"`
			Schedules []struct {
				TagsToAdd  []struct{ Key, Value string } `json:"TagsToAdd"`
				CreateRule struct {
					CronExpression string `json:"CronExpression"`
					Interval       int    `json:"Interval"`
				} `json:"CreateRule"`
				RetainRule struct {
					Count    int `json:"Count"`
					Interval int `json:"Interval"`
				} `json:"RetainRule"`
				ArchiveRule *struct {
					RetainRule struct {
						RetentionArchiveTier struct {
							Interval int `json:"Interval"`
						} `json:"RetentionArchiveTier"`
					} `json:"RetainRule"`
				} `json:"ArchiveRule"`
				CrossRegionCopyRules []struct {
					TargetRegion string `json:"TargetRegion"`
					RetainRule   *struct {
						Interval int `json:"Interval"`
					} `json:"RetainRule"`
				} `json:"CrossRegionCopyRules"`
				ShareRules []struct {
					TargetAccounts []string `json:"TargetAccounts"`
				} `json:"ShareRules"`
			} `json:"Schedules"`
		} `json:"PolicyDetails"`
	}
	if err := json.Unmarshal(dir[dlmPolicyFile], &policies); err != nil || len(policies) == 0 || len(policies[0].PolicyDetails.Schedules) != 1 {
		r.notef("policies/%s/%s cannot be read (%v): its schedule and retention are not compared", st.name, dlmPolicyFile, err)
		return
	}
	values := map[string][]string{}
	for _, p := range policies {
		for _, t := range p.PolicyDetails.TargetTags {
			values[t.Key] = append(values[t.Key], t.Value)
		}
	}
	st.targets = targetsOf(values)
	s := policies[0].PolicyDetails.Schedules[0]
	expr := s.CreateRule.CronExpression
	if expr == "" {
		expr = fmt.Sprintf("rate(%d hours)", s.CreateRule.Interval)
	}
	st.schedule = &Schedule{Expression: expr, Timezone: "UTC"}
	volumes := "all"
	if policies[0].PolicyDetails.Parameters.ExcludeBootVolume {
		volumes = "data"
	}
	for _, t := range s.TagsToAdd {
		if t.Key == tagConsistency {
			st.snapshot = append(st.snapshot, setting{"consistency", t.Value})
		}
	}
	st.snapshot = append(st.snapshot, setting{"volumes", volumes})
	switch {
	case s.RetainRule.Count > 0:
		st.retention = Retention{Rule: RuleCount, KeepCount: s.RetainRule.Count}
	case s.ArchiveRule != nil:
		st.archive = &Archive{AfterDays: s.RetainRule.Interval}
		st.retention = Retention{Rule: RuleMaxAge, MaxAgeDays: s.RetainRule.Interval + s.ArchiveRule.RetainRule.RetentionArchiveTier.Interval}
	case s.RetainRule.Interval > 0:
		st.retention = Retention{Rule: RuleMaxAge, MaxAgeDays: s.RetainRule.Interval}
	}
	for _, c := range s.CrossRegionCopyRules {
		cp := Copy{Region: c.TargetRegion}
		if c.RetainRule != nil {
			cp.Retention = copyRetention(c.RetainRule.Interval)
		}
		st.copies = append(st.copies, cp)
	}
	for _, sr := range s.ShareRules {
		for _, a := range sr.TargetAccounts {
			st.copies = append(st.copies, Copy{Account: a})
		}
	}
}

// copyRetention is the age rule of an engine's copy.
func copyRetention(days int) *Retention {
	r := Retention{Rule: RuleMaxAge, MaxAgeDays: days}
	r.Text = retentionText(r)
	return &r
}
