package documents

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
)

//go:embed scripts/linux-dlm-hooks.sh
var linuxDLMHooksScript []byte

// LinuxDLMHooksExecutionTimeoutSeconds is what the compiler puts in the DLM
// policy's ExecutionTimeout for the hooks document (DLM allows 10 to 120),
// and the document's own step timeout. A pre-script ends well inside it,
// held or failed and released: LinuxDLMHooksCommand refuses a policy whose
// steps may not fit.
const LinuxDLMHooksExecutionTimeoutSeconds = 120

// Parameters DLM passes to the hooks document, and their values.
const (
	ParamDLMCommand     = "command"
	ParamDLMExecutionID = "executionId"

	DLMCommandPreScript  = "pre-script"
	DLMCommandPostScript = "post-script"
	DLMCommandDryRun     = "dry-run"

	// PatternDLMExecutionID is DLM's executionId: a UUID, the same for the
	// pre-script and the post-script of one run, or None.
	PatternDLMExecutionID = `^(None|[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12})$`
)

// Time bounds of the hooks script (its readonly constants of the same names
// in upper case), and what the Go side allows for the fixed work.
const (
	// dlmPreSeconds: a pre-script stops a holder that has neither held nor
	// failed by then (DLM_PRE_SECONDS); a post-script waits that long for
	// the release.
	dlmPreSeconds = 100
	// dlmStopSeconds: from SIGTERM to SIGKILL of a holder (DLM_STOP_SECONDS).
	dlmStopSeconds = 8
	// dlmLockSeconds: the holder's wait for another run's lock (DLM_LOCK_SECONDS).
	dlmLockSeconds = 5
	// dlmCheckpointSeconds bounds PostgreSQL's CHECKPOINT in a pre-script
	// (DLM_CHECKPOINT_SECONDS), in place of pgCheckpointSeconds, which
	// would not fit.
	dlmCheckpointSeconds = 30
	// dlmFixedSeconds is a pre-script's work besides the applications' steps
	// and the hold: the lock wait, instance metadata (discovery only), the
	// plan, sync, starting the holder.
	dlmFixedSeconds = 15

	linuxDLMHooksStep = "runPrePostScript"
)

// linuxSnapshotModeLine is the line of linux-snapshot.sh below which only
// the snapshot mode's code follows: the hooks document runs the script above
// it, then linux-dlm-hooks.sh.
const linuxSnapshotModeLine = "# ==== the DLM hooks document ends above this line ===="

// linuxDLMHooksInputs is the fixed list of shell variables the hooks
// document's header assigns, each from one parameter.
var linuxDLMHooksInputs = []struct{ Variable, Parameter string }{
	{"SSMB_DLM_COMMAND", ParamDLMCommand},
	{"SSMB_EXECUTION_ID", ParamDLMExecutionID},
	{"SSMB_POLICY", ParamPolicyName},
	{"SSMB_CONSISTENCY", ParamConsistency},
	{"SSMB_APPS", ParamApps},
	{"SSMB_MOUNTS", ParamMounts},
	{"SSMB_MAX_FREEZE_SECONDS", ParamMaxFreezeSeconds},
}

