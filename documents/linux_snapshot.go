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
	// Consistency is "crash", "filesystem" or "application".
	Consistency string
	// Apps are quiesced in this order, and resumed in the reverse order,
	// around the freeze; consistency "application" needs at least one, the
	// other levels none.
	Apps []LinuxApp
	// ExcludeBootVolume leaves the boot volume out of the set (volumes: data).
	ExcludeBootVolume bool
	// Mounts are the mount points to freeze; empty: every ext4 or xfs file
	// system on a data EBS volume of the instance, discovered on the instance.
	Mounts []string
	// MaxFreezeSeconds is the budget, 1..60: how long file systems, database
	// locks and paused applications may be held; the watchdog releases them
	// after it.
	MaxFreezeSeconds int
	// Tags are user tags, applied at creation in addition to the script's own;
	// sorted by key by the caller.
	Tags []Tag
	// TimeoutSeconds is the step timeout: at least 2 × MaxFreezeSeconds + 60
	// + AppSeconds (a queued run waits for the lock, reads metadata, prepares
	// the apps, holds, then releases them).
	TimeoutSeconds int
}

// LinuxApp is an application the script quiesces before the freeze. Only the
// fields of its Type may be set.
type LinuxApp struct {
	// Type is AppMySQL, AppMariaDB, AppPostgreSQL or AppCustom.
	Type string
	// DefaultsFile (mysql, mariadb) is the client's only option file, which
	// holds the credentials; empty: the client's usual option files.
	DefaultsFile string
	// LockWaitSeconds (mysql, mariadb) bounds the wait of FLUSH TABLES WITH
	// READ LOCK (lock_wait_timeout), 1..60.
	LockWaitSeconds int
	// PreFlush (mysql, mariadb) flushes the tables before the lock, so that
	// the lock's own flush is short.
	PreFlush bool
	// Service (postgresql) is the libpq service to connect with; empty: the
	// local socket, as the postgres user (peer authentication).
	Service string
	// ServiceFile (postgresql) is the libpq service file; needs Service.
	ServiceFile string
	// Pre (custom) runs before the freeze; Post, optional, after it whenever
	// Pre was started. Absolute paths on the instance.
	Pre, Post string
	// TimeoutSeconds (custom) bounds Pre (within the budget) and Post, 1..3600.
	TimeoutSeconds int
}

// Application types of LinuxApp.
const (
	AppMySQL      = "mysql"
	AppMariaDB    = "mariadb"
	AppPostgreSQL = "postgresql"
	AppCustom     = "custom"
)

// Tag keys the script adds for each MySQL or MariaDB server whose binary log
// is on: the coordinates read under the lock. The second and third servers
// get the suffixes -2 and -3.
const (
	TagBinlogFile     = "ssm-backup:binlog-file"
	TagBinlogPosition = "ssm-backup:binlog-position"
)

// Consistency levels of a Linux snapshot.
const (
	ConsistencyCrash       = "crash"
	ConsistencyFilesystem  = "filesystem"
	ConsistencyApplication = "application"
)

// Clients the Linux snapshot script can send CreateSnapshots with.
const (
	ClientAuto = "auto" // curl when it can sign (>= 7.75) and the role has credentials, else the CLI
	ClientCurl = "curl" // curl --aws-sigv4 with the instance role's credentials
	ClientCLI  = "cli"  // aws ec2 create-snapshots
)

