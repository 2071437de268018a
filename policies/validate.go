package policies

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/ssm-backup/ssm-backup/diag"
	"github.com/ssm-backup/ssm-backup/schedule"
)

// WarningInfo describes one warning Validate may report. Warnings never fail
// a build on their own; Code is stable so that documentation can list it and
// users can silence it.
type WarningInfo struct {
	Code  string
	Title string
}

// Warning codes.
const (
	WarnNoOffsiteCopy     = "W001"
	WarnShortRetention    = "W002"
	WarnDatabaseAllAtOnce = "W003"
	WarnRootNotFrozen     = "W004"
	WarnNoRetention       = "W005"
	WarnSameTargets       = "W006"
	WarnWindowTooShort    = "W007"
	WarnDSTAmbiguous      = "W008"
	WarnStoppedDowntime   = "W009"
	WarnArchiveUnreached  = "W010"
)

// Warnings lists every warning Validate reports, in code order.
var Warnings = []WarningInfo{
	{WarnNoOffsiteCopy, "no off-site copy: the 3-2-1 rule is not met"},
	{WarnShortRetention, "retention keeps less history than one might expect from the schedule"},
	{WarnDatabaseAllAtOnce, "half or more of a database fleet is backed up at the same time"},
	{WarnRootNotFrozen, "the root file system is not frozen: its snapshot is crash-consistent only"},
	{WarnNoRetention, "no retention: snapshots are kept forever"},
	{WarnSameTargets, "two policies select the same instances, which are then snapshotted twice"},
	{WarnWindowTooShort, "the window is too short to back up the expected fleet at this concurrency"},
	{WarnDSTAmbiguous, "runs fall in an hour that daylight saving time skips or repeats"},
	{WarnStoppedDowntime, "consistency stopped: every running instance is stopped inside the window (downtime)"},
	{WarnArchiveUnreached, "retention by count may delete snapshots before they are old enough for the archive tier"},
}

// EstimatedInstanceTime is how long W007 counts for backing up one instance:
// the runbook's checks, the Run Command round trip, the script (metadata,
// freeze, one CreateSnapshots request, thaw) and pruning. The freeze itself
// is seconds; the rest is Systems Manager's scheduling and polling, which
// takes minutes per instance in practice. It is an estimate for a warning,
// never a limit.
const EstimatedInstanceTime = 5 * time.Minute

// DSTHorizon is the span W008 checks for runs that daylight saving time
// skips or repeats: the calendar years 2026 and 2027, in the schedule's time
// zone. A fixed span keeps validation independent of the clock, so the
// same policy draws the same warnings on every machine and every day; two
// years cover both changes of every zone that observes daylight saving time.
var DSTHorizon = struct {
	From  time.Time
	Years int
}{time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC), 2}

// Limits that come from AWS and from this tool's design. Each is explained
// where it is checked.
const (
	maxNameLength        = 40
	maxDescriptionLength = 128 // Systems Manager MaintenanceWindowDescription
	maxTargetTagKeys     = 5   // Systems Manager Targets: at most 5 per window target
	maxTargetTagValues   = 50  // Systems Manager TargetValues
	maxTagKeyLength      = 128 // EC2 tag key
	maxTagValueLength    = 256 // EC2 tag value
	// EC2 allows 50 tags per snapshot; ssm-backup adds its own (policy,
	// instance, volume, device, run), so users get 40 and room is left.
	maxSnapshotTags = 40
	// Each copy is one CopySnapshot per snapshot and run, and EBS limits the
	// concurrent copies into one destination region; five destinations is
	// already more than a 3-2-1 setup needs.
	maxCopies            = 5
	maxScheduleLength    = 256 // Systems Manager MaintenanceWindowSchedule
	maxConcurrencyLength = 7   // Systems Manager MaxConcurrency / MaxErrors
	minArchiveAfter      = 90 * 24 * time.Hour
	day                  = 24 * time.Hour
	minMaxAge            = day
	minFreeze            = time.Second
	maxFreezeLimit       = 60 * time.Second
	minLockWait          = time.Second
	maxLockWait          = 60 * time.Second
	maxCustomTimeout     = time.Hour
	minRetentionCount    = 1
	maxRetentionCount    = 1000
	minScheduleOffset    = 1
	maxScheduleOffset    = 6
	minWindowHours       = 1
	maxWindowHours       = 24
	maxWindowCutoffHrs   = 23
)

