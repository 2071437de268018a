package compiler

import (
	"fmt"
	"sort"
	"time"

	"github.com/ssm-backup/ssm-backup/diag"
	"github.com/ssm-backup/ssm-backup/documents"
	"github.com/ssm-backup/ssm-backup/policies"
	"github.com/ssm-backup/ssm-backup/schedule"
)

// Plan is the compiler's intermediate representation: for each policy, the
// strategy chosen and every value the generators need. Generators see only
// the plan, never YAML.
type Plan struct {
	Policies []*PolicyPlan
	// SetID names the set's shared documents (see setID).
	SetID string
}

// PolicyPlan is one policy, lowered.
type PolicyPlan struct {
	Names Names
	// SetID is the plan's, so that per-policy generators can name the
	// shared documents they use.
	SetID       string
	Description string
	Platform    policies.Platform
	Consistency policies.Consistency
	Volumes     policies.VolumeSelection
	// Targets are the maintenance-window target filters, sorted by key.
	Targets  []TagFilter
	Schedule SchedulePlan
	// Tags are the user's tags, sorted by key; applied to snapshots and resources.
	Tags []documents.Tag
	// Snapshot is what the on-instance script does.
	Snapshot documents.LinuxSnapshot
	// RunCommandTimeoutSeconds bounds the aws:runCommand step of the runbook.
	RunCommandTimeoutSeconds int
	// Retention is nil when the policy keeps every snapshot.
	Retention *RetentionPlan
	// Copies, Archive, Protection and Drill: the lifecycle beyond
	// retention (lifecycle.go).
	Copies     []CopyPlan
	Archive    *ArchivePlan
	Protection ProtectionPlan
	Drill      *DrillPlan
	// Windows is the VSS path of a Windows policy (windows.go); nil otherwise.
	Windows *WindowsPlan
	// Engine is the service that runs the policy (engines.go).
	Engine EnginePlan
	// Warnings found by validation, carried into the summary.
	Warnings diag.Diagnostics
}

// RetentionPlan is how many snapshot sets (one per run and instance) the
// prune step keeps. Zero means "not set".
type RetentionPlan struct {
	KeepCount  int
	MaxAgeDays int
	MinKeep    int
}

// TagFilter matches instances whose tag Key has any of Values.
type TagFilter struct {
	Key    string
	Values []string
}

// SchedulePlan is when and how the fleet is backed up.
type SchedulePlan struct {
	Expression     string
	Timezone       string
	Offset         int
	DurationHours  int
	CutoffHours    int
	MaxConcurrency string
	MaxErrors      string
	Parsed         *schedule.Schedule
	Location       *time.Location
}

// Lower turns validated policies into a plan. It reports the problems only
// the compiler can see (resource-name collisions); the policies must have
// passed policies.Validate and CheckSupported without errors.
func Lower(ps []*policies.Policy) (*Plan, diag.Diagnostics) {
	plan := &Plan{}
	var ds diag.Diagnostics
	// Every logical id of every policy must be unique in the template, and
	// distinct names can collide: "a-1" and "a1" both give "A1". Checking
	// whole ids rather than prefixes also covers the shared resources.
	byLogical := map[string]*policies.Policy{LinuxSnapshotLogicalID: nil}
	sorted := append([]*policies.Policy(nil), ps...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Metadata.Name < sorted[j].Metadata.Name })
	for _, p := range sorted {
		pp, err := lowerPolicy(p)
		if err != nil {
			ds = append(ds, diag.Errorf(p.Source.Value("spec"), "spec", "%s", err.Error()))
			continue
		}
		if clash, prev, ok := logicalClash(byLogical, pp.Names); ok {
			d := diag.Diagnostic{
				Severity: diag.Error,
				Summary:  fmt.Sprintf("policy name %q gives the CloudFormation logical id %q, which is already used", p.Metadata.Name, clash),
				Detail:   "the shared documents use it; rename the policy",
				Range:    p.Source.Value("metadata.name"),
				Path:     "metadata.name",
			}
			if prev != nil {
				r := prev.Source.Value("metadata.name")
				d.Detail = fmt.Sprintf("policy %q, defined at %s:%d:%d, uses it too; rename one of them so that their names differ in more than hyphens", prev.Metadata.Name, r.File, r.Start.Line, r.Start.Column)
			}
			ds = append(ds, d)
			continue
		}
		for _, id := range pp.Names.LogicalIDs() {
			byLogical[id] = p
		}
		plan.Policies = append(plan.Policies, pp)
	}
	var names []string
	for _, pp := range plan.Policies {
		names = append(names, pp.Names.Policy)
	}
	plan.SetID = setID(names)
	for _, pp := range plan.Policies {
		pp.SetID = plan.SetID
	}
	return plan, ds
}

func logicalClash(used map[string]*policies.Policy, n Names) (string, *policies.Policy, bool) {
	for _, id := range n.LogicalIDs() {
		if prev, ok := used[id]; ok {
			return id, prev, true
		}
	}
	return "", nil, false
}

// DefaultHookTimeout bounds a custom app's pre and post hooks, each, when
// the policy gives no timeout.
const DefaultHookTimeout = 30 * time.Second

