package documents

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

//go:embed scripts/linux-snapshot.sh
var linuxSnapshotScript []byte

// LinuxSnapshotScript returns the embedded script's bytes (also written next
// to the document for reviewers). The caller gets its own copy.
func LinuxSnapshotScript() []byte {
	return append([]byte(nil), linuxSnapshotScript...)
}

// Tag is a tag applied to every snapshot at creation.
type Tag struct{ Key, Value string }

// LinuxSnapshot describes the snapshot a Linux instance takes of itself.
type LinuxSnapshot struct {
	// Description describes the document (shown in the console). Free text:
	// it lands in the document's JSON only, never in the script. The
	// snapshots' own description is composed by the script from the policy
	// name, the consistency reached, the instance and the run.
	Description string
	// PolicyName is tagged as ssm-backup:policy on every snapshot; the IAM
	// relies on this tag being requested at creation.
	PolicyName string
	// Consistency is "crash" or "filesystem".
	Consistency string
	// ExcludeBootVolume leaves the boot volume out of the set (volumes: data).
	ExcludeBootVolume bool
	// Mounts are the mount points to freeze; empty: every ext4 or xfs file
	// system on a data EBS volume of the instance, discovered on the instance.
	Mounts []string
	// MaxFreezeSeconds is the freeze budget, 1..60; the watchdog thaws after it.
	MaxFreezeSeconds int
	// Tags are user tags, applied at creation in addition to the script's own;
	// sorted by key by the caller.
	Tags []Tag
	// TimeoutSeconds is the step timeout: at least 2 × MaxFreezeSeconds + 60
	// (a queued run waits for the lock, then reads metadata, then freezes).
	TimeoutSeconds int
}

// Consistency levels of a Linux snapshot.
const (
	ConsistencyCrash      = "crash"
	ConsistencyFilesystem = "filesystem"
)

// Clients the Linux snapshot script can send CreateSnapshots with.
const (
	ClientAuto = "auto" // curl when it can sign (>= 7.75) and the role has credentials, else the CLI
	ClientCurl = "curl" // curl --aws-sigv4 with the instance role's credentials
	ClientCLI  = "cli"  // aws ec2 create-snapshots
)

// Parameters of the Linux snapshot Command document.
const (
	ParamClient            = "Client"
	ParamConsistency       = "Consistency"
	ParamExcludeBootVolume = "ExcludeBootVolume"
	ParamMaxFreezeSeconds  = "MaxFreezeSeconds"
	ParamMounts            = "Mounts"
	ParamPolicyName        = "PolicyName"
	ParamRunID             = "RunId"
	ParamSnapshotTags      = "SnapshotTags"
)

// Limits of the Linux snapshot document.
const (
	MaxSnapshotTags = 40     // user tags; the script adds up to 4 of its own (EC2 allows 50)
	MaxStepTimeout  = 172800 // seconds; aws:runShellScript's upper limit (48 h)
	// The step may wait for another run's lock (its budget + 30 s), then
	// reads metadata and credentials, then freezes for up to the budget.
	stepSlackSeconds     = 60
	linuxSnapshotStep    = "snapshotInstance"
	reservedTagPrefixAWS = "aws:"
	reservedTagPrefix    = "ssm-backup:"
)

// Patterns of the document parameters. SSM pastes a parameter's value into
// the script textually, inside single quotes (see linuxSnapshotInputs), so no
// pattern admits ', \, $, `, a newline or any other control character.
const (
	tagKeyClass = `[A-Za-z0-9 _.:/=+@-]`
	tagItem     = `\{"Key":"` + tagKeyClass + `{1,128}","Value":"` + tagKeyClass + `{0,256}"\}`
	mountWord   = `/[A-Za-z0-9._/-]*`

	PatternPolicyName       = `^[a-z0-9-]{1,40}$`
	PatternMounts           = `^(` + mountWord + `( ` + mountWord + `)*)?$`
	PatternMaxFreezeSeconds = `^([1-9]|[1-5][0-9]|60)$`
	PatternRunID            = `^[A-Za-z0-9-]{0,64}$`
)

// PatternSnapshotTags is the allowedPattern of SnapshotTags: a compact JSON
// array of {"Key":...,"Value":...} objects. The count (at most
// MaxSnapshotTags) is checked here and by the script: a bounded repetition of
// a bounded repetition is more than RE2 compiles.
const PatternSnapshotTags = `^\[(` + tagItem + `(,` + tagItem + `)*)?\]$`

