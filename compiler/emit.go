package compiler

import (
	"fmt"
	"sort"

	"github.com/ssm-backup/ssm-backup/documents"
)

// Files is an emitted tree: slash-separated relative path → contents.
type Files map[string][]byte

// Paths returns the paths in sorted order.
func (f Files) Paths() []string {
	out := make([]string, 0, len(f))
	for p := range f {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Paths of the emitted tree, relative to the output directory.
const (
	SummaryPath  = "summary.md"
	TemplatePath = "cloudformation/template.json"
)

// PolicyDir is the directory of one policy's files.
func PolicyDir(name string) string { return "policies/" + name + "/" }

type policyArtifacts struct {
	runbook documents.AutomationDocument
	window  WindowInputs
	roles   RoleSet
}

func build(p *PolicyPlan) (*policyArtifacts, error) {
	params, err := documents.LinuxSnapshotParameters(p.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", p.Names.Policy, err)
	}
	return &policyArtifacts{
		runbook: buildRunbook(p, params),
		window:  buildWindow(p),
		roles:   buildRoles(p),
	}, nil
}

// Emit renders the plan into files. now is the instant from which the
// summary lists next runs; nothing else depends on it.
func Emit(plan *Plan, opts Options) (Files, error) {
	files := Files{}
	tmpl := &Template{
		AWSTemplateFormatVersion: "2010-09-09",
		Description:              "ssm-backup: consistent EBS snapshots on a schedule, from reviewed policies",
		Resources:                map[string]Resource{},
		Outputs:                  map[string]Output{},
	}
	var all []*policyArtifacts
	for _, p := range plan.Policies {
		a, err := build(p)
		if err != nil {
			return nil, err
		}
		all = append(all, a)
		dir := PolicyDir(p.Names.Policy)
		put := func(name string, v any) error {
			b, err := documents.MarshalIndent(v)
			if err != nil {
				return fmt.Errorf("policy %s: %s: %w", p.Names.Policy, name, err)
			}
			files[dir+name] = b
			return nil
		}
		for _, f := range []struct {
			name string
			v    any
		}{
			{"automation-runbook.json", a.runbook},
			{"maintenance-window.json", a.window},
			{"iam/instance-policy.json", a.roles.InstancePolicy},
			{"iam/instance-trust.json", a.roles.InstanceTrust},
			{"iam/automation-policy.json", a.roles.AutomationPolicy},
			{"iam/automation-trust.json", a.roles.AutomationTrust},
			{"iam/window-policy.json", a.roles.WindowPolicy},
			{"iam/window-trust.json", a.roles.WindowTrust},
		} {
			if err := put(f.name, f.v); err != nil {
				return nil, err
			}
		}
		addPolicyResources(tmpl, p, a)
	}
	if len(plan.Policies) > 0 {
		shared, err := documents.SharedLinuxSnapshotCommand("ssm-backup: consistent EBS snapshots of a Linux instance's volumes, taken on the instance. Run by the backup runbook of each Linux policy, which passes the policy's settings.")
		if err != nil {
			return nil, err
		}
		b, err := documents.MarshalIndent(shared)
		if err != nil {
			return nil, err
		}
		files[LinuxSnapshotDir+"command-document.json"] = b
		files[LinuxSnapshotDir+"linux-snapshot.sh"] = documents.LinuxSnapshotScript()
		addSharedResources(tmpl, shared)
	}
	b, err := documents.MarshalIndent(tmpl)
	if err != nil {
		return nil, err
	}
	files[TemplatePath] = b
	files[SummaryPath] = renderSummary(plan, all, opts)
	return files, nil
}