// LinuxDLMHooksCommand builds the per-policy Command document that Amazon
// Data Lifecycle Manager runs as the pre and post script of a policy that
// targets instances (Scripts: Stages PRE and POST, ExecutionHandlerService
// AWS_SYSTEMS_MANAGER, ExecutionTimeout
// LinuxDLMHooksExecutionTimeoutSeconds). DLM passes only command and
// executionId; the policy's values are the defaults of the other parameters.
// The pre-script quiesces the applications and freezes the file systems,
// held by a process that outlives it; DLM then takes the snapshots; the
// post-script releases. scripts/linux-dlm-hooks.sh says how.
//
// Of s, Description, PolicyName, Consistency, Apps, Mounts and
// MaxFreezeSeconds are used. Tags, ExcludeBootVolume and TimeoutSeconds are
// ignored: DLM tags the snapshots and selects the volumes itself, and
// bounds each script with its ExecutionTimeout.
//
// It returns an error, naming the field, for values a caller should have
// validated: PolicyName, Consistency (crash needs no script: DLM takes
// crash-consistent snapshots by itself), Apps, Mounts, MaxFreezeSeconds, and
// Apps whose steps, with the fixed work and the hold, may not fit the time a
// pre-script has within the ExecutionTimeout.
func LinuxDLMHooksCommand(s LinuxSnapshot) (CommandDocument, error) {
	if err := s.validateDLMHooks(); err != nil {
		return CommandDocument{}, err
	}
	runCommand, err := linuxDLMHooksRunCommand()
	if err != nil {
		return CommandDocument{}, err
	}
	description := s.Description
	if description == "" {
		description = fmt.Sprintf("ssm-backup %s: Amazon Data Lifecycle Manager pre and post script for %s-consistent snapshots of the instance's volumes.", s.PolicyName, s.Consistency)
	}
	return CommandDocument{
		SchemaVersion: "2.2",
		Description:   description,
		Parameters: map[string]Parameter{
			ParamDLMCommand: {
				Type:          "String",
				Description:   "Passed by Data Lifecycle Manager. pre-script: quiesce the applications and freeze the file systems, held until the post-script (or MaxFreezeSeconds). post-script: release them. dry-run: check that the instance is ready, holding nothing.",
				Default:       DLMCommandDryRun,
				AllowedValues: []string{DLMCommandPreScript, DLMCommandPostScript, DLMCommandDryRun},
			},
			ParamDLMExecutionID: {
				Type:           "String",
				Description:    "Passed by Data Lifecycle Manager: the same id for the pre-script and the post-script of one run. None when run by hand.",
				Default:        "None",
				AllowedPattern: PatternDLMExecutionID,
			},
			ParamPolicyName: {
				Type:           "String",
				Description:    "Policy name; names the hold's state directory, /run/ssm-backup/dlm/<PolicyName>.",
				Default:        s.PolicyName,
				AllowedPattern: PatternPolicyName,
			},
			ParamConsistency: {
				Type:          "String",
				Description:   "filesystem: sync and freeze the file systems. application: quiesce the Apps too, around the freeze.",
				Default:       s.Consistency,
				AllowedValues: []string{ConsistencyFilesystem, ConsistencyApplication},
			},
			ParamApps: {
				Type:           "String",
				Description:    "Applications to quiesce (consistency application only), as for the snapshot document: mysql:DEFAULTS_FILE:LOCK_WAIT_SECONDS:PREFLUSH (or mariadb:...), postgresql:SERVICE:SERVICE_FILE, custom:PRE:POST:TIMEOUT_SECONDS, separated by single spaces. The binary-log coordinates read under each lock are printed by the pre-script.",
				Default:        appsValue(s.Apps),
				AllowedPattern: PatternApps,
			},
			ParamMounts: {
				Type:           "String",
				Description:    "Space-separated mount points to freeze. Empty: every ext4 or xfs file system on a data EBS volume of the instance. A pre-script that cannot freeze one of them fails.",
				Default:        strings.Join(s.Mounts, " "),
				AllowedPattern: PatternMounts,
			},
			ParamMaxFreezeSeconds: {
				Type:           "String",
				Description:    "Longest hold in seconds (1-60), from its start: file systems frozen, database locks held, applications paused. Released by then even if the post-script has not come or the holder died; the post-script then fails.",
				Default:        strconv.Itoa(s.MaxFreezeSeconds),
				AllowedPattern: PatternMaxFreezeSeconds,
			},
		},
		MainSteps: []CommandStep{{
			Action:       "aws:runShellScript",
			Name:         linuxDLMHooksStep,
			Precondition: &Precondition{StringEquals: []string{"platformType", "Linux"}},
			Inputs: RunScriptInputs{
				TimeoutSeconds: strconv.Itoa(LinuxDLMHooksExecutionTimeoutSeconds),
				RunCommand:     runCommand,
			},
		}},
	}, nil
}