var (
	nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`)
	// Maintenance window target keys (tag:<key>) allow letters, spaces and
	// numbers in any script and _ . : / = - @ — but not the + that EC2 tag
	// keys may hold.
	targetKeyRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=@-]*$`)
	// The character set EC2 and the other AWS services agree on for tags.
	tagValueRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+@-]*$`)
	// Snapshot tags reach the on-instance script as a document parameter
	// whose allowedPattern is ASCII only.
	snapshotTagRE   = regexp.MustCompile(`^[A-Za-z0-9 _.:/=+@-]*$`)
	maxConcRE       = regexp.MustCompile(`^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$`)
	maxErrorsRE     = regexp.MustCompile(`^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$`)
	regionRE        = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`)
	accountRE       = regexp.MustCompile(`^[0-9]{12}$`)
	instanceRE      = regexp.MustCompile(`^i-[0-9a-f]{8}([0-9a-f]{9})?$`)
	unixPathRE      = regexp.MustCompile(`^/[A-Za-z0-9._/-]*$`)
	pathCharsRE     = regexp.MustCompile(`^[A-Za-z0-9._/-]*$`)
	windowsPathRE   = regexp.MustCompile(`^[A-Za-z]:\\([A-Za-z0-9._ -]+\\)*[A-Za-z0-9._ -]+$`)
	serviceNameRE   = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	kmsKeyRE        = regexp.MustCompile(`^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)|alias/[A-Za-z0-9/_-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)
	percentOrNumber = regexp.MustCompile(`^([0-9]+)(%?)$`)
)

// Mount points that hold the SSM agent, its state and logs, the script's
// working and temporary files, or the programs they run. The agent and the
// script write there while the data file systems are frozen; if one of them
// were frozen too, the process that thaws it would wait for itself.
var agentMounts = []string{
	"/", "/bin", "/sbin", "/usr", "/usr/bin", "/usr/sbin", "/usr/local", "/etc", "/tmp", "/var",
	"/var/lib", "/var/lib/amazon", "/var/lib/amazon/ssm", "/var/log", "/var/log/amazon",
	"/var/log/amazon/ssm", "/var/tmp", "/snap", "/var/snap", "/var/snap/amazon-ssm-agent",
}

var (
	platforms     = []string{string(Linux), string(Windows)}
	volumeSets    = []string{string(AllVolumes), string(DataVolumes), string(RootVolume)}
	consistencies = []string{string(Crash), string(Filesystem), string(Application), string(Stopped)}
	appTypes      = []string{string(MySQL), string(MariaDB), string(PostgreSQL), string(Custom), string(SQLServer), string(Exchange)}
	vssModes      = []string{"managed", "diskshadow"}
	// A few common zones to suggest from when a time zone is misspelt.
	commonZones = []string{
		"UTC", "Europe/London", "Europe/Dublin", "Europe/Berlin", "Europe/Paris", "Europe/Amsterdam",
		"Europe/Madrid", "Europe/Rome", "Europe/Zurich", "Europe/Vienna", "Europe/Stockholm",
		"Europe/Warsaw", "Europe/Helsinki", "Europe/Moscow", "America/New_York", "America/Chicago",
		"America/Denver", "America/Phoenix", "America/Los_Angeles", "America/Toronto",
		"America/Vancouver", "America/Sao_Paulo", "America/Mexico_City", "Asia/Tokyo", "Asia/Seoul",
		"Asia/Shanghai", "Asia/Hong_Kong", "Asia/Singapore", "Asia/Kolkata", "Asia/Dubai",
		"Asia/Jakarta", "Australia/Sydney", "Australia/Melbourne", "Australia/Perth",
		"Pacific/Auckland", "Africa/Johannesburg",
	}
)

// Fields that each application type takes, besides type.
var appFields = map[AppType][]string{
	MySQL:      {"defaultsFile", "lockWaitTimeout", "preFlush"},
	MariaDB:    {"defaultsFile", "lockWaitTimeout", "preFlush"},
	PostgreSQL: {"service", "serviceFile"},
	Custom:     {"pre", "post", "timeout"},
	SQLServer:  nil,
	Exchange:   nil,
}

var allAppFields = []string{"defaultsFile", "lockWaitTimeout", "preFlush", "service", "serviceFile", "pre", "post", "timeout"}

func isDatabase(t AppType) bool {
	switch t {
	case MySQL, MariaDB, PostgreSQL, SQLServer, Exchange:
		return true
	}
	return false
}

// Validate checks every rule of the policy language that a schema cannot
// express: enums with suggestions, required fields, cross-field rules,
// schedule expressions and AWS limits. It reports every problem of every
// policy at once, each at the position of the value it is about, sorted.
//
// Warnings a policy lists in spec.lint.ignore are left out; W006, which is
// about two policies, is left out when either of them ignores it.
func Validate(ps []*Policy) diag.Diagnostics {
	var ds diag.Diagnostics
	var checked []*validator
	for _, p := range ps {
		if p == nil {
			continue
		}
		src := p.Source
		if src == nil {
			src = synthesizeSource(p)
		}
		v := &validator{p: p, src: src}
		v.policy()
		ds = append(ds, v.withoutIgnored(v.ds)...)
		checked = append(checked, v)
	}
	ds = append(ds, sameTargets(checked)...)
	return ds.Sorted()
}

// withoutIgnored drops the warnings the policy ignores.
func (v *validator) withoutIgnored(ds diag.Diagnostics) diag.Diagnostics {
	if len(v.ignore) == 0 {
		return ds
	}
	out := ds[:0:0]
	for _, d := range ds {
		if d.Severity == diag.Warning && v.ignore[d.Code] {
			continue
		}
		out = append(out, d)
	}
	return out
}

// synthesizeSource gives a policy built in code, rather than loaded, a
// source: which fields it sets and where they would be in its YAML form.
func synthesizeSource(p *Policy) *Source {
	data, err := yaml.Marshal(p)
	if err == nil {
		if ps, _ := Load("", data); len(ps) == 1 && ps[0].Source != nil {
			return ps[0].Source
		}
	}
	return &Source{}
}

type validator struct {
	p   *Policy
	src *Source
	ds  diag.Diagnostics
	// Facts later rules depend on; empty when the field is invalid.
	platform    Platform
	consistency Consistency
	volumes     VolumeSelection
	engineKind  Engine
	sched       *schedule.Schedule
	loc         *time.Location
	// ignore holds the known warning codes of spec.lint.ignore.
	ignore map[string]bool
}

func (v *validator) errorf(path, detail, format string, args ...any) {
	v.ds = append(v.ds, diag.Diagnostic{
		Severity: diag.Error,
		Summary:  fmt.Sprintf(format, args...),
		Detail:   detail,
		Range:    v.src.Value(path),
		Path:     path,
	})
}

// keyErrorf reports at the key of path rather than at its value: for fields
// that should not be there at all.
func (v *validator) keyErrorf(path, detail, format string, args ...any) {
	v.ds = append(v.ds, diag.Diagnostic{
		Severity: diag.Error,
		Summary:  fmt.Sprintf(format, args...),
		Detail:   detail,
		Range:    v.src.Key(path),
		Path:     path,
	})
}

func (v *validator) warnf(code string, r diag.Range, path, detail, format string, args ...any) {
	v.ds = append(v.ds, diag.Diagnostic{
		Severity: diag.Warning,
		Code:     code,
		Summary:  fmt.Sprintf(format, args...),
		Detail:   detail,
		Range:    r,
		Path:     path,
	})
}

// given reports whether the field at path was written and read without
// error, so that its value can be checked.
func (v *validator) given(path string) bool {
	return v.src.Has(path) && !v.src.unreadable(path)
}

// require reports a required field that is missing, at the mapping that
// should hold it (or at the document start), and returns whether the field
// is there to be checked.
func (v *validator) require(parent, name, hint string) bool {
	p := joinPath(parent, name)
	if v.src.Has(p) {
		return !v.src.unreadable(p)
	}
	if parent != "" && (!v.src.Has(parent) || v.src.unreadable(parent)) {
		return false // the parent is missing or broken, and reported as such
	}
	if v.src.isMisspelt(p) {
		return false // reported as an unknown key: "did you mean ..."
	}
	in := ""
	if parent != "" {
		in = " in " + parent
	}
	r := v.src.Value(parent) // the document's range when parent is ""
	v.ds = append(v.ds, diag.Diagnostic{
		Severity: diag.Error,
		Summary:  fmt.Sprintf("missing required field %q%s", name, in),
		Detail:   hint,
		Range:    r,
		Path:     p,
	})
	return false
}

// enum checks that value is one of allowed and suggests the closest value.
func (v *validator) enum(path, value string, allowed []string) bool {
	for _, a := range allowed {
		if value == a {
			return true
		}
	}
	detail := ""
	if s := Suggest(value, allowed); s != "" && value != "" {
		detail = fmt.Sprintf("did you mean %q?", s)
	}
	v.errorf(path, detail, "%s must be one of %s, not %q", path, strings.Join(allowed, ", "), value)
	return false
}

func (v *validator) policy() {
	p := v.p
	if v.require("", "apiVersion", fmt.Sprintf("start the document with \"apiVersion: %s\"", APIVersion)) {
		if p.APIVersion != APIVersion {
			detail := fmt.Sprintf("this version of ssm-backup reads %q", APIVersion)
			if s := Suggest(p.APIVersion, []string{APIVersion}); s != "" {
				detail = fmt.Sprintf("did you mean %q?", s)
			}
			v.errorf("apiVersion", detail, "apiVersion must be %q, not %q", APIVersion, p.APIVersion)
		}
	}
	if v.require("", "kind", fmt.Sprintf("add \"kind: %s\"", Kind)) {
		if p.Kind != Kind {
			detail := fmt.Sprintf("a policy file holds documents of kind %q", Kind)
			if s := Suggest(p.Kind, []string{Kind}); s != "" {
				detail = fmt.Sprintf("did you mean %q?", s)
			}
			v.errorf("kind", detail, "kind must be %q, not %q", Kind, p.Kind)
		}
	}
	if v.require("", "metadata", "add metadata with at least a name, e.g. \"metadata: {name: mysql-fleet}\"") {
		v.metadata()
	}
	if v.require("", "spec", "add a spec saying what to back up, how and when") {
		v.spec()
	}
}

func (v *validator) metadata() {
	m := v.p.Metadata
	if v.require("metadata", "name", "add a name of lower-case letters, digits and hyphens, e.g. \"name: mysql-fleet\"") {
		if !nameRE.MatchString(m.Name) {
			detail := "use 1 to 40 lower-case letters, digits and hyphens, starting and ending with a letter or digit; the name is part of every generated resource's name"
			if s := suggestName(m.Name); s != "" && s != m.Name {
				detail += fmt.Sprintf(", e.g. %q", s)
			}
			what := "is not a valid policy name"
			if utf8.RuneCountInString(m.Name) > maxNameLength {
				what = fmt.Sprintf("is %d characters long; at most %d are allowed", utf8.RuneCountInString(m.Name), maxNameLength)
			}
			v.errorf("metadata.name", detail, "metadata.name %q %s", m.Name, what)
		}
	}
	if v.given("metadata.description") {
		d := m.Description
		switch n := utf8.RuneCountInString(d); {
		case n == 0:
			v.errorf("metadata.description", "say what the policy protects, or leave the field out", "metadata.description is empty")
		case n > maxDescriptionLength:
			v.errorf("metadata.description", "the description becomes the maintenance window's description, which Systems Manager limits to 128 characters; keep it to one line and put longer notes in a YAML comment",
				"metadata.description is %d characters long; at most %d are allowed", n, maxDescriptionLength)
		}
		for _, r := range d {
			if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError {
				v.errorf("metadata.description", "the description becomes one line in the generated documents and maintenance window; write it without line breaks, tabs or other control characters",
					"metadata.description contains %s", describeControl(r))
				break
			}
		}
	}
}

func describeControl(r rune) string {
	switch r {
	case '\n', '\r', '\u2028', '\u2029':
		return fmt.Sprintf("a line break (%U)", r)
	case '\t':
		return "a tab (U+0009)"
	case utf8.RuneError:
		return "a character that is not valid UTF-8"
	}
	return fmt.Sprintf("the control character %U", r)
}

// suggestName turns an invalid name into a valid one, when it can.
func suggestName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-' || r == '_' || r == ' ' || r == '.' || r == '/':
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	for strings.Contains(out, "--") {
		out = strings.ReplaceAll(out, "--", "-")
	}
	if len(out) > maxNameLength {
		out = strings.TrimRight(out[:maxNameLength], "-")
	}
	if !nameRE.MatchString(out) {
		return ""
	}
	return out
}

func (v *validator) spec() {
	s := v.p.Spec
	if v.require("spec", "platform", "add \"platform: linux\" or \"platform: windows\"") {
		if v.enum("spec.platform", string(s.Platform), platforms) {
			v.platform = s.Platform
		}
	}
	switch {
	case !v.src.Has("spec.volumes"):
		v.volumes = AllVolumes
	case v.given("spec.volumes") && v.enum("spec.volumes", string(s.Volumes), volumeSets):
		v.volumes = s.Volumes
	}
	if v.require("spec", "consistency", "add one of \"consistency: crash\", \"filesystem\", \"application\" or \"stopped\"") {
		if v.enum("spec.consistency", string(s.Consistency), consistencies) {
			v.consistency = s.Consistency
		}
	}
	if v.require("spec", "targets", "add the tags of the instances to back up, e.g. \"targets: {tags: {Backup: mysql-fleet}}\"") {
		v.targets()
	}
	v.windowsRoot()
	v.apps()
	v.mounts()
	v.maxFreeze()
	v.windowsSettings()
	if v.require("spec", "schedule", "add a schedule, e.g. \"schedule: {expression: cron(0 2 * * ? *)}\"") {
		v.schedule()
	}
	if s.Retention != nil {
		v.retention("spec.retention", s.Retention)
	}
	v.copies()
	v.archive()
	v.protection()
	v.snapshotTags()
	v.restoreDrill()
	v.engine()
	v.lint()
	v.warnings()
}

func (v *validator) targets() {
	if n := v.p.Spec.Targets.ExpectedInstances; n != nil && *n < 1 {
		v.errorf("spec.targets.expectedInstances", "write about how many instances the tags select, 1 or more, or leave the field out",
			"spec.targets.expectedInstances %d is out of range", *n)
	}
	if !v.require("spec.targets", "tags", "add the tags of the instances to back up, e.g. \"tags: {Backup: mysql-fleet}\"") {
		return
	}
	tags := v.p.Spec.Targets.Tags
	const p = "spec.targets.tags"
	switch {
	case len(tags) == 0:
		v.errorf(p, "name at least one tag key the instances carry, e.g. \"{Backup: mysql-fleet}\"; an empty selection would match no instance", "spec.targets.tags is empty")
	case len(tags) > maxTargetTagKeys:
		v.errorf(p, "a maintenance window target takes at most 5 tag keys (Systems Manager's limit on Targets); tag the fleet with one dedicated key instead, e.g. \"Backup: mysql-fleet\"",
			"spec.targets.tags has %d keys; at most %d are allowed", len(tags), maxTargetTagKeys)
	}
	for _, k := range sortedKeys(tags) {
		kp := p + "." + k
		v.tagKey(p, k, targetKeyRE, "letters, digits, spaces and _ . : / = @ - (a maintenance window target key cannot hold +)")
		if v.src.unreadable(kp) {
			continue
		}
		vals := tags[k]
		if len(vals) == 0 {
			v.errorf(kp, "list at least one value; an instance matches when its tag has any of them", "spec.targets.tags.%s has no values", k)
		}
		if len(vals) > maxTargetTagValues {
			v.errorf(kp, "Systems Manager accepts at most 50 values per target key; tag the instances with one common value instead",
				"spec.targets.tags.%s has %d values; at most %d are allowed", k, len(vals), maxTargetTagValues)
		}
		seen := map[string]bool{}
		for i, val := range vals {
			vp := kp
			if v.src.Has(fmt.Sprintf("%s[%d]", kp, i)) {
				vp = fmt.Sprintf("%s[%d]", kp, i)
			}
			switch n := utf8.RuneCountInString(val); {
			case n == 0:
				v.errorf(vp, "an instance is selected by a tag value of at least one character", "tag value of spec.targets.tags.%s is empty", k)
			case n > maxTagValueLength:
				v.errorf(vp, "EC2 tag values are at most 256 characters", "tag value of spec.targets.tags.%s is %d characters long; at most %d are allowed", k, n, maxTagValueLength)
			}
			if bad := firstMismatch(val, tagValueRE); bad != "" {
				v.errorf(vp, "EC2 tag values hold letters, digits, spaces and _ . : / = + @ -", "tag value %q of spec.targets.tags.%s contains %q", val, k, bad)
			}
			if seen[val] {
				v.errorf(vp, "list each value once", "tag value %q of spec.targets.tags.%s is listed twice", val, k)
			}
			seen[val] = true
		}
	}
}

// tagKey checks a tag key of the map at parent against EC2's rules and the
// given character set.
func (v *validator) tagKey(parent, k string, re *regexp.Regexp, chars string) {
	path := parent + "." + k
	r := v.src.Key(path)
	report := func(detail, format string, args ...any) {
		v.ds = append(v.ds, diag.Diagnostic{Severity: diag.Error, Summary: fmt.Sprintf(format, args...), Detail: detail, Range: r, Path: path})
	}
	switch n := utf8.RuneCountInString(k); {
	case n == 0:
		report("a tag key has 1 to 128 characters", "empty tag key in %s", parent)
	case n > maxTagKeyLength:
		report("EC2 tag keys are at most 128 characters", "tag key %q in %s is %d characters long; at most %d are allowed", k, parent, n, maxTagKeyLength)
	}
	if bad := firstMismatch(k, re); bad != "" {
		report("use "+chars, "tag key %q in %s contains %q", k, parent, bad)
	}
	if hasPrefixFold(k, "aws:") {
		report("the aws: prefix is reserved for tags AWS itself sets; choose a key of your own", "tag key %q in %s starts with the reserved prefix \"aws:\"", k, parent)
	}
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// firstMismatch returns the first character of s that re (a whole-string
// character class pattern) rejects, or "" when s matches.
func firstMismatch(s string, re *regexp.Regexp) string {
	if re.MatchString(s) {
		return ""
	}
	for _, r := range s {
		if !re.MatchString(string(r)) {
			return string(r)
		}
	}
	return ""
}

func (v *validator) windowsRoot() {
	if v.platform != Windows {
		return
	}
	switch v.consistency {
	case Filesystem:
		v.errorf("spec.consistency", "consistency filesystem syncs and freezes Linux file systems (fsfreeze); on Windows use \"consistency: application\", which takes a VSS snapshot, or \"stopped\"",
			"consistency filesystem is not available on windows")
	case Crash:
		if v.volumes == AllVolumes || v.volumes == RootVolume {
			v.errorf("spec.consistency", "snapshots of running Windows root volumes taken without VSS have been seen unusable in restore tests; use \"consistency: application\" (VSS), \"consistency: stopped\" (stop, snapshot, start), or \"volumes: data\" to leave the root volume out",
				"a running Windows root volume must not be snapshotted without VSS (volumes: %s, consistency: crash)", v.volumes)
		}
	}
}

func (v *validator) apps() {
	s := v.p.Spec
	hasApps := v.src.Has("spec.apps")
	if hasApps && v.consistency != "" && v.consistency != Application {
		v.keyErrorf("spec.apps", "applications are quiesced only with \"consistency: application\"; set it, or remove apps",
			"spec.apps is set but consistency is %s", v.consistency)
	}
	if v.consistency == Application && v.platform == Linux && len(s.Apps) == 0 && !v.src.unreadable("spec.apps") {
		v.errorf("spec.consistency", "list the applications to quiesce in spec.apps (mysql, mariadb, postgresql or custom), or use \"consistency: filesystem\" to freeze the file systems only",
			"consistency application needs at least one entry in spec.apps")
	}
	for i, a := range s.Apps {
		v.app(i, a)
	}
}

func (v *validator) app(i int, a App) {
	p := fmt.Sprintf("spec.apps[%d]", i)
	if !v.given(p) {
		return
	}
	if !v.require(p, "type", "add the application type: mysql, mariadb, postgresql, custom, sqlserver or exchange") {
		return
	}
	if !v.enum(p+".type", string(a.Type), appTypes) {
		return
	}
	switch a.Type {
	case SQLServer, Exchange:
		if v.platform == Linux {
			v.errorf(p+".type", "sqlserver and exchange are quiesced by their VSS writers, which exist on Windows only", "app type %s is available on windows only", a.Type)
		}
	case MySQL, MariaDB, PostgreSQL:
		if v.platform == Windows {
			v.errorf(p+".type", "on Windows, VSS quiesces the applications that register a writer; use type sqlserver or exchange, or custom with your own pre and post scripts", "app type %s is available on linux only", a.Type)
		}
	}
	allowed := appFields[a.Type]
	for _, f := range allAppFields {
		fp := p + "." + f
		if !v.src.Has(fp) || slices.Contains(allowed, f) {
			continue
		}
		takes := "no other fields"
		if len(allowed) > 0 {
			takes = strings.Join(allowed, ", ")
		}
		v.keyErrorf(fp, fmt.Sprintf("a %s app takes %s", a.Type, takes), "%s does not apply to a %s app", f, a.Type)
	}
	switch a.Type {
	case MySQL, MariaDB:
		if v.given(p + ".defaultsFile") {
			v.unixPath(p+".defaultsFile", "defaultsFile", a.DefaultsFile, "the option file with the client credentials, e.g. /etc/ssm-backup/mysql.cnf")
		}
		if a.LockWaitTimeout != nil {
			if d := a.LockWaitTimeout.Value; d < minLockWait || d > maxLockWait {
				v.errorf(p+".lockWaitTimeout", "while FLUSH TABLES WITH READ LOCK waits, new writes queue behind it; allow 1s to 60s",
					"lockWaitTimeout %s is out of range", a.LockWaitTimeout)
			}
		}
	case PostgreSQL:
		if v.given(p+".service") && !serviceNameRE.MatchString(a.Service) {
			v.errorf(p+".service", "a libpq service name is 1 to 64 letters, digits and _ . -", "service %q is not a valid service name", a.Service)
		}
		if v.given(p + ".serviceFile") {
			v.unixPath(p+".serviceFile", "serviceFile", a.ServiceFile, "the libpq service file, e.g. /etc/ssm-backup/pg_service.conf")
			if !v.src.Has(p + ".service") {
				v.keyErrorf(p+".serviceFile", "the service file is read only to look up a service; add \"service: <name>\" or remove serviceFile", "serviceFile is set without service")
			}
		}
	case Custom:
		if v.require(p, "pre", "add the executable to run before the freeze, e.g. \"pre: /usr/local/sbin/quiesce\"") {
			v.executable(p+".pre", "pre", a.Pre)
		}
		if v.given(p + ".post") {
			v.executable(p+".post", "post", a.Post)
		}
		if a.Timeout != nil {
			if d := a.Timeout.Value; d < time.Second || d > maxCustomTimeout {
				v.errorf(p+".timeout", "pre and post each get 1s to 1h", "timeout %s is out of range", a.Timeout)
			}
		}
	}
}

func (v *validator) executable(p, name, s string) {
	if v.platform == Windows {
		if !windowsPathRE.MatchString(s) {
			v.errorf(p, "write the full path of the executable, e.g. C:\\ssm-backup\\quiesce.cmd, of letters, digits, spaces and . _ -", "%s %q is not an absolute Windows path", name, s)
		}
		return
	}
	v.unixPath(p, name, s, "the full path of the executable, e.g. /usr/local/sbin/quiesce")
}

// unixPath checks an absolute path that reaches a script as a parameter;
// name is what the message calls it.
func (v *validator) unixPath(p, name, s, what string) {
	switch {
	case !strings.HasPrefix(s, "/"):
		v.errorf(p, "write "+what, "%s %q is not an absolute path", name, s)
	case !unixPathRE.MatchString(s):
		v.errorf(p, "paths reach the on-instance script as a parameter with a strict pattern: use letters, digits and . _ / -",
			"%s %q contains %q", name, s, firstMismatch(s, pathCharsRE))
	case hasDotDot(s):
		v.errorf(p, "write the path without .. components", "%s %q contains ..", name, s)
	case path.Clean(s) != s:
		v.errorf(p, fmt.Sprintf("write it as %q", path.Clean(s)), "%s %q is not in canonical form", name, s)
	}
}

func hasDotDot(s string) bool {
	for _, part := range strings.Split(s, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

func (v *validator) mounts() {
	s := v.p.Spec
	if !v.src.Has("spec.mounts") || v.src.unreadable("spec.mounts") {
		return
	}
	if v.platform == Windows {
		v.keyErrorf("spec.mounts", "on Windows, VSS covers every volume of the instance; remove mounts", "spec.mounts applies to linux only")
		return
	}
	if v.consistency == Crash || v.consistency == Stopped {
		v.keyErrorf("spec.mounts", "mounts are the file systems frozen with \"consistency: filesystem\" or \"application\"; remove them, or choose one of those",
			"spec.mounts is set but consistency is %s, which freezes nothing", v.consistency)
	}
	if len(s.Mounts) == 0 {
		v.errorf("spec.mounts", "list the mount points to freeze, or remove mounts to freeze every data file system", "spec.mounts is empty")
	}
	seen := map[string]int{}
	for i, m := range s.Mounts {
		p := fmt.Sprintf("spec.mounts[%d]", i)
		if v.src.unreadable(p) {
			continue
		}
		before := len(v.ds)
		v.unixPath(p, "mount", m, "an absolute mount point such as /var/lib/mysql")
		if len(v.ds) != before {
			continue
		}
		if slices.Contains(agentMounts, m) {
			v.errorf(p, "the freeze script, the SSM agent, its logs or temporary files live there, and a frozen file system would stall the very process that thaws it; list data file systems only, such as /var/lib/mysql",
				"mount %s must not be frozen", m)
			continue
		}
		if j, ok := seen[m]; ok {
			r := v.src.Value(fmt.Sprintf("spec.mounts[%d]", j))
			v.errorf(p, fmt.Sprintf("first listed at line %d; list each mount point once", r.Start.Line), "mount %s is listed twice", m)
			continue
		}
		seen[m] = i
	}
}

func (v *validator) maxFreeze() {
	mf := v.p.Spec.MaxFreeze
	if mf == nil {
		return
	}
	if v.platform == Windows {
		v.keyErrorf("spec.maxFreeze", "on Windows, VSS holds writers and volumes for at most ten seconds on its own; remove maxFreeze", "spec.maxFreeze applies to linux only")
		return
	}
	if v.consistency == Stopped || v.consistency == Crash {
		v.keyErrorf("spec.maxFreeze", "maxFreeze bounds the freeze of \"consistency: filesystem\" or \"application\"; remove it", "spec.maxFreeze is set but consistency is %s, which freezes nothing", v.consistency)
		return
	}
	if mf.Value < minFreeze || mf.Value > maxFreezeLimit {
		v.errorf("spec.maxFreeze", "writes wait while file systems are frozen and locks are held; allow 1s to 60s (default 10s)", "spec.maxFreeze %s is out of range", mf)
	}
}

func (v *validator) windowsSettings() {
	if !v.src.Has("spec.windows") {
		return
	}
	if v.platform == Linux {
		v.keyErrorf("spec.windows", "remove the windows settings, or set \"platform: windows\"", "spec.windows is set but platform is linux")
		return
	}
	w := v.p.Spec.Windows
	if w == nil {
		return
	}
	if v.platform == Windows && v.consistency != "" && v.consistency != Application {
		v.keyErrorf("spec.windows", "the windows settings tune VSS, which runs with \"consistency: application\" only; remove them, or use application", "spec.windows is set but consistency is %s", v.consistency)
	}
	if v.given("spec.windows.vss") {
		v.enum("spec.windows.vss", w.VSS, vssModes)
	}
	if w.NoWriters != nil && *w.NoWriters {
		for i, a := range v.p.Spec.Apps {
			if a.Type == SQLServer || a.Type == Exchange {
				v.errorf("spec.windows.noWriters", "noWriters leaves the application VSS writers out, so the listed application would not be quiesced; remove noWriters or the app",
					"spec.windows.noWriters contradicts spec.apps[%d] (%s)", i, a.Type)
			}
		}
	}
}

func (v *validator) schedule() {
	s := v.p.Spec.Schedule
	const p = "spec.schedule"
	v.loc = time.UTC
	if v.given(p + ".timezone") {
		if loc, ok := v.timezone(p+".timezone", s.Timezone); ok {
			v.loc = loc
		}
	}
	if v.require(p, "expression", "add a cron(), rate() or at() expression, e.g. \"expression: cron(0 2 * * ? *)\"") {
		v.sched = v.expression(p+".expression", s.Expression, true)
	}
	if s.Offset != nil {
		o := *s.Offset
		switch {
		case o < minScheduleOffset || o > maxScheduleOffset:
			v.errorf(p+".offset", "the offset is the number of days, 1 to 6, to wait after the cron date", "spec.schedule.offset %d is out of range", o)
		case v.sched != nil && v.sched.Kind() != schedule.Cron:
			v.keyErrorf(p+".offset", "Systems Manager applies a schedule offset to cron() expressions only; remove it", "spec.schedule.offset applies to cron() schedules only")
		}
	}
	duration := s.Window.DurationOrDefault()
	durOK := true
	if d := s.Window.Duration; d != nil {
		if d.Value%time.Hour != 0 || d.Value < minWindowHours*time.Hour || d.Value > maxWindowHours*time.Hour {
			durOK = false
			v.errorf(p+".window.duration", "a maintenance window lasts whole hours, 1h to 24h", "window duration %s is not a whole number of hours from 1h to 24h", d)
		}
	}
	if c := s.Window.Cutoff; c != nil {
		if c.Value%time.Hour != 0 || c.Value > maxWindowCutoffHrs*time.Hour {
			v.errorf(p+".window.cutoff", "the cutoff is whole hours, 0h to 23h, before the window closes", "window cutoff %s is not a whole number of hours from 0h to 23h", c)
		} else if durOK && c.Value >= duration.Value {
			which := "duration " + duration.Text
			if s.Window.Duration == nil {
				which += " (the default)"
			}
			v.errorf(p+".window.cutoff", fmt.Sprintf("no instance could ever start; make the cutoff shorter than the window's %s", which),
				"window cutoff %s is not shorter than the window's %s", c, which)
		}
	}
	if v.given(p + ".maxConcurrency") {
		v.concurrencyValue(p+".maxConcurrency", s.MaxConcurrency, maxConcRE, "a number from 1 or a percentage from 1% to 100% of the targets, e.g. \"1\" or \"10%\"")
	}
	if v.given(p + ".maxErrors") {
		v.concurrencyValue(p+".maxErrors", s.MaxErrors, maxErrorsRE, "a number from 0 or a percentage from 0% to 100% of the targets, e.g. \"1\" or \"10%\"")
	}
}

// concurrencyValue checks maxConcurrency or maxErrors against the patterns of
// the Systems Manager service model.
func (v *validator) concurrencyValue(p, s string, re *regexp.Regexp, want string) {
	name := p[strings.LastIndex(p, ".")+1:]
	if re.MatchString(s) {
		if len(s) > maxConcurrencyLength {
			v.errorf(p, "Systems Manager takes at most 7 characters: "+want, "%s %q is too long", name, s)
		}
		return
	}
	detail := "write " + want
	if strings.HasSuffix(name, "Concurrency") && (s == "0" || s == "0%") {
		detail = "0 would never start a backup; " + detail
	}
	v.errorf(p, detail, "%s %q is not a number or percentage Systems Manager accepts", name, s)
}

// timezone loads an IANA zone; when it fails, it reports the schedule
// package's reason and suggests a common zone if the name is close to one.
func (v *validator) timezone(p, name string) (*time.Location, bool) {
	loc, err := schedule.LoadLocation(name)
	if err == nil && loc != nil {
		return loc, true
	}
	summary := fmt.Sprintf("unknown time zone %q", name)
	detail := "use an IANA time zone name such as UTC, Europe/Berlin or America/New_York"
	var se *schedule.Error
	if errors.As(err, &se) {
		summary, detail = se.Message, se.Hint
	}
	if !strings.HasPrefix(detail, "did you mean") {
		if s := suggestZone(name); s != "" {
			detail = fmt.Sprintf("did you mean %q?", s)
		}
	}
	v.errorf(p, detail, "%s: %s", p, summary)
	return nil, false
}

func suggestZone(name string) string {
	for _, z := range commonZones {
		if strings.EqualFold(z, name) {
			return z
		}
	}
	if s := Suggest(name, commonZones); s != "" {
		return s
	}
	// "Berlin", "new york": match the city part.
	city := strings.ReplaceAll(strings.TrimSpace(name), " ", "_")
	var cities []string
	for _, z := range commonZones {
		if i := strings.LastIndexByte(z, '/'); i >= 0 {
			cities = append(cities, z[i+1:])
		}
	}
	if c := Suggest(city, cities); c != "" {
		for _, z := range commonZones {
			if strings.HasSuffix(z, "/"+c) {
				return z
			}
		}
	}
	return ""
}

// expression parses a schedule expression and reports each of its errors
// at the character it is about.
func (v *validator) expression(p, expr string, allowAt bool) *schedule.Schedule {
	if len(expr) > maxScheduleLength {
		v.errorf(p, "Systems Manager takes schedule expressions of at most 256 characters", "schedule expression is %d characters long; at most %d are allowed", len(expr), maxScheduleLength)
		return nil
	}
	sch, errs := schedule.Parse(expr)
	for _, e := range errs {
		if e == nil {
			continue
		}
		v.ds = append(v.ds, diag.Diagnostic{
			Severity: diag.Error,
			Summary:  e.Message,
			Detail:   e.Hint,
			Range:    v.exprRange(p, expr, e.Offset, e.Length),
			Path:     p,
		})
	}
	if len(errs) > 0 || sch == nil {
		return nil
	}
	if !allowAt && sch.Kind() == schedule.At {
		v.errorf(p, "a restore drill repeats; use a cron() or rate() expression, e.g. \"cron(0 6 ? * SUN *)\"", "restore drill schedule must repeat, not run once with at()")
		return nil
	}
	return sch
}

// exprRange maps a byte range inside the expression to the file: the value's
// column, plus one when the scalar is quoted, plus the characters before the
// offset. Block scalars and multi-line values map to the value's start.
func (v *validator) exprRange(p, expr string, offset, length int) diag.Range {
	r := v.src.Value(p)
	if r.Start.Line == 0 || r.End.Line != r.Start.Line {
		return r
	}
	n := utf8.RuneCountInString(expr)
	width := r.End.Column - r.Start.Column
	var shift int
	switch width {
	case n:
	case n + 2:
		shift = 1
	default:
		return r // escapes or a block scalar: columns do not map
	}
	offset = max(0, min(offset, len(expr)))
	end := max(offset, min(offset+length, len(expr)))
	start := r.Start.Column + shift + utf8.RuneCountInString(expr[:offset])
	out := r
	out.Start.Column = start
	out.End.Column = start + utf8.RuneCountInString(expr[offset:end])
	return out
}

// retention checks the retention of the policy or of one of its copies.
func (v *validator) retention(p string, r *Retention) {
	switch {
	case r.Count != nil && r.MaxAge != nil:
		v.errorf(p+".maxAge", "set either count (keep the newest N) or maxAge (keep for a time), not both; minKeep puts a floor under maxAge",
			"retention sets both count and maxAge")
	case r.Count == nil && r.MaxAge == nil && !v.src.unreadable(p+".count") && !v.src.unreadable(p+".maxAge"):
		v.errorf(p, "add \"count: 7\" to keep the newest 7 snapshots, or \"maxAge: 30d\" to keep them 30 days", "retention needs count or maxAge")
	}
	if r.Count != nil && (*r.Count < minRetentionCount || *r.Count > maxRetentionCount) {
		v.errorf(p+".count", "keep 1 to 1000 snapshots of each instance", "retention count %d is out of range", *r.Count)
	}
	if r.MinKeep != nil {
		mk := *r.MinKeep
		switch {
		case mk < minRetentionCount || mk > maxRetentionCount:
			v.errorf(p+".minKeep", "minKeep is 1 to 1000 snapshots", "retention minKeep %d is out of range", mk)
		case r.Count != nil && mk > *r.Count:
			v.errorf(p+".minKeep", fmt.Sprintf("count already keeps %d snapshots; minKeep cannot ask for more", *r.Count), "retention minKeep %d is greater than count %d", mk, *r.Count)
		}
	}
	if r.MaxAge != nil && r.MaxAge.Value < minMaxAge {
		v.errorf(p+".maxAge", "keep snapshots at least 1d; to keep only the newest few, use count", "retention maxAge %s is shorter than 1d", r.MaxAge)
	}
}

func (v *validator) copies() {
	cs := v.p.Spec.Copies
	if !v.src.Has("spec.copies") || v.src.unreadable("spec.copies") {
		return
	}
	if len(cs) > maxCopies {
		v.errorf("spec.copies", "each copy is one more CopySnapshot per snapshot and run, and EBS limits concurrent copies into a region; copy to at most 5 destinations",
			"spec.copies has %d entries; at most %d are allowed", len(cs), maxCopies)
	}
	seen := map[[2]string]int{}
	for i, c := range cs {
		p := fmt.Sprintf("spec.copies[%d]", i)
		if !v.given(p) {
			continue
		}
		if c.Region == "" && c.Account == "" && !v.src.Has(p+".region") && !v.src.Has(p+".account") &&
			!v.src.isMisspelt(p+".region") && !v.src.isMisspelt(p+".account") {
			v.errorf(p, "a copy goes to another region, another account, or both: add \"region: us-west-2\" and/or \"account: '111122223333'\"", "copy needs region or account")
		}
		if v.given(p+".region") && !regionRE.MatchString(c.Region) {
			v.errorf(p+".region", "write an AWS region code such as us-west-2 or eu-central-1", "%q is not an AWS region", c.Region)
		}
		if v.given(p+".account") && !accountRE.MatchString(c.Account) {
			detail := "an AWS account id is 12 digits; quote it so YAML keeps leading zeros, e.g. account: \"012345678901\""
			v.errorf(p+".account", detail, "%q is not an AWS account id", c.Account)
		}
		if v.given(p+".kmsKeyId") && !kmsKeyRE.MatchString(c.KMSKeyID) {
			v.errorf(p+".kmsKeyId", "write a KMS key id, a key or alias ARN, or alias/<name>", "%q is not a KMS key", c.KMSKeyID)
		}
		if c.Retention != nil {
			v.retention(p+".retention", c.Retention)
		}
		dest := [2]string{c.Region, c.Account}
		if j, ok := seen[dest]; ok && (c.Region != "" || c.Account != "") {
			v.errorf(p, fmt.Sprintf("spec.copies[%d] already copies to %s; list each destination once", j, describeDest(c)), "copy to %s is listed twice", describeDest(c))
			continue
		}
		seen[dest] = i
	}
}

func describeDest(c Copy) string {
	switch {
	case c.Region != "" && c.Account != "":
		return fmt.Sprintf("region %s in account %s", c.Region, c.Account)
	case c.Region != "":
		return "region " + c.Region
	default:
		return "account " + c.Account
	}
}

func (v *validator) archive() {
	a := v.p.Spec.Archive
	if a == nil {
		return
	}
	if !v.given("spec.archive.after") {
		v.require("spec.archive", "after", "add the age at which snapshots move to the archive tier, e.g. \"after: 90d\"")
		return
	}
	if a.After.Value < minArchiveAfter {
		v.errorf("spec.archive.after", "archived snapshots are billed for at least 90 days, and deleting or restoring them sooner costs the full 90 days; archive after 90d or more",
			"archive after %s is shorter than 90d", a.After)
		return
	}
	if r := v.p.Spec.Retention; r != nil && r.MaxAge != nil && r.MaxAge.Value <= a.After.Value {
		v.errorf("spec.archive.after", fmt.Sprintf("retention maxAge %s deletes every snapshot before it is %s old, so none would ever be archived; raise maxAge or remove archive", r.MaxAge, a.After),
			"archive after %s is not shorter than retention maxAge %s", a.After, r.MaxAge)
	}
}

func (v *validator) snapshotTags() {
	tags := v.p.Spec.Tags
	if len(tags) > maxSnapshotTags {
		v.errorf("spec.tags", "EC2 allows 50 tags per snapshot and ssm-backup adds its own; use at most 40",
			"spec.tags has %d tags; at most %d are allowed", len(tags), maxSnapshotTags)
	}
	const strict = "snapshot tags reach the on-instance script as a document parameter with a strict pattern: use ASCII letters, digits, spaces and _ . : / = + @ -"
	for _, k := range sortedKeys(tags) {
		kp := "spec.tags." + k
		v.tagKey("spec.tags", k, snapshotTagRE, "ASCII letters, digits, spaces and _ . : / = + @ - (snapshot tags reach the on-instance script through a parameter with a strict pattern)")
		if hasPrefixFold(k, "ssm-backup:") {
			v.keyErrorf(kp, "ssm-backup tags its snapshots with ssm-backup: keys to find and prune them; choose another key", "tag key %q in spec.tags starts with the reserved prefix \"ssm-backup:\"", k)
		}
		if v.src.unreadable(kp) {
			continue
		}
		val := tags[k]
		if n := utf8.RuneCountInString(val); n > maxTagValueLength {
			v.errorf(kp, "EC2 tag values are at most 256 characters", "tag value of spec.tags.%s is %d characters long; at most %d are allowed", k, n, maxTagValueLength)
		}
		if bad := firstMismatch(val, snapshotTagRE); bad != "" {
			v.errorf(kp, strict, "tag value %q of spec.tags.%s contains %q", val, k, bad)
		}
	}
}

func (v *validator) restoreDrill() {
	d := v.p.Spec.RestoreDrill
	if d == nil {
		return
	}
	const p = "spec.restoreDrill"
	if v.given(p + ".timezone") {
		v.timezone(p+".timezone", d.Timezone)
	}
	if v.require(p, "expression", "add a cron() or rate() expression, e.g. \"expression: cron(0 6 ? * SUN *)\"") {
		v.expression(p+".expression", d.Expression, false)
	}
	if v.given(p+".instance") && !instanceRE.MatchString(d.Instance) {
		v.errorf(p+".instance", "write an EC2 instance id: i- and 8 or 17 hexadecimal digits, e.g. i-0123456789abcdef0", "%q is not an EC2 instance id", d.Instance)
	}
}

func (v *validator) warnings() {
	s := v.p.Spec
	spec := v.src.Key("spec")
	if len(s.Copies) == 0 && !v.src.unreadable("spec.copies") && !v.src.isMisspelt("spec.copies") {
		v.warnf(WarnNoOffsiteCopy, spec, "spec",
			"every snapshot stays in this account and region, so a region outage or a compromised account takes the backups with it; add copies to another region or account (3 copies, 2 media, 1 off-site)",
			"no off-site copy: the 3-2-1 rule is not met")
	}
	if s.Retention == nil && !v.src.unreadable("spec.retention") && !v.src.isMisspelt("spec.retention") {
		v.warnf(WarnNoRetention, spec, "spec",
			"every run adds snapshots that are never deleted, and each is billed every month; add \"retention: {count: 7}\" or \"retention: {maxAge: 30d}\"",
			"no retention: snapshots are kept forever")
	}
	if v.consistency == Stopped {
		v.warnf(WarnStoppedDowntime, v.src.Value("spec.consistency"), "spec.consistency",
			"each run stops every running target instance, snapshots its volumes and starts it again: the instance is down for minutes inside the window, maxConcurrency instances at a time; an instance that was already stopped stays stopped",
			"consistency stopped causes downtime: the instances are stopped and started again inside the window")
	}
	v.shortRetention()
	v.archiveUnreached()
	v.databaseConcurrency()
	v.windowTooShort()
	v.dstAmbiguous()
	if v.platform == Linux && (v.consistency == Filesystem || v.consistency == Application) && (v.volumes == AllVolumes || v.volumes == RootVolume) {
		p := "spec.consistency"
		if v.src.Has("spec.volumes") {
			p = "spec.volumes"
		}
		if v.volumes == RootVolume {
			v.errorf(p, "the script freezes data file systems only, never / (the script and the SSM agent run from it), so the root volume alone would be snapshotted while it is written; "+
				"use \"consistency: crash\" to say so, \"consistency: stopped\" for a consistent root volume, or \"volumes: all\" to snapshot it with the quiesced data volumes",
				"volumes root with consistency %s on linux: the root file system cannot be frozen", v.consistency)
			return
		}
		advice := "use \"volumes: data\" to leave it out, or accept that its snapshot is only crash-consistent"
		v.warnf(WarnRootNotFrozen, v.src.Value(p), p,
			fmt.Sprintf("consistency %s freezes data file systems but never / (the script and the SSM agent run from it), so the root volume is snapshotted while it is written; %s", v.consistency, advice),
			"the root file system is not frozen: with volumes %s, the root volume's snapshot is crash-consistent only", v.volumes)
	}
}

// shortRetention warns when retention keeps less history than the schedule
// suggests: maxAge below the interval between runs, or count runs spanning
// less than a day.
func (v *validator) shortRetention() {
	r := v.p.Spec.Retention
	if r == nil || v.sched == nil {
		return
	}
	interval := v.sched.MinInterval(v.loc)
	if interval <= 0 {
		return
	}
	// A maxAge under a day is an error already.
	if r.MaxAge != nil && r.MaxAge.Value >= minMaxAge && r.MaxAge.Value < interval && (r.MinKeep == nil || *r.MinKeep < 2) {
		v.warnf(WarnShortRetention, v.src.Value("spec.retention.maxAge"), "spec.retention.maxAge",
			fmt.Sprintf("runs can be as little as %s apart, so each run may delete the previous snapshot and keep only the newest one; raise maxAge above %s or add \"minKeep: 2\"", formatDuration(interval), formatDuration(interval)),
			"retention maxAge %s is shorter than the %s between runs", r.MaxAge, formatDuration(interval))
	}
	if r.Count != nil && *r.Count >= 1 {
		span := time.Duration(*r.Count) * interval
		if span/interval == time.Duration(*r.Count) && span < day {
			v.warnf(WarnShortRetention, v.src.Value("spec.retention.count"), "spec.retention.count",
				fmt.Sprintf("%d snapshots taken as little as %s apart cover only %s; raise count to %d to keep a day, or use maxAge", *r.Count, formatDuration(interval), formatDuration(span), int((day+interval-1)/interval)),
				"retention count %d keeps as little as %s of history", *r.Count, formatDuration(span))
		}
	}
}

// archiveUnreached warns when count retention may delete every set before it
// is archive.after old: runs as little as MinInterval apart keep the newest
// count sets for as little as count × MinInterval. (maxAge ≤ after is an
// error already: nothing would ever be archived.)
func (v *validator) archiveUnreached() {
	r, a := v.p.Spec.Retention, v.p.Spec.Archive
	// An archive age under the minimum is an error already.
	if r == nil || r.Count == nil || *r.Count < 1 || a == nil || a.After.Value < minArchiveAfter || v.sched == nil {
		return
	}
	interval := v.sched.MinInterval(v.loc)
	if interval <= 0 {
		return
	}
	span := time.Duration(*r.Count) * interval
	if span/interval != time.Duration(*r.Count) || span >= a.After.Value {
		return
	}
	v.warnf(WarnArchiveUnreached, v.src.Value("spec.archive.after"), "spec.archive.after",
		fmt.Sprintf("runs can be as little as %s apart, so the newest %d sets may cover only %s and be deleted before any reaches %s; use \"retention: {maxAge: ...}\" longer than %s, or a count of at least %d", formatDuration(interval), *r.Count, formatDuration(span), a.After, a.After, int((a.After.Value+interval-1)/interval)+1),
		"archive after %s may never happen: retention count %d keeps as little as %s", a.After, *r.Count, formatDuration(span))
}

func (v *validator) databaseConcurrency() {
	var db AppType
	for _, a := range v.p.Spec.Apps {
		if isDatabase(a.Type) {
			db = a.Type
			break
		}
	}
	if db == "" || v.consistency != Application {
		return
	}
	if v.engineKind == EngineDLM {
		// Data Lifecycle Manager runs the pre-script on every target at
		// the scheduled time; it has no concurrency to set.
		v.warnf(WarnDatabaseAllAtOnce, v.src.Value("spec.engine"), "spec.engine",
			fmt.Sprintf("Data Lifecycle Manager runs the pre-script on every target instance at once, so every %s instance is locked and frozen at the same time: primaries and their replicas stall together; split the fleet into policies with different schedules, or use \"engine: ssm\" with a small maxConcurrency", db),
			"engine dlm backs up all of a database fleet at the same time")
		return
	}
	mc := v.p.Spec.Schedule.MaxConcurrency
	m := percentOrNumber.FindStringSubmatch(mc)
	if m == nil || m[2] != "%" {
		return
	}
	pct, err := strconv.Atoi(m[1])
	if err != nil || pct < 50 || pct > 100 {
		return
	}
	v.warnf(WarnDatabaseAllAtOnce, v.src.Value("spec.schedule.maxConcurrency"), "spec.schedule.maxConcurrency",
		fmt.Sprintf("every %s instance backed up at once is locked and frozen at the same time: primaries and their replicas, or both members of a failover pair, stall together; use \"1\" or a small percentage so the fleet is backed up in turns", db),
		"maxConcurrency %s backs up %s of a database fleet at the same time", mc, map[bool]string{true: "all", false: "half or more"}[pct == 100])
}

// dstBehaviour says what the engine's scheduler does in the hours daylight
// saving time skips or repeats: EventBridge Scheduler's documented rule for
// Systems Manager; AWS Backup does not document its own.
func dstBehaviour(e Engine) string {
	if e == EngineBackup {
		return "AWS Backup does not document what it does with a run in an hour the clocks skip or repeat: the run may be skipped, moved or repeated"
	}
	return "a run in an hour the clocks skip does not happen, and one in an hour they repeat happens once, at the first"
}

// formatDuration writes d in the policy's own units: 1d, 12h, 1h30m, 45s.
func formatDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.unit
		}
	}
	if b.Len() == 0 {
		return d.String()
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// lint checks spec.lint.ignore: every entry must be a warning code, once.
func (v *validator) lint() {
	l := v.p.Spec.Lint
	if l == nil || !v.given("spec.lint.ignore") {
		return
	}
	codes := make([]string, len(Warnings))
	for i, w := range Warnings {
		codes[i] = w.Code
	}
	seen := map[string]int{}
	for i, code := range l.Ignore {
		p := fmt.Sprintf("spec.lint.ignore[%d]", i)
		if v.src.unreadable(p) {
			continue
		}
		if !slices.Contains(codes, code) {
			detail := "known warning codes: " + strings.Join(codes, ", ")
			if s := suggestCode(code, codes); s != "" {
				detail = fmt.Sprintf("did you mean %q?", s)
			}
			v.errorf(p, detail, "unknown warning code %q in spec.lint.ignore", code)
			continue
		}
		if j, ok := seen[code]; ok {
			v.errorf(p, fmt.Sprintf("spec.lint.ignore[%d] already lists it; list each code once", j), "warning code %s is listed twice in spec.lint.ignore", code)
			continue
		}
		seen[code] = i
		if v.ignore == nil {
			v.ignore = map[string]bool{}
		}
		v.ignore[code] = true
	}
}

// suggestCode recognises a known code written in another form: "w3",
// "W03", " W003". A well-formed code that does not exist gets no suggestion:
// W009 is not a misspelling of W001.
func suggestCode(code string, codes []string) string {
	s := strings.ToUpper(strings.TrimSpace(code))
	n, err := strconv.Atoi(strings.TrimPrefix(s, "W"))
	if err != nil || !strings.HasPrefix(s, "W") || n < 0 {
		return ""
	}
	if c := fmt.Sprintf("W%03d", n); slices.Contains(codes, c) {
		return c
	}
	return ""
}

// windowTooShort warns when the fleet the policy expects cannot be backed up
// within the window at its concurrency, counting EstimatedInstanceTime per
// instance: rounds = ceil(instances / at once), and every round must start
// before the cutoff.
func (v *validator) windowTooShort() {
	s := v.p.Spec
	if v.engineKind != EngineSSM || s.Targets.ExpectedInstances == nil || *s.Targets.ExpectedInstances < 1 || v.sched == nil {
		return
	}
	w := s.Schedule.Window
	duration, cutoff := w.DurationOrDefault().Value, w.CutoffOrDefault().Value
	if duration%time.Hour != 0 || duration < minWindowHours*time.Hour || duration > maxWindowHours*time.Hour ||
		cutoff%time.Hour != 0 || cutoff >= duration {
		return // reported as an error
	}
	mc := s.Schedule.MaxConcurrencyOrDefault()
	if !maxConcRE.MatchString(mc) {
		return
	}
	instances := *s.Targets.ExpectedInstances
	atOnce := concurrencyFor(mc, instances)
	rounds := (instances + atOnce - 1) / atOnce
	need := time.Duration(rounds) * EstimatedInstanceTime
	open := duration - cutoff
	if need <= open {
		return
	}
	// What would fit: the concurrency that needs no more rounds than the
	// window has, or the window that holds the rounds at this concurrency.
	fits := int(open / EstimatedInstanceTime)
	var fixes []string
	if fits >= 1 {
		fixes = append(fixes, fmt.Sprintf("raise maxConcurrency to %d", (instances+fits-1)/fits))
	}
	if hours := int((need + cutoff + time.Hour - 1) / time.Hour); hours <= maxWindowHours {
		fixes = append(fixes, fmt.Sprintf("make the window %dh long", hours))
	}
	fixes = append(fixes, "split the fleet across policies")
	path := "spec.targets.expectedInstances"
	if v.src.Has("spec.schedule.maxConcurrency") {
		path = "spec.schedule.maxConcurrency"
	}
	v.warnf(WarnWindowTooShort, v.src.Value(path), path,
		fmt.Sprintf("counting about %s per instance (an estimate: checks, Run Command, the snapshot script and pruning), %d %s %d at a time take %d %s, about %s; "+
			"new instances start only in the first %s of the window (duration %s, cutoff %s), and those not started by then wait for the next run; %s",
			formatDuration(EstimatedInstanceTime), instances, pluralWord(instances, "instance", "instances"), atOnce, rounds, pluralWord(rounds, "round", "rounds"), formatDuration(need),
			formatDuration(open), w.DurationOrDefault(), w.CutoffOrDefault(), joinOr(fixes)),
		"the window is too short for %d %s at maxConcurrency %s: about %s needed, %s available", instances, pluralWord(instances, "instance", "instances"), mc, formatDuration(need), formatDuration(open))
}

// concurrencyFor is how many of n instances run at once for a valid
// maxConcurrency: a number (at most n), or a percentage of n rounded up and
// at least 1.
func concurrencyFor(mc string, n int) int {
	if pct, ok := strings.CutSuffix(mc, "%"); ok {
		p, _ := strconv.Atoi(pct)
		return max(1, (n*p+99)/100)
	}
	c, _ := strconv.Atoi(mc)
	return max(1, min(c, n))
}

// dstAmbiguous warns when cron runs land in an hour that a daylight-saving
// change skips (the run does not happen) or repeats (it happens once), over
// the fixed DSTHorizon.
func (v *validator) dstAmbiguous() {
	if v.sched == nil || v.loc == nil {
		return
	}
	offset := 0
	if o := v.p.Spec.Schedule.Offset; o != nil {
		if v.sched.ValidateOffset(*o) != nil {
			return
		}
		offset = *o
	}
	found := schedule.DSTAmbiguities(v.sched, v.loc, DSTHorizon.From, offset, DSTHorizon.Years)
	if len(found) == 0 {
		return
	}
	var skipped, repeated int
	for _, a := range found {
		if a.Problem == schedule.Skipped {
			skipped++
		} else {
			repeated++
		}
	}
	var what []string
	if skipped > 0 {
		what = append(what, fmt.Sprintf("skips %d %s", skipped, pluralWord(skipped, "run", "runs")))
	}
	if repeated > 0 {
		what = append(what, fmt.Sprintf("puts %d %s in a repeated hour", repeated, pluralWord(repeated, "run", "runs")))
	}
	years := fmt.Sprintf("%d–%d", DSTHorizon.From.Year(), DSTHorizon.From.Year()+DSTHorizon.Years-1)
	v.warnf(WarnDSTAmbiguous, v.src.Value("spec.schedule.expression"), "spec.schedule.expression",
		fmt.Sprintf("%s; for example, %s. "+
			"Move the runs out of the hours around the change (usually 01:00 to 03:00 local time), or use timezone UTC, which has no daylight saving time", dstBehaviour(v.engineKind), found[0]),
		"daylight saving time in %s %s in %s", v.loc, strings.Join(what, " and "), years)
}

// sameTargets warns about pairs of policies that select the same instances:
// the same tag keys, and for every key at least one common value. Each
// instance carrying those values is snapshotted by both. The warning is
// reported once per pair, at the later policy, and names the earlier one.
func sameTargets(vs []*validator) diag.Diagnostics {
	// Only policies with the same key set can match; group by it, then by
	// the values of one key, so large sets are not compared pairwise.
	type entry struct {
		v    *validator
		keys []string
		idx  int
	}
	groups := map[string][]entry{}
	var order []string
	for i, v := range vs {
		tags := v.p.Spec.Targets.Tags
		if len(tags) == 0 || v.src.unreadable("spec.targets.tags") {
			continue
		}
		keys := sortedKeys(tags)
		sig := strings.Join(keys, "\x00")
		if _, ok := groups[sig]; !ok {
			order = append(order, sig)
		}
		groups[sig] = append(groups[sig], entry{v, keys, i})
	}
	var ds diag.Diagnostics
	for _, sig := range order {
		group := groups[sig]
		if len(group) < 2 {
			continue
		}
		// Index by the key with the most distinct values in the group, so
		// that policies sharing a common key (Backup: yes) are not all
		// compared with each other.
		first, most := "", -1
		for _, k := range group[0].keys {
			distinct := map[string]bool{}
			for _, e := range group {
				for _, val := range e.v.p.Spec.Targets.Tags[k] {
					distinct[val] = true
				}
			}
			if len(distinct) > most {
				first, most = k, len(distinct)
			}
		}
		byValue := map[string][]int{} // value of that key → positions in group
		seen := map[[2]int]bool{}
		for gi, e := range group {
			for _, val := range e.v.p.Spec.Targets.Tags[first] {
				for _, gj := range byValue[val] {
					if gj == gi || seen[[2]int{gj, gi}] {
						continue
					}
					seen[[2]int{gj, gi}] = true
					a, b := group[gj], e
					common, ok := commonTargets(a.v.p.Spec.Targets.Tags, b.v.p.Spec.Targets.Tags, e.keys)
					if !ok || a.v.ignore[WarnSameTargets] || b.v.ignore[WarnSameTargets] {
						continue
					}
					ar := a.v.src.Value("spec.targets.tags")
					ds = append(ds, diag.Diagnostic{
						Severity: diag.Warning,
						Code:     WarnSameTargets,
						Summary:  fmt.Sprintf("spec.targets.tags selects the same instances as policy %q", a.v.p.Metadata.Name),
						Detail: fmt.Sprintf("instances tagged %s match both policies (%q is at %s:%d:%d), so each run of either schedule snapshots them, and both sets are paid for; "+
							"narrow the tags so that no instance matches both, or add W006 to spec.lint.ignore of either policy if that is intended",
							common, a.v.p.Metadata.Name, ar.File, ar.Start.Line, ar.Start.Column),
						Range: b.v.src.Value("spec.targets.tags"),
						Path:  "spec.targets.tags",
					})
				}
				byValue[val] = append(byValue[val], gi)
			}
		}
	}
	return ds
}

// commonTargets reports whether two target tag sets with the given keys
// share a value for every key, and describes the instances both select.
func commonTargets(a, b map[string]StringList, keys []string) (string, bool) {
	var parts []string
	for _, k := range keys {
		var both []string
		for _, val := range a[k] {
			if slices.Contains(b[k], val) && !slices.Contains(both, val) {
				both = append(both, val)
			}
		}
		if len(both) == 0 {
			return "", false
		}
		parts = append(parts, k+"="+strings.Join(both, " or "))
	}
	return strings.Join(parts, ", "), true
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// joinOr joins alternatives: "a", "a or b", "a, b or c".
func joinOr(xs []string) string {
	if len(xs) <= 1 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}
