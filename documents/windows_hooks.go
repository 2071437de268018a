package documents

import (
	_ "embed"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// windowsHooksScript runs a Windows policy's custom pre and post hooks; its
// header states the rules.
//
//go:embed scripts/windows-hooks.ps1
var windowsHooksScript string

// Parameters of the Windows hooks command document. Each reaches the
// script as a single-quoted PowerShell string, so no allowedPattern admits
// the quote.
const (
	HooksParamPolicyName = "PolicyName"
	HooksParamRunID      = "RunId"
	HooksParamAction     = "Action"
	HooksParamHooks      = "Hooks"

	// HookActionPre and HookActionPost are the values of Action.
	HookActionPre  = "pre"
	HookActionPost = "post"

	// MaxWindowsHookSeconds bounds one hook; the policy language allows 1 s
	// to 1 h.
	MaxWindowsHookSeconds = 3600
	// maxWindowsHooks is how many hooks one policy runs, as on Linux.
	maxWindowsHooks = MaxApps
)

// windowsHookPath is an absolute Windows path of letters, digits, spaces
// and . _ - (the policy language's rule); a hook entry is PRE|POST|SECONDS.
const (
	windowsHookPath  = `[A-Za-z]:\\(?:[A-Za-z0-9._ -]+\\)*[A-Za-z0-9._ -]+`
	windowsHookEntry = windowsHookPath + `\|(?:` + windowsHookPath + `)?\|[1-9][0-9]{0,3}`
	patternHooks     = `^` + windowsHookEntry + `(?:;` + windowsHookEntry + `)*$`
)

var hooksRE = regexp.MustCompile(patternHooks)

// WindowsHook is one custom application of a Windows policy: the pre hook,
// the post hook (may be empty) and the bound of each.
type WindowsHook struct {
	Pre, Post      string
	TimeoutSeconds int
}

// WindowsHooksParameter is the Hooks parameter value of hooks, checked
// against the document's allowedPattern.
func WindowsHooksParameter(hooks []WindowsHook) (string, error) {
	if len(hooks) == 0 || len(hooks) > maxWindowsHooks {
		return "", fmt.Errorf("documents: %d hooks; a policy runs 1 to %d", len(hooks), maxWindowsHooks)
	}
	parts := make([]string, len(hooks))
	for i, h := range hooks {
		if h.TimeoutSeconds < 1 || h.TimeoutSeconds > MaxWindowsHookSeconds {
			return "", fmt.Errorf("documents: hook %s: timeout %d s is out of 1 to %d", h.Pre, h.TimeoutSeconds, MaxWindowsHookSeconds)
		}
		parts[i] = h.Pre + "|" + h.Post + "|" + strconv.Itoa(h.TimeoutSeconds)
	}
	v := strings.Join(parts, ";")
	if !hooksRE.MatchString(v) {
		return "", fmt.Errorf("documents: hooks %q: a path is not an absolute Windows path of letters, digits, spaces and . _ -", v)
	}
	return v, nil
}

// WindowsHooksStepSeconds bounds one run of the document: every pre and
// post hook at its bound (the pre action first runs the post hooks an
// earlier run left due), and a minute to start PowerShell and record.
func WindowsHooksStepSeconds(hooks []WindowsHook) int {
	n := 60
	for _, h := range hooks {
		n += h.TimeoutSeconds
		if h.Post != "" {
			n += h.TimeoutSeconds
		}
	}
	return n
}

// WindowsHooksCommand is the Command document every Windows policy with
// custom hooks runs (aws:runPowerShellScript), twice a run.
func WindowsHooksCommand(description string) CommandDocument {
	return CommandDocument{
		SchemaVersion: "2.2",
		Description:   description,
		Parameters: map[string]Parameter{
			HooksParamPolicyName: {Type: "String", Description: "Policy name: the hooks' records live in %ProgramData%\\ssm-backup\\hooks\\<policy>.", AllowedPattern: patternPolicyName},
			HooksParamRunID:      {Type: "String", Description: "Id of the Automation execution that runs this command, recorded with each due post hook. Empty when run on its own.", Default: "", AllowedPattern: patternRunID},
			HooksParamAction:     {Type: "String", Description: "pre: release what an earlier run left paused, then run the pre hooks in order, recording each post hook as due first; post: run every due post hook, last first, once.", AllowedValues: []string{HookActionPre, HookActionPost}},
			HooksParamHooks:      {Type: "String", Description: "The hooks: PRE|POST|SECONDS entries joined by ; (POST empty when there is none).", AllowedPattern: patternHooks},
		},
		MainSteps: []CommandStep{{
			Action:       "aws:runPowerShellScript",
			Name:         "customHooks",
			Precondition: &Precondition{StringEquals: []string{"platformType", "Windows"}},
			Inputs: RunScriptInputs{
				TimeoutSeconds: strconv.Itoa(maxWindowsHooks*MaxWindowsHookSeconds + 60),
				RunCommand:     strings.Split(strings.TrimSuffix(WindowsHooksRunCommand(), "\n"), "\n"),
			},
		}},
	}
}

// WindowsHooksRunCommand is the PowerShell the document runs: the
// parameters as single-quoted strings in $SsmBackup, then the script.
func WindowsHooksRunCommand() string {
	var fields [][2]string
	for _, p := range []string{HooksParamPolicyName, HooksParamRunID, HooksParamAction, HooksParamHooks} {
		fields = append(fields, [2]string{p, p})
	}
	return powerShellRunCommand(fields, windowsHooksScript)
}

// WindowsHooksScript returns the script's source.
func WindowsHooksScript() []byte { return []byte(windowsHooksScript) }