// LowerApps turns a Linux policy's apps into what the snapshot script
// quiesces, in the listed order, with the defaults applied: lockWaitTimeout
// 5s, preFlush true, a hook timeout of DefaultHookTimeout. Durations are
// rounded up to whole seconds, so a bound is never shorter than the policy
// says. Windows apps (VSS writers) have no Linux form and are left out.
func LowerApps(apps []policies.App) []documents.LinuxApp {
	var out []documents.LinuxApp
	for _, a := range apps {
		switch a.Type {
		case policies.MySQL, policies.MariaDB:
			wait := policies.DefaultLockWaitTimeout
			if a.LockWaitTimeout != nil {
				wait = *a.LockWaitTimeout
			}
			out = append(out, documents.LinuxApp{
				Type:            string(a.Type),
				DefaultsFile:    a.DefaultsFile,
				LockWaitSeconds: wholeSeconds(wait.Value),
				PreFlush:        a.PreFlush == nil || *a.PreFlush,
			})
		case policies.PostgreSQL:
			out = append(out, documents.LinuxApp{Type: documents.AppPostgreSQL, Service: a.Service, ServiceFile: a.ServiceFile})
		case policies.Custom:
			timeout := DefaultHookTimeout
			if a.Timeout != nil {
				timeout = a.Timeout.Value
			}
			out = append(out, documents.LinuxApp{Type: documents.AppCustom, Pre: a.Pre, Post: a.Post, TimeoutSeconds: wholeSeconds(timeout)})
		}
	}
	return out
}

func wholeSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func lowerPolicy(p *policies.Policy) (*PolicyPlan, error) {
	s := p.Spec
	parsed, errs := schedule.Parse(s.Schedule.Expression)
	if len(errs) > 0 {
		return nil, fmt.Errorf("schedule expression %q is invalid: %s", s.Schedule.Expression, errs[0].Message)
	}
	loc, err := schedule.LoadLocation(s.Schedule.TimezoneOrDefault())
	if err != nil {
		return nil, err
	}
	offset := 0
	if s.Schedule.Offset != nil {
		offset = *s.Schedule.Offset
	}
	pp := &PolicyPlan{
		Names:       namesFor(p.Metadata.Name),
		Description: p.Metadata.Description,
		Platform:    s.Platform,
		Consistency: s.Consistency,
		Volumes:     s.VolumesOrDefault(),
		Schedule: SchedulePlan{
			Expression:     s.Schedule.Expression,
			Timezone:       s.Schedule.TimezoneOrDefault(),
			Offset:         offset,
			DurationHours:  int(s.Schedule.Window.DurationOrDefault().Value / time.Hour),
			CutoffHours:    int(s.Schedule.Window.CutoffOrDefault().Value / time.Hour),
			MaxConcurrency: s.Schedule.MaxConcurrencyOrDefault(),
			MaxErrors:      s.Schedule.MaxErrorsOrDefault(),
			Parsed:         parsed,
			Location:       loc,
		},
	}
	if pp.Description == "" {
		pp.Description = fmt.Sprintf("Backup policy %s", p.Metadata.Name)
	}
	for k, vs := range s.Targets.Tags {
		values := append([]string(nil), vs...)
		sort.Strings(values)
		pp.Targets = append(pp.Targets, TagFilter{Key: k, Values: values})
	}
	sort.Slice(pp.Targets, func(i, j int) bool { return pp.Targets[i].Key < pp.Targets[j].Key })
	for k, v := range s.Tags {
		pp.Tags = append(pp.Tags, documents.Tag{Key: k, Value: v})
	}
	sort.Slice(pp.Tags, func(i, j int) bool { return pp.Tags[i].Key < pp.Tags[j].Key })

	freeze := int(s.MaxFreezeOrDefault().Value / time.Second)
	pp.Snapshot = documents.LinuxSnapshot{
		Description:       pp.Description,
		PolicyName:        p.Metadata.Name,
		Consistency:       string(s.Consistency),
		Apps:              LowerApps(s.Apps),
		ExcludeBootVolume: pp.Volumes == policies.DataVolumes,
		Mounts:            append([]string(nil), s.Mounts...),
		MaxFreezeSeconds:  freeze,
		Tags:              pp.Tags,
	}
	// The script's own work before and after the freeze is seconds, plus
	// what the applications may take (connecting, CHECKPOINT, post hooks);
	// the step timeout leaves room for it and for a slow instance-metadata
	// service, but stays far below the window so a hung run is noticed.
	timeout := 300 + freeze + pp.Snapshot.AppSeconds()
	pp.Snapshot.TimeoutSeconds = timeout
	pp.RunCommandTimeoutSeconds = timeout + 60
	if r := s.Retention; r != nil {
		pp.Retention = lowerRetention(r)
	}
	if err := lowerEngine(p, pp); err != nil { // engines.go
		return nil, err
	}
	lowerWindows(p, pp) // windows.go
	if err := lowerLifecycle(p, pp); err != nil {
		return nil, err
	}
	return pp, nil
}