func (s LinuxSnapshot) validateDLMHooks() error {
	if !policyNameRE.MatchString(s.PolicyName) {
		return fmt.Errorf("documents: LinuxSnapshot.PolicyName %q does not match %s", s.PolicyName, PatternPolicyName)
	}
	switch s.Consistency {
	case ConsistencyFilesystem, ConsistencyApplication:
	case ConsistencyCrash:
		return fmt.Errorf("documents: LinuxSnapshot.Consistency %q: Data Lifecycle Manager takes crash-consistent snapshots without a pre or post script; the hooks document is for %q or %q", s.Consistency, ConsistencyFilesystem, ConsistencyApplication)
	default:
		return fmt.Errorf("documents: LinuxSnapshot.Consistency %q: must be %q or %q", s.Consistency, ConsistencyFilesystem, ConsistencyApplication)
	}
	if err := validateApps(s.Consistency, s.Apps); err != nil {
		return err
	}
	for _, m := range s.Mounts {
		if !mountRE.MatchString(m) {
			return fmt.Errorf("documents: LinuxSnapshot.Mounts: %q is not an absolute path of letters, digits and . _ / -", m)
		}
	}
	if mounts := strings.Join(s.Mounts, " "); !mountsRE.MatchString(mounts) {
		return fmt.Errorf("documents: LinuxSnapshot.Mounts %q do not match %s", mounts, PatternMounts)
	}
	if s.MaxFreezeSeconds < 1 || s.MaxFreezeSeconds > 60 {
		return fmt.Errorf("documents: LinuxSnapshot.MaxFreezeSeconds %d: must be 1 to 60", s.MaxFreezeSeconds)
	}
	if n := s.dlmPreScriptSeconds(); n > dlmPreSeconds {
		return fmt.Errorf("documents: LinuxSnapshot.Apps: a pre-script may take %d s (%d s of fixed work, MaxFreezeSeconds %d, %d s of application steps), more than the %d s it has within Data Lifecycle Manager's %d s ExecutionTimeout",
			n, dlmFixedSeconds, s.MaxFreezeSeconds, s.dlmAppSeconds(), dlmPreSeconds, LinuxDLMHooksExecutionTimeoutSeconds)
	}
	return nil
}

// dlmAppSeconds is AppSeconds with the pre-script's bound on CHECKPOINT.
func (s LinuxSnapshot) dlmAppSeconds() int {
	n := s.AppSeconds()
	for _, a := range s.Apps {
		if a.Type == AppPostgreSQL {
			n -= pgCheckpointSeconds - dlmCheckpointSeconds
		}
	}
	return n
}

// dlmPreScriptSeconds is the longest a pre-script may take, failing and
// releasing included: the fixed work, the applications' steps outside the
// hold (dlmAppSeconds: preparing, and on failure unlocking and the post
// hooks), and the hold's start, whose lock waits and pre hooks the budget
// bounds.
func (s LinuxSnapshot) dlmPreScriptSeconds() int {
	return dlmFixedSeconds + s.MaxFreezeSeconds + s.dlmAppSeconds()
}

// linuxDLMHooksRunCommand is linux-snapshot.sh's first line (its #! line),
// the parameter header, the rest of linux-snapshot.sh down to
// linuxSnapshotModeLine, then linux-dlm-hooks.sh; without full-line comments
// and blank lines, as in linuxSnapshotRunCommand.
func linuxDLMHooksRunCommand() ([]string, error) {
	snapshot := string(linuxSnapshotScript)
	if n := strings.Count(snapshot, "\n"+linuxSnapshotModeLine+"\n"); n != 1 {
		return nil, fmt.Errorf("documents: scripts/linux-snapshot.sh has the line %q %d times, want once", linuxSnapshotModeLine, n)
	}
	shared, _, _ := strings.Cut(snapshot, "\n"+linuxSnapshotModeLine+"\n")
	hooks := strings.TrimSuffix(string(linuxDLMHooksScript), "\n")
	if strings.Contains(shared, "{{") || strings.Contains(hooks, "{{") {
		return nil, fmt.Errorf("documents: the DLM hooks script contains {{, which SSM would read as a parameter")
	}
	lines := strings.Split(shared, "\n")
	if !strings.HasPrefix(lines[0], "#!") {
		return nil, fmt.Errorf("documents: scripts/linux-snapshot.sh does not start with #!")
	}
	out := []string{lines[0], "# Document parameters: SSM substitutes each placeholder; no allowedPattern or allowedValues admits a single quote."}
	for _, in := range linuxDLMHooksInputs {
		out = append(out, in.Variable+"='{{ "+in.Parameter+" }}'")
	}
	out = append(out, scriptCode(lines[1:])...)
	return append(out, scriptCode(strings.Split(hooks, "\n"))...), nil
}

// scriptCode drops full-line comments and blank lines, keeping shellcheck
// directives: the reviewed .sh files keep them, the document stays small.
func scriptCode(lines []string) []string {
	var out []string
	for _, line := range lines {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || (strings.HasPrefix(trimmed, "#") && !strings.HasPrefix(trimmed, "# shellcheck")) {
			continue
		}
		out = append(out, line)
	}
	return out
}