// Parameters of the Linux snapshot Command document.
const (
	ParamApps              = "Apps"
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
	// MaxSnapshotTags is the user tags' limit: the script adds up to 4 of
	// its own and 2 per MySQL server, and EC2 allows 50.
	MaxSnapshotTags = 40
	MaxStepTimeout  = 172800 // seconds; aws:runShellScript's upper limit (48 h)
	MaxApps         = 8
	MaxMySQLApps    = 3
	// MaxAppSeconds bounds AppSeconds, which the shared document's step
	// timeout must cover.
	MaxAppSeconds = 7200
	// Bounds the script puts on each application step (its readonly
	// constants of the same names).
	mysqlConnectSeconds = 10  // MYSQL_CONNECT_SECONDS: connect, and pre-flush beyond the lock wait
	mysqlReleaseSeconds = 5   // MYSQL_RELEASE_SECONDS: UNLOCK TABLES
	pgCheckpointSeconds = 300 // PG_CHECKPOINT_SECONDS
	killAfterSeconds    = 5   // KILL_AFTER_SECONDS: timeout -k
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
	appPath     = `/[A-Za-z0-9._/-]*`
	mysqlItem   = `(mysql|mariadb):(` + appPath + `)?:([1-9]|[1-5][0-9]|60):[01]`
	pgItem      = `postgresql:([A-Za-z0-9_.-]{1,64}:(` + appPath + `)?|:)`
	customItem  = `custom:` + appPath + `:(` + appPath + `)?:([1-9][0-9]{0,2}|[12][0-9]{3}|3[0-5][0-9]{2}|3600)`
	appItem     = `(` + mysqlItem + `|` + pgItem + `|` + customItem + `)`

	PatternPolicyName       = `^[a-z0-9-]{1,40}$`
	PatternMounts           = `^(` + mountWord + `( ` + mountWord + `)*)?$`
	PatternMaxFreezeSeconds = `^([1-9]|[1-5][0-9]|60)$`
	PatternRunID            = `^[A-Za-z0-9-]{0,64}$`
	// PatternApps: items separated by single spaces, each
	// mysql:DEFAULTS_FILE:LOCK_WAIT_SECONDS:PREFLUSH (or mariadb:...),
	// postgresql:SERVICE:SERVICE_FILE or custom:PRE:POST:TIMEOUT_SECONDS.
	PatternApps = `^(` + appItem + `( ` + appItem + `)*)?$`
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
	appsRE         = regexp.MustCompile(PatternApps)
	appPathRE      = regexp.MustCompile(`^` + appPath + `$`)
	serviceRE      = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// linuxSnapshotInputs is the fixed list of shell variables the document's
// header assigns, each from one parameter. The header holds placeholders
// only: SSM substitutes the values when it runs the command.
var linuxSnapshotInputs = []struct{ Variable, Parameter string }{
	{"SSMB_POLICY", ParamPolicyName},
	{"SSMB_CONSISTENCY", ParamConsistency},
	{"SSMB_APPS", ParamApps},
	{"SSMB_EXCLUDE_BOOT_VOLUME", ParamExcludeBootVolume},
	{"SSMB_MOUNTS", ParamMounts},
	{"SSMB_MAX_FREEZE_SECONDS", ParamMaxFreezeSeconds},
	{"SSMB_TAGS", ParamSnapshotTags},
	{"SSMB_RUN_ID", ParamRunID},
	{"SSMB_CLIENT", ParamClient},
}

// LinuxSnapshotCommand builds the Command document. It returns an error only
// for values a caller should have validated: PolicyName, Consistency, Apps
// (types, fields, counts, time), Mounts, MaxFreezeSeconds, Tags (count,
// characters, reserved prefixes, order, duplicates) and TimeoutSeconds; the
// error names the field.
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
		ParamApps:              appsValue(s.Apps),
		ParamExcludeBootVolume: strconv.FormatBool(s.ExcludeBootVolume),
		ParamMounts:            mounts,
		ParamMaxFreezeSeconds:  strconv.Itoa(s.MaxFreezeSeconds),
		ParamSnapshotTags:      tags,
		ParamRunID:             "",
		ParamClient:            ClientAuto,
	}), nil
}

