package compiler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"sync"

	"github.com/ssm-backup/ssm-backup/documents"
	"github.com/ssm-backup/ssm-backup/policies"
)

// usesLinuxScript reports whether a policy of the set runs the shared
// Linux document: an ssm-engine Linux policy that is not stopped.
func (p *Plan) usesLinuxScript() bool {
	for _, pp := range p.Policies {
		if usesLinuxSnapshotScript(pp) {
			return true
		}
	}
	return false
}

// runbookDependsOn makes the runbook of a policy that runs the shared Linux
// document wait for it.
func runbookDependsOn(p *PolicyPlan) []string {
	if usesLinuxSnapshotScript(p) {
		return []string{LinuxSnapshotLogicalID}
	}
	return nil
}

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
	// runbookJSON is the runbook, compact: the standalone file and the
	// template's document content are rendered from the same bytes.
	runbookJSON json.RawMessage
	// engine holds what a backup or dlm policy generates instead of the
	// above (engines.go).
	engine *engineArtifacts
}

func build(p *PolicyPlan) (*policyArtifacts, error) {
	var params map[string][]string
	var err error
	if usesLinuxSnapshotScript(p) {
		if params, err = documents.LinuxSnapshotParameters(p.Snapshot); err != nil {
			return nil, fmt.Errorf("policy %s: %w", p.Names.Policy, err)
		}
	}
	a := &policyArtifacts{
		runbook: buildRunbook(p, params),
		window:  buildWindow(p),
		roles:   buildRoles(p),
	}
	// Stopped and Windows policies run their own runbook (stopped_strategy.go).
	applyStrategy(p, a)
	if a.runbookJSON, err = compactJSON(a.runbook); err != nil {
		return nil, fmt.Errorf("policy %s: runbook: %w", p.Names.Policy, err)
	}
	return a, nil
}

// policyOutput is everything emitted for one policy, rendered by a worker.
type policyOutput struct {
	artifacts *policyArtifacts
	files     Files
	resources map[string]json.RawMessage
	outputs   map[string]json.RawMessage
	terraform terraformFragment
	err       error
}

// renderedTemplate is the template with every resource already rendered.
type renderedTemplate struct {
	AWSTemplateFormatVersion string                     `json:"AWSTemplateFormatVersion"`
	Description              string                     `json:"Description"`
	Resources                map[string]json.RawMessage `json:"Resources"`
	Outputs                  map[string]json.RawMessage `json:"Outputs,omitempty"`
}

// emitPolicy renders one policy's files and template resources. It touches
// nothing shared, so policies are rendered in parallel.
func emitPolicy(p *PolicyPlan) policyOutput {
	if p.Engine.Engine != policies.EngineSSM {
		return emitEnginePolicy(p)
	}
	a, err := build(p)
	if err != nil {
		return policyOutput{err: err}
	}
	out := policyOutput{artifacts: a, files: Files{}}
	dir := PolicyDir(p.Names.Policy)
	for _, f := range []struct {
		name string
		v    any
	}{
		{"automation-runbook.json", a.runbookJSON},
		{"maintenance-window.json", a.window},
		{"iam/instance-policy.json", a.roles.InstancePolicy},
		{"iam/instance-trust.json", a.roles.InstanceTrust},
		{"iam/automation-policy.json", a.roles.AutomationPolicy},
		{"iam/automation-trust.json", a.roles.AutomationTrust},
		{"iam/window-policy.json", a.roles.WindowPolicy},
		{"iam/window-trust.json", a.roles.WindowTrust},
	} {
		b, err := indentJSON(f.v)
		if err != nil {
			return policyOutput{err: fmt.Errorf("policy %s: %s: %w", p.Names.Policy, f.name, err)}
		}
		out.files[dir+f.name] = b
	}
	// Destination templates of shares, the restore drill (lifecycle_cfn.go).
	if err := addLifecycleFiles(out.files, dir, p); err != nil {
		return policyOutput{err: err}
	}
	frag := &Template{Resources: map[string]Resource{}, Outputs: map[string]Output{}}
	addPolicyResources(frag, p, a)
	if out.resources, err = compactEach(frag.Resources); err == nil {
		out.outputs, err = compactEach(frag.Outputs)
	}
	if err != nil {
		return policyOutput{err: fmt.Errorf("policy %s: template: %w", p.Names.Policy, err)}
	}
	out.terraform = terraformPolicy(p, a)
	return out
}

func compactEach[V any](m map[string]V) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		b, err := compactJSON(v)
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	return out, nil
}

// compactJSON marshals without HTML escaping (scripts hold < > &).
func compactJSON(v any) (json.RawMessage, error) {
	if raw, ok := v.(json.RawMessage); ok {
		return raw, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// indentJSON renders v as the indented, newline-terminated JSON of every
// emitted file.
func indentJSON(v any) ([]byte, error) {
	raw, ok := v.(json.RawMessage)
	if !ok {
		return documents.MarshalIndent(v)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// Emit renders the plan into files. opts.Now is the instant from which the
// summary lists next runs; nothing else depends on it.
func Emit(plan *Plan, opts Options) (Files, error) {
	results := make([]policyOutput, len(plan.Policies))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = emitPolicy(plan.Policies[i])
			}
		}()
	}
	for i := range plan.Policies {
		next <- i
	}
	close(next)
	wg.Wait()

	files := Files{}
	tmpl := &renderedTemplate{
		AWSTemplateFormatVersion: "2010-09-09",
		Description:              "ssm-backup: consistent EBS snapshots on a schedule, from reviewed policies",
		Resources:                map[string]json.RawMessage{},
		Outputs:                  map[string]json.RawMessage{},
	}
	tf := newRenderedTerraform()
	all := make([]*policyArtifacts, 0, len(results))
	for _, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		if err := tf.add(r.terraform); err != nil {
			return nil, err
		}
		all = append(all, r.artifacts)
		for k, v := range r.files {
			files[k] = v
		}
		for k, v := range r.resources {
			tmpl.Resources[k] = v
		}
		for k, v := range r.outputs {
			tmpl.Outputs[k] = v
		}
	}
	if plan.usesLinuxScript() {
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
		frag := &Template{Resources: map[string]Resource{}}
		addSharedResources(frag, plan.SharedName(LinuxSnapshotDocument), shared)
		rendered, err := compactEach(frag.Resources)
		if err != nil {
			return nil, err
		}
		for k, v := range rendered {
			tmpl.Resources[k] = v
		}
		if err := tf.add(terraformShared(plan.SharedName(LinuxSnapshotDocument), shared)); err != nil {
			return nil, err
		}
	}
	// The DISKSHADOW document, when a policy uses it (windows_diskshadow.go).
	if err := addWindowsShared(plan, files, tmpl.Resources, tf); err != nil {
		return nil, err
	}
	b, err := writeTemplate(tmpl)
	if err != nil {
		return nil, err
	}
	files[TemplatePath] = b
	if files[TerraformPath], err = tf.render(); err != nil {
		return nil, err
	}
	files[SummaryPath] = renderSummary(plan, all, opts)
	return files, nil
}
