package compiler

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/ssm-backup/ssm-backup/documents"
	"github.com/ssm-backup/ssm-backup/policies"
)

// The custom applications of a Windows policy are pre and post hooks the
// runbook runs around the VSS snapshot command, through one Command
// document shared by the set (documents/scripts/windows-hooks.ps1): pre
// before it, post right after it, and post again from every failure or
// cancellation between the two, so a paused application is resumed whatever
// happens to the snapshot.
const (
	WindowsHooksDocument  = "ssm-backup-windows-hooks"
	WindowsHooksLogicalID = "WindowsHooksDocument"
	WindowsHooksDir       = "shared/windows-hooks/"

	winPreHooksStep     = "runPreHooks"
	winPostHooksStep    = "runPostHooks"
	winPostAfterFailure = "runPostHooksAfterFailure"
)

// windowsHooks are the custom apps of a Windows policy, in the listed
// order, with LowerApps' default timeout and rounding.
func windowsHooks(apps []policies.App) []documents.WindowsHook {
	var out []documents.WindowsHook
	for _, a := range LowerApps(apps) {
		if a.Type == documents.AppCustom {
			out = append(out, documents.WindowsHook{Pre: a.Pre, Post: a.Post, TimeoutSeconds: a.TimeoutSeconds})
		}
	}
	return out
}

func (p *PolicyPlan) hasWindowsHooks() bool {
	return p.Windows != nil && len(p.Windows.Hooks) > 0
}

// hooksStep runs the hooks document with one action on the instance.
func hooksStep(p *PolicyPlan, name, action, description string) documents.AutomationStep {
	hooks, err := documents.WindowsHooksParameter(p.Windows.Hooks)
	if err != nil {
		// Validation admits only paths and timeouts the pattern takes.
		panic("policy " + p.Names.Policy + ": " + err.Error())
	}
	timeout := documents.WindowsHooksStepSeconds(p.Windows.Hooks)
	return documents.AutomationStep{
		Name:           name,
		Action:         "aws:runCommand",
		Description:    description,
		OnFailure:      "step:" + winPostAfterFailure,
		OnCancel:       "step:" + winPostAfterFailure,
		TimeoutSeconds: timeout + 60,
		Inputs: runCommandInputs{
			DocumentName: p.SharedName(WindowsHooksDocument),
			InstanceIds:  []string{"{{ InstanceId }}"},
			Parameters: map[string][]string{
				documents.HooksParamPolicyName: {p.Names.Policy},
				documents.HooksParamRunID:      {"{{ automation:EXECUTION_ID }}"},
				documents.HooksParamAction:     {action},
				documents.HooksParamHooks:      {hooks},
			},
			TimeoutSeconds: timeout,
			Comment:        "ssm-backup " + p.Names.Policy + ": " + action + " hooks",
		},
	}
}

// wrapWindowsHooks puts the policy's hooks around the runbook's snapshot
// step: the pre hooks before it, the post hooks right after it, and, after
// the runbook's last step, the post hooks that every failure or
// cancellation from the pre hooks through the post hooks leads to. Call it
// once the lifecycle steps have ended the runbook.
func wrapWindowsHooks(doc *documents.AutomationDocument, p *PolicyPlan, snapshot string) {
	if !p.hasWindowsHooks() {
		return
	}
	var steps []documents.AutomationStep
	for _, s := range doc.MainSteps {
		if s.Name != snapshot {
			// A step that goes to the snapshot goes to the pre hooks.
			if s.NextStep == snapshot {
				s.NextStep = winPreHooksStep
			}
			if in, ok := s.Inputs.(branchInputs); ok {
				in.Choices = slices.Clone(in.Choices)
				for i := range in.Choices {
					if in.Choices[i].NextStep == snapshot {
						in.Choices[i].NextStep = winPreHooksStep
					}
				}
				if in.Default == snapshot {
					in.Default = winPreHooksStep
				}
				s.Inputs = in
			}
			steps = append(steps, s)
			continue
		}
		s.OnFailure = "step:" + winPostAfterFailure
		s.OnCancel = "step:" + winPostAfterFailure
		steps = append(steps,
			hooksStep(p, winPreHooksStep, documents.HookActionPre, "The custom pre hooks, in the listed order, each bounded by its timeout; each post hook is recorded as due before its pre hook starts. On failure or cancellation the due post hooks run."),
			s,
			hooksStep(p, winPostHooksStep, documents.HookActionPost, "The due post hooks, last first, at once after the snapshot request; on failure or cancellation they are tried again."))
	}
	after := hooksStep(p, winPostAfterFailure, documents.HookActionPost, "A step failed or was cancelled after the pre hooks started: run the due post hooks (each once), so that no application stays paused. The run still ends Failed.")
	after.OnFailure, after.OnCancel = "Abort", ""
	after.MaxAttempts = 3
	after.IsEnd = true
	doc.MainSteps = append(steps, after)
}

// addWindowsHooksShared emits the hooks document and its script when a
// policy of the plan has hooks.
func addWindowsHooksShared(plan *Plan, files Files, resources map[string]json.RawMessage, tf *renderedTerraform) error {
	if !slices.ContainsFunc(plan.Policies, (*PolicyPlan).hasWindowsHooks) {
		return nil
	}
	doc := documents.WindowsHooksCommand("ssm-backup: the custom pre and post hooks of a Windows policy, run on the instance around its VSS snapshot (pre: in order, each post recorded as due first; post: every due post hook, last first, once). Run by the backup runbook of each Windows policy with custom apps.")
	return addSharedCommandDocument(plan, files, resources, tf, sharedCommandDocument{
		Doc: doc, Dir: WindowsHooksDir, Script: "windows-hooks.ps1", Source: documents.WindowsHooksScript(),
		LogicalID: WindowsHooksLogicalID, Name: plan.SharedName(WindowsHooksDocument), Tag: "windows-hooks",
	})
}

// windowsApplicationText says what VSS quiesces and which hooks run around
// it.
func windowsApplicationText(p *PolicyPlan) string {
	text := "application-consistent (VSS): the application writers"
	if w := p.Windows.Writers; len(w) > 0 {
		text += " (" + strings.Join(w, ", ") + " among them)"
	}
	if p.Windows.NoWriters {
		text = "file-system-consistent (VSS without application writers): NTFS"
	} else {
		text += " and NTFS"
	}
	text += " are frozen for the shadow copy, at most ten seconds"
	hooks := p.Windows.Hooks
	if len(hooks) == 0 {
		return text
	}
	var b strings.Builder
	b.WriteString(text)
	fmt.Fprintf(&b, "; around it the runbook runs the custom hooks through `%s`: the pre hooks in this order before the snapshot command, "+
		"the post hooks, last first, right after it. A post hook is recorded as due on the instance before its pre hook starts and runs once: "+
		"after the snapshot, or, when a step fails or the run is cancelled after the pre hooks started, from the runbook's last-resort step; "+
		"one still due from an earlier run (the instance was unreachable) runs before the next run's pre hooks. There is no watchdog on the instance",
		p.SharedName(WindowsHooksDocument))
	for _, h := range hooks {
		post := "no post hook"
		if h.Post != "" {
			post = "post `" + h.Post + "`"
		}
		fmt.Fprintf(&b, "\n  - pre `%s`, %s, each at most %d s (the hook's processes are stopped after that, and the run fails)", h.Pre, post, h.TimeoutSeconds)
	}
	return b.String()
}