// SharedLinuxSnapshotTimeoutSeconds bounds the shared document's step: the
// longest budget, the script's work before and after it, and the longest
// time the applications' steps may take (MaxAppSeconds). Every step of the
// script is bounded on its own; this is the agent's last resort.
const SharedLinuxSnapshotTimeoutSeconds = 2*60 + 300 + MaxAppSeconds

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
		ParamApps:         "",
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
		ParamApps:              {appsValue(s.Apps)},
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
				Description:   "crash: no freeze. filesystem: sync and freeze the data file systems during the CreateSnapshots request. application: quiesce the Apps too, around the freeze.",
				Default:       defaults[ParamConsistency],
				AllowedValues: []string{ConsistencyCrash, ConsistencyFilesystem, ConsistencyApplication},
			},
			ParamApps: {
				Type: "String",
				Description: "Applications to quiesce (consistency application only), separated by single spaces: " +
					"mysql:DEFAULTS_FILE:LOCK_WAIT_SECONDS:PREFLUSH (or mariadb:...) holds FLUSH TABLES WITH READ LOCK in one session during the request, with the client's options read from DEFAULTS_FILE only, and tags the binary-log coordinates; " +
					"postgresql:SERVICE:SERVICE_FILE runs CHECKPOINT first (empty SERVICE: local socket as postgres); " +
					"custom:PRE:POST:TIMEOUT_SECONDS runs PRE before the freeze and POST after it whenever PRE ran. Empty: none.",
				Default:        defaults[ParamApps],
				AllowedPattern: PatternApps,
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
				Description:    "Longest hold in seconds (1-60): file systems frozen, database locks held, applications paused. A watchdog releases them after it even if the script dies; the lock wait, pre hooks and request get what is left of it less a margin to release.",
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
	switch s.Consistency {
	case ConsistencyCrash, ConsistencyFilesystem, ConsistencyApplication:
	default:
		return fmt.Errorf("documents: LinuxSnapshot.Consistency %q: must be %q, %q or %q", s.Consistency, ConsistencyCrash, ConsistencyFilesystem, ConsistencyApplication)
	}
	if err := validateApps(s.Consistency, s.Apps); err != nil {
		return err
	}
	for _, m := range s.Mounts {
		if !mountRE.MatchString(m) {
			return fmt.Errorf("documents: LinuxSnapshot.Mounts: %q is not an absolute path of letters, digits and . _ / -", m)
		}
	}
	if s.MaxFreezeSeconds < 1 || s.MaxFreezeSeconds > 60 {
		return fmt.Errorf("documents: LinuxSnapshot.MaxFreezeSeconds %d: must be 1 to 60", s.MaxFreezeSeconds)
	}
	if least := 2*s.MaxFreezeSeconds + stepSlackSeconds + s.AppSeconds(); s.TimeoutSeconds < least || s.TimeoutSeconds > MaxStepTimeout {
		return fmt.Errorf("documents: LinuxSnapshot.TimeoutSeconds %d: must be %d (2 × MaxFreezeSeconds + %d + AppSeconds) to %d", s.TimeoutSeconds, least, stepSlackSeconds, MaxStepTimeout)
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

// AppSeconds is the longest time the script may spend on the applications
// outside the budget: connecting and pre-flushing, CHECKPOINT, unlocking,
// post hooks. (Lock waits and pre hooks are bounded by the budget.)
func (s LinuxSnapshot) AppSeconds() int {
	n := 0
	for _, a := range s.Apps {
		switch a.Type {
		case AppMySQL, AppMariaDB:
			n += mysqlConnectSeconds + a.LockWaitSeconds + 2 + mysqlReleaseSeconds + 2
		case AppPostgreSQL:
			n += pgCheckpointSeconds + killAfterSeconds
		case AppCustom:
			n += a.TimeoutSeconds + killAfterSeconds
		}
	}
	return n
}

func validateApps(consistency string, apps []LinuxApp) error {
	switch {
	case consistency == ConsistencyApplication && len(apps) == 0:
		return fmt.Errorf("documents: LinuxSnapshot.Apps: consistency %q needs at least one application", consistency)
	case consistency != ConsistencyApplication && len(apps) > 0:
		return fmt.Errorf("documents: LinuxSnapshot.Apps: applications are quiesced with consistency %q only, not %q", ConsistencyApplication, consistency)
	case len(apps) > MaxApps:
		return fmt.Errorf("documents: LinuxSnapshot.Apps: %d applications, at most %d", len(apps), MaxApps)
	}
	mysqls := 0
	for i, a := range apps {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("documents: LinuxSnapshot.Apps[%d] (%s): %s", i, a.Type, fmt.Sprintf(format, args...))
		}
		path := func(field, p string, optional bool) error {
			if (p != "" || !optional) && !appPathRE.MatchString(p) {
				return bad("%s %q is not an absolute path of letters, digits and . _ / -", field, p)
			}
			return nil
		}
		var err error
		switch a.Type {
		case AppMySQL, AppMariaDB:
			mysqls++
			err = path("DefaultsFile", a.DefaultsFile, true)
			if a.LockWaitSeconds < 1 || a.LockWaitSeconds > 60 {
				err = bad("LockWaitSeconds %d: must be 1 to 60", a.LockWaitSeconds)
			}
			if a.Service != "" || a.ServiceFile != "" || a.Pre != "" || a.Post != "" || a.TimeoutSeconds != 0 {
				err = bad("only DefaultsFile, LockWaitSeconds and PreFlush apply")
			}
		case AppPostgreSQL:
			err = path("ServiceFile", a.ServiceFile, true)
			if a.Service != "" && !serviceRE.MatchString(a.Service) {
				err = bad("Service %q: 1-64 of A-Z a-z 0-9 _ . -", a.Service)
			}
			if a.ServiceFile != "" && a.Service == "" {
				err = bad("ServiceFile needs Service")
			}
			if a.DefaultsFile != "" || a.LockWaitSeconds != 0 || a.PreFlush || a.Pre != "" || a.Post != "" || a.TimeoutSeconds != 0 {
				err = bad("only Service and ServiceFile apply")
			}
		case AppCustom:
			if err = path("Pre", a.Pre, false); err == nil {
				err = path("Post", a.Post, true)
			}
			if a.TimeoutSeconds < 1 || a.TimeoutSeconds > 3600 {
				err = bad("TimeoutSeconds %d: must be 1 to 3600", a.TimeoutSeconds)
			}
			if a.DefaultsFile != "" || a.LockWaitSeconds != 0 || a.PreFlush || a.Service != "" || a.ServiceFile != "" {
				err = bad("only Pre, Post and TimeoutSeconds apply")
			}
		default:
			err = bad("type must be %s, %s, %s or %s", AppMySQL, AppMariaDB, AppPostgreSQL, AppCustom)
		}
		if err != nil {
			return err
		}
	}
	if mysqls > MaxMySQLApps {
		return fmt.Errorf("documents: LinuxSnapshot.Apps: %d mysql or mariadb servers, at most %d (each adds two tags)", mysqls, MaxMySQLApps)
	}
	if n := (LinuxSnapshot{Apps: apps}).AppSeconds(); n > MaxAppSeconds {
		return fmt.Errorf("documents: LinuxSnapshot.Apps: their steps may take %d s, more than %d s", n, MaxAppSeconds)
	}
	if v := appsValue(apps); !appsRE.MatchString(v) {
		return fmt.Errorf("documents: LinuxSnapshot.Apps render as %q, which does not match %s", v, PatternApps)
	}
	return nil
}

// appsValue renders apps as the Apps parameter value.
func appsValue(apps []LinuxApp) string {
	items := make([]string, 0, len(apps))
	for _, a := range apps {
		var fields []string
		switch a.Type {
		case AppMySQL, AppMariaDB:
			flush := "0"
			if a.PreFlush {
				flush = "1"
			}
			fields = []string{a.DefaultsFile, strconv.Itoa(a.LockWaitSeconds), flush}
		case AppPostgreSQL:
			fields = []string{a.Service, a.ServiceFile}
		case AppCustom:
			fields = []string{a.Pre, a.Post, strconv.Itoa(a.TimeoutSeconds)}
		}
		items = append(items, a.Type+":"+strings.Join(fields, ":"))
	}
	return strings.Join(items, " ")
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