var (
	policyNameRE   = regexp.MustCompile(PatternPolicyName)
	mountsRE       = regexp.MustCompile(PatternMounts)
	snapshotTagsRE = regexp.MustCompile(PatternSnapshotTags)
	tagKeyRE       = regexp.MustCompile(`^` + tagKeyClass + `{1,128}$`)
	tagValueRE     = regexp.MustCompile(`^` + tagKeyClass + `{0,256}$`)
	mountRE        = regexp.MustCompile(`^` + mountWord + `$`)
)

// linuxSnapshotInputs is the fixed list of shell variables the document's
// header assigns, each from one parameter. The header holds placeholders
// only: SSM substitutes the values when it runs the command.
var linuxSnapshotInputs = []struct{ Variable, Parameter string }{
	{"SSMB_POLICY", ParamPolicyName},
	{"SSMB_CONSISTENCY", ParamConsistency},
	{"SSMB_EXCLUDE_BOOT_VOLUME", ParamExcludeBootVolume},
	{"SSMB_MOUNTS", ParamMounts},
	{"SSMB_MAX_FREEZE_SECONDS", ParamMaxFreezeSeconds},
	{"SSMB_TAGS", ParamSnapshotTags},
	{"SSMB_RUN_ID", ParamRunID},
	{"SSMB_CLIENT", ParamClient},
}

// LinuxSnapshotCommand builds the Command document. It returns an error only
// for values a caller should have validated: PolicyName, Consistency, Mounts,
// MaxFreezeSeconds, Tags (count, characters, reserved prefixes, order,
// duplicates) and TimeoutSeconds; the error names the field.
func LinuxSnapshotCommand(s LinuxSnapshot) (CommandDocument, error) {
	if err := s.validate(); err != nil {
		return CommandDocument{}, err
	}
	tags, err := snapshotTagsValue(s.Tags)
	if err != nil {
		return CommandDocument{}, err
	}
	mounts := strings.Join(s.Mounts, " ")
	if !mountsRE.MatchString(mounts) {
		return CommandDocument{}, fmt.Errorf("documents: LinuxSnapshot.Mounts %q do not match %s", mounts, PatternMounts)
	}
	runCommand, err := linuxSnapshotRunCommand()
	if err != nil {
		return CommandDocument{}, err
	}

	description := s.Description
	if description == "" {
		description = fmt.Sprintf("ssm-backup %s: %s-consistent EBS snapshots of the instance's volumes, taken on the instance.", s.PolicyName, s.Consistency)
	}
	return linuxSnapshotDocument(description, s.TimeoutSeconds, runCommand, map[string]any{
		ParamPolicyName:        s.PolicyName,
		ParamConsistency:       s.Consistency,
		ParamExcludeBootVolume: strconv.FormatBool(s.ExcludeBootVolume),
		ParamMounts:            mounts,
		ParamMaxFreezeSeconds:  strconv.Itoa(s.MaxFreezeSeconds),
		ParamSnapshotTags:      tags,
		ParamRunID:             "",
		ParamClient:            ClientAuto,
	}), nil
}

// SharedLinuxSnapshotTimeoutSeconds bounds the shared document's step: the
// longest freeze budget plus the script's work before and after it.
const SharedLinuxSnapshotTimeoutSeconds = 2*60 + 300

// SharedLinuxSnapshotCommand builds the one Command document every Linux
// policy of a set runs: the script is the same for all of them, and each
// policy's runbook passes its own values (see LinuxSnapshotParameters). The
// policy-specific parameters have no default, so a run that forgets one
// fails instead of snapshotting with another policy's settings.
func SharedLinuxSnapshotCommand(description string) (CommandDocument, error) {
	runCommand, err := linuxSnapshotRunCommand()
	if err != nil {
		return CommandDocument{}, err
	}
	return linuxSnapshotDocument(description, SharedLinuxSnapshotTimeoutSeconds, runCommand, map[string]any{
		ParamMounts:       "",
		ParamSnapshotTags: "[]",
		ParamRunID:        "",
		ParamClient:       ClientAuto,
	}), nil
}

// LinuxSnapshotParameters returns the values a runbook passes to the shared
// document for s, as aws:runCommand expects them (name → one value). RunId
// and Client are left to the caller.
func LinuxSnapshotParameters(s LinuxSnapshot) (map[string][]string, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	tags, err := snapshotTagsValue(s.Tags)
	if err != nil {
		return nil, err
	}
	mounts := strings.Join(s.Mounts, " ")
	if !mountsRE.MatchString(mounts) {
		return nil, fmt.Errorf("documents: LinuxSnapshot.Mounts %q do not match %s", mounts, PatternMounts)
	}
	return map[string][]string{
		ParamPolicyName:        {s.PolicyName},
		ParamConsistency:       {s.Consistency},
		ParamExcludeBootVolume: {strconv.FormatBool(s.ExcludeBootVolume)},
		ParamMounts:            {mounts},
		ParamMaxFreezeSeconds:  {strconv.Itoa(s.MaxFreezeSeconds)},
		ParamSnapshotTags:      {tags},
	}, nil
}

// linuxSnapshotDocument assembles the document; a parameter missing from
// defaults has no default and must be passed.
func linuxSnapshotDocument(description string, timeoutSeconds int, runCommand []string, defaults map[string]any) CommandDocument {
	return CommandDocument{
		SchemaVersion: "2.2",
		Description:   description,
		Parameters: map[string]Parameter{
			ParamPolicyName: {
				Type:           "String",
				Description:    "Policy name, tagged as ssm-backup:policy on every snapshot (the IAM policy requires it).",
				Default:        defaults[ParamPolicyName],
				AllowedPattern: PatternPolicyName,
			},
			ParamConsistency: {
				Type:          "String",
				Description:   "crash: no freeze. filesystem: sync and freeze the data file systems during the CreateSnapshots request.",
				Default:       defaults[ParamConsistency],
				AllowedValues: []string{ConsistencyCrash, ConsistencyFilesystem},
			},
			ParamExcludeBootVolume: {
				Type:          "String",
				Description:   "true: snapshot the data volumes only.",
				Default:       defaults[ParamExcludeBootVolume],
				AllowedValues: []string{"true", "false"},
			},
			ParamMounts: {
				Type:           "String",
				Description:    "Space-separated mount points to freeze. Empty: every ext4 or xfs file system on a data EBS volume of the instance. Never frozen: /, /tmp and the file systems of the SSM agent, its logs and the script.",
				Default:        defaults[ParamMounts],
				AllowedPattern: PatternMounts,
			},
			ParamMaxFreezeSeconds: {
				Type:           "String",
				Description:    "Longest freeze in seconds (1-60). A watchdog thaws after it even if the script dies; the request gets what is left of it less a margin to thaw.",
				Default:        defaults[ParamMaxFreezeSeconds],
				AllowedPattern: PatternMaxFreezeSeconds,
			},
			ParamSnapshotTags: {
				Type:           "String",
				Description:    `User tags applied to the snapshots at creation, as a compact JSON array: [{"Key":"k","Value":"v"}]. Keys 1-128 and values 0-256 of A-Z a-z 0-9 space _ . : / = + @ -.`,
				Default:        defaults[ParamSnapshotTags],
				AllowedPattern: PatternSnapshotTags,
			},
			ParamRunID: {
				Type:           "String",
				Description:    "Id of the Automation execution that runs this command, tagged as ssm-backup:run-id. Empty when run on its own.",
				Default:        defaults[ParamRunID],
				AllowedPattern: PatternRunID,
			},
			ParamClient: {
				Type:          "String",
				Description:   "How CreateSnapshots is sent: curl (--aws-sigv4, curl 7.75 or later, role credentials from instance metadata), cli (aws ec2 create-snapshots), auto (curl when possible, else the CLI).",
				Default:       defaults[ParamClient],
				AllowedValues: []string{ClientAuto, ClientCurl, ClientCLI},
			},
		},
		MainSteps: []CommandStep{{
			Action:       "aws:runShellScript",
			Name:         linuxSnapshotStep,
			Precondition: &Precondition{StringEquals: []string{"platformType", "Linux"}},
			Inputs: RunScriptInputs{
				TimeoutSeconds: strconv.Itoa(timeoutSeconds),
				RunCommand:     runCommand,
			},
		}},
	}
}

func (s LinuxSnapshot) validate() error {
	if !policyNameRE.MatchString(s.PolicyName) {
		return fmt.Errorf("documents: LinuxSnapshot.PolicyName %q does not match %s", s.PolicyName, PatternPolicyName)
	}
	if s.Consistency != ConsistencyCrash && s.Consistency != ConsistencyFilesystem {
		return fmt.Errorf("documents: LinuxSnapshot.Consistency %q: must be %q or %q", s.Consistency, ConsistencyCrash, ConsistencyFilesystem)
	}
	for _, m := range s.Mounts {
		if !mountRE.MatchString(m) {
			return fmt.Errorf("documents: LinuxSnapshot.Mounts: %q is not an absolute path of letters, digits and . _ / -", m)
		}
	}
	if s.MaxFreezeSeconds < 1 || s.MaxFreezeSeconds > 60 {
		return fmt.Errorf("documents: LinuxSnapshot.MaxFreezeSeconds %d: must be 1 to 60", s.MaxFreezeSeconds)
	}
	if least := 2*s.MaxFreezeSeconds + stepSlackSeconds; s.TimeoutSeconds < least || s.TimeoutSeconds > MaxStepTimeout {
		return fmt.Errorf("documents: LinuxSnapshot.TimeoutSeconds %d: must be %d (2 × MaxFreezeSeconds + %d) to %d", s.TimeoutSeconds, least, stepSlackSeconds, MaxStepTimeout)
	}
	if len(s.Tags) > MaxSnapshotTags {
		return fmt.Errorf("documents: LinuxSnapshot.Tags: %d tags, at most %d", len(s.Tags), MaxSnapshotTags)
	}
	for i, t := range s.Tags {
		switch {
		case !tagKeyRE.MatchString(t.Key):
			return fmt.Errorf("documents: LinuxSnapshot.Tags: key %q: 1-128 of A-Z a-z 0-9 space _ . : / = + @ -", t.Key)
		case !tagValueRE.MatchString(t.Value):
			return fmt.Errorf("documents: LinuxSnapshot.Tags: value %q of %q: 0-256 of A-Z a-z 0-9 space _ . : / = + @ -", t.Value, t.Key)
		case strings.HasPrefix(t.Key, reservedTagPrefixAWS), strings.HasPrefix(t.Key, reservedTagPrefix):
			return fmt.Errorf("documents: LinuxSnapshot.Tags: key %q is reserved (%s and %s)", t.Key, reservedTagPrefixAWS, reservedTagPrefix)
		case i > 0 && s.Tags[i-1].Key == t.Key:
			return fmt.Errorf("documents: LinuxSnapshot.Tags: key %q appears twice", t.Key)
		case i > 0 && s.Tags[i-1].Key > t.Key:
			return fmt.Errorf("documents: LinuxSnapshot.Tags: not sorted by key (%q before %q)", s.Tags[i-1].Key, t.Key)
		}
	}
	return nil
}

// snapshotTagsValue renders tags as the SnapshotTags parameter value.
func snapshotTagsValue(tags []Tag) (string, error) {
	type tagJSON struct {
		Key   string `json:"Key"`
		Value string `json:"Value"`
	}
	list := make([]tagJSON, 0, len(tags))
	for _, t := range tags {
		list = append(list, tagJSON(t))
	}
	b, err := json.Marshal(list)
	if err != nil {
		return "", err
	}
	if !snapshotTagsRE.Match(b) {
		return "", fmt.Errorf("documents: LinuxSnapshot.Tags render as %s, which does not match the SnapshotTags pattern", b)
	}
	return string(b), nil
}

// linuxSnapshotRunCommand is the script's first line (its #! line), the
// parameter header, then the rest of the script, one element per line.
func linuxSnapshotRunCommand() ([]string, error) {
	script := strings.TrimSuffix(string(linuxSnapshotScript), "\n")
	lines := strings.Split(script, "\n")
	if !strings.HasPrefix(lines[0], "#!") {
		return nil, fmt.Errorf("documents: scripts/linux-snapshot.sh does not start with #!")
	}
	if strings.Contains(script, "{{") {
		return nil, fmt.Errorf("documents: scripts/linux-snapshot.sh contains {{, which SSM would read as a parameter")
	}
	out := make([]string, 0, len(lines)+len(linuxSnapshotInputs)+1)
	out = append(out, lines[0])
	out = append(out, "# Document parameters: SSM substitutes each placeholder; no allowedPattern admits a single quote.")
	for _, in := range linuxSnapshotInputs {
		out = append(out, in.Variable+"='{{ "+in.Parameter+" }}'")
	}
	// Full-line comments and blank lines stay in the reviewed .sh file but
	// not in the document: SSM limits a document's size, and the document
	// is what runs. shellcheck directives are kept so the rendered command
	// lints the same as the file.
	for _, line := range lines[1:] {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || (strings.HasPrefix(trimmed, "#") && !strings.HasPrefix(trimmed, "# shellcheck")) {
			continue
		}
		out = append(out, line)
	}
	return out, nil
}
