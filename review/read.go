package review

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/documents"
)

// Files of a policy directory, relative to it, as the compiler emits them.
const (
	windowFile   = "maintenance-window.json"
	runbookFile  = "automation-runbook.json"
	commandFile  = "command-document.json"
	iamDir       = "iam/"
	policySuffix = "-policy.json"
)

// policyState is one policy as read back from its compiled files. A part
// that could not be read is zero and explained in the tree's notes.
type policyState struct {
	name      string
	engine    string
	schedule  *Schedule
	targets   []Target
	retention Retention
	snapshot  []setting
	copies    []Copy
	archive   *Archive
	// roles maps a role kind (instance, automation, window) to its
	// permissions, sorted by key.
	roles map[string][]permissionEntry
}

type setting struct{ name, value string }

// tree is one compiled set, indexed by policy. Policies may be read from
// several goroutines at once: the template is parsed once, on first use.
type tree struct {
	label string // "old" or "new", for notes
	files compiler.Files
	// dirs maps a policy name to its files, by path relative to its directory.
	dirs     map[string]map[string][]byte
	tmplOnce sync.Once
	template *templateFile
	// defaults caches the parameter defaults of command documents found
	// outside the policy directories, by document name.
	mu       sync.Mutex
	defaults map[string]docDefaults
	// notes says what of the tree as a whole could not be read.
	notes []string
}

// docDefaults are the parameter defaults of a command document; found is
// false when there is no such document.
type docDefaults struct {
	params map[string]string
	found  bool
	err    error
}

func newTree(label string, files compiler.Files) *tree {
	t := &tree{label: label, files: files, dirs: map[string]map[string][]byte{}}
	const prefix = "policies/"
	for p, b := range files {
		rest, ok := strings.CutPrefix(p, prefix)
		if !ok {
			continue
		}
		name, rel, ok := strings.Cut(rest, "/")
		if !ok || name == "" || rel == "" {
			continue
		}
		d := t.dirs[name]
		if d == nil {
			d = map[string][]byte{}
			t.dirs[name] = d
		}
		d[rel] = b
	}
	return t
}

// policyReader reads one policy of a tree and collects what it could not read.
type policyReader struct {
	t     *tree
	notes []string
}

func (r *policyReader) notef(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf("%s set: ", r.t.label)+fmt.Sprintf(format, args...))
}

// templateFile is the part of the CloudFormation template the review reads.
type templateFile struct {
	Resources map[string]templateResource `json:"Resources"`
}

type templateResource struct {
	Type       string          `json:"Type"`
	Properties json.RawMessage `json:"Properties"`
}

func (t *tree) tmpl() *templateFile {
	t.tmplOnce.Do(func() {
		b, ok := t.files[compiler.TemplatePath]
		if !ok {
			return
		}
		var tf templateFile
		if err := json.Unmarshal(b, &tf); err != nil {
			t.notes = append(t.notes, fmt.Sprintf("%s set: %s cannot be read: %v", t.label, compiler.TemplatePath, err))
			return
		}
		t.template = &tf
	})
	return t.template
}

// documentContent finds the content of the SSM document called name in the
// template, for documents that are not files of the policy (a document the
// set shares, say). Only resources whose properties hold the quoted name
// are decoded.
func (t *tree) documentContent(name string) json.RawMessage {
	tf := t.tmpl()
	if tf == nil || name == "" {
		return nil
	}
	quoted := []byte(strconv.Quote(name))
	for _, id := range sortedKeys(tf.Resources) {
		r := tf.Resources[id]
		if r.Type != "AWS::SSM::Document" || !bytes.Contains(r.Properties, quoted) {
			continue
		}
		var props struct {
			Name    string          `json:"Name"`
			Content json.RawMessage `json:"Content"`
		}
		if json.Unmarshal(r.Properties, &props) == nil && props.Name == name {
			return props.Content
		}
	}
	return nil
}

// sharedDefaults returns the parameter defaults of the command document
// called name: from the template, or else from the one command document
// file outside the policy directories, when there is exactly one.
func (t *tree) sharedDefaults(name string) docDefaults {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d, ok := t.defaults[name]; ok {
		return d
	}
	content := t.documentContent(name)
	if content == nil {
		var found []string
		for p := range t.files {
			if path.Base(p) == commandFile && !strings.HasPrefix(p, "policies/") {
				found = append(found, p)
			}
		}
		if len(found) == 1 {
			content = t.files[found[0]]
		}
	}
	d := docDefaults{}
	if content != nil {
		d.params, d.err = parameterDefaults(content)
		d.found = true
	}
	if t.defaults == nil {
		t.defaults = map[string]docDefaults{}
	}
	t.defaults[name] = d
	return d
}

// parameterDefaults reads the default of every parameter of a document.
func parameterDefaults(content []byte) (map[string]string, error) {
	var doc struct {
		Parameters map[string]struct {
			Default json.RawMessage `json:"default"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(content, &doc); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, p := range doc.Parameters {
		if v, ok := scalar(p.Default); ok {
			out[k] = v
		}
	}
	return out, nil
}

// read builds the state of one policy from its files, and says what it
// could not read.
func (t *tree) read(name string) (*policyState, []string) {
	r := &policyReader{t: t}
	dir := t.dirs[name]
	st := &policyState{name: name, retention: Retention{Rule: RuleNone}, engine: engineOf(dir)}
	switch st.engine { // engines.go
	case EngineBackup:
		r.readBackup(st, dir)
	case EngineDLM:
		r.readDLM(st, dir)
	default:
		taskDocument := r.readWindow(st, dir)
		steps := r.readRunbook(name, dir, taskDocument)
		st.retention = retentionFromSteps(steps)
		st.copies, st.archive = copiesFromSteps(steps)
		st.snapshot = r.readSnapshot(name, dir, steps)
	}
	st.roles = r.readRoles(name, dir)
	return st, r.notes
}

// windowInputs is the part of maintenance-window.json the review reads.
type windowInputs struct {
	CreateMaintenanceWindow struct {
		Schedule         string `json:"Schedule"`
		ScheduleTimezone string `json:"ScheduleTimezone"`
		ScheduleOffset   int    `json:"ScheduleOffset"`
		Duration         int    `json:"Duration"`
		Cutoff           int    `json:"Cutoff"`
	} `json:"CreateMaintenanceWindow"`
	RegisterTargetWithMaintenanceWindow struct {
		Targets []struct {
			Key    string   `json:"Key"`
			Values []string `json:"Values"`
		} `json:"Targets"`
	} `json:"RegisterTargetWithMaintenanceWindow"`
	RegisterTaskWithMaintenanceWindow struct {
		TaskArn        string `json:"TaskArn"`
		MaxConcurrency string `json:"MaxConcurrency"`
		MaxErrors      string `json:"MaxErrors"`
	} `json:"RegisterTaskWithMaintenanceWindow"`
}

// readWindow reads schedule and targets, and returns the name of the
// runbook the window's task runs.
func (r *policyReader) readWindow(st *policyState, dir map[string][]byte) string {
	b, ok := dir[windowFile]
	if !ok {
		r.notef("policy %s has no %s: its schedule and targets are not compared", st.name, windowFile)
		return ""
	}
	var w windowInputs
	if err := json.Unmarshal(b, &w); err != nil {
		r.notef("policies/%s/%s cannot be read: %v", st.name, windowFile, err)
		return ""
	}
	cw, task := w.CreateMaintenanceWindow, w.RegisterTaskWithMaintenanceWindow
	tz := cw.ScheduleTimezone
	if tz == "" {
		tz = "UTC" // Systems Manager's default
	}
	st.schedule = &Schedule{
		Expression:     cw.Schedule,
		Timezone:       tz,
		Offset:         cw.ScheduleOffset,
		DurationHours:  cw.Duration,
		CutoffHours:    cw.Cutoff,
		MaxConcurrency: task.MaxConcurrency,
		MaxErrors:      task.MaxErrors,
	}
	for _, tg := range w.RegisterTargetWithMaintenanceWindow.Targets {
		key := strings.TrimPrefix(tg.Key, "tag:")
		values := slices.Clone(tg.Values)
		sort.Strings(values)
		st.targets = append(st.targets, Target{Key: key, Values: values})
	}
	sort.Slice(st.targets, func(i, j int) bool { return st.targets[i].Key < st.targets[j].Key })
	return task.TaskArn
}

// step is one runbook step; inputs are read by action.
type step struct {
	Name   string          `json:"name"`
	Action string          `json:"action"`
	Inputs json.RawMessage `json:"inputs"`
	// payload caches payloadOf.
	payload map[string]json.RawMessage
	decoded bool
}

// readRunbook returns the steps of the runbook: the policy's own file, or
// the document the window's task names, from the template.
func (r *policyReader) readRunbook(name string, dir map[string][]byte, taskDocument string) []*step {
	content, where := dir[runbookFile], "policies/"+name+"/"+runbookFile
	if content == nil {
		content, where = r.t.documentContent(taskDocument), "the template's document "+taskDocument
	}
	if content == nil {
		r.notef("policy %s: no runbook found: retention, copies and archive are not compared", name)
		return nil
	}
	var doc struct {
		MainSteps []*step `json:"mainSteps"`
	}
	if err := json.Unmarshal(content, &doc); err != nil {
		r.notef("%s cannot be read: %v", where, err)
		return nil
	}
	return doc.MainSteps
}

// payloadOf returns the keys of a step's inputs, merged with those of its
// InputPayload (aws:executeScript), as raw JSON values.
func payloadOf(s *step) map[string]json.RawMessage {
	if !s.decoded {
		s.payload, s.decoded = decodePayload(s.Inputs), true
	}
	return s.payload
}

func decodePayload(inputs json.RawMessage) map[string]json.RawMessage {
	var in map[string]json.RawMessage
	if json.Unmarshal(inputs, &in) != nil {
		return nil
	}
	var payload map[string]json.RawMessage
	if raw, ok := in["InputPayload"]; ok && json.Unmarshal(raw, &payload) == nil {
		for k, v := range payload {
			if _, taken := in[k]; !taken {
				in[k] = v
			}
		}
	}
	return in
}

// scalar reads a JSON string, number or boolean as text; a list of
// strings is joined by spaces.
func scalar(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&n) == nil {
		return n.String(), true
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return strconv.FormatBool(b), true
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return strings.Join(list, " "), true
	}
	return "", false
}

// intOf reads the first of keys that holds a whole number.
func intOf(m map[string]json.RawMessage, keys ...string) (int, bool) {
	for _, k := range keys {
		if raw, ok := m[k]; ok {
			if s, ok := scalar(raw); ok {
				if n, err := strconv.Atoi(s); err == nil {
					return n, true
				}
			}
		}
	}
	return 0, false
}

func stringOf(m map[string]json.RawMessage, keys ...string) string {
	for _, k := range keys {
		if raw, ok := m[k]; ok {
			if s, ok := scalar(raw); ok && s != "" {
				return s
			}
		}
	}
	return ""
}

// retentionFrom reads KeepCount, MaxAgeDays and MinKeep ("0" or absent:
// not set), as the prune step's InputPayload carries them.
func retentionFrom(m map[string]json.RawMessage) (Retention, bool) {
	count, hasCount := intOf(m, "KeepCount")
	age, hasAge := intOf(m, "MaxAgeDays")
	if !hasCount && !hasAge {
		return Retention{Rule: RuleNone}, false
	}
	minKeep, _ := intOf(m, "MinKeep")
	switch {
	case count > 0:
		// minKeep cannot exceed a count, so it says nothing more.
		return Retention{Rule: RuleCount, KeepCount: count}, true
	case age > 0:
		return Retention{Rule: RuleMaxAge, MaxAgeDays: age, MinKeep: max(minKeep, 1)}, true
	}
	return Retention{Rule: RuleNone}, false
}

// retentionFromSteps reads the prune step: the step whose inputs carry a
// retention rule and that is not a copy. None when there is no such step.
func retentionFromSteps(steps []*step) Retention {
	for _, s := range steps {
		if isCopyStep(s) {
			continue
		}
		if r, ok := retentionFrom(payloadOf(s)); ok {
			return r
		}
	}
	return Retention{Rule: RuleNone}
}

func isCopyStep(s *step) bool {
	if strings.Contains(strings.ToLower(s.Name), "copy") {
		return true
	}
	return stringOf(payloadOf(s), "Api") == "CopySnapshot"
}

func isArchiveStep(s *step) bool {
	if strings.Contains(strings.ToLower(s.Name), "archive") {
		return true
	}
	return stringOf(payloadOf(s), "Api") == "ModifySnapshotTier"
}

// copiesFromSteps reads copy and archive steps, when the runbook has any: a
// step per destination (DestinationRegion, DestinationAccount and an
// optional retention in its inputs), or one step with a list of them
// (Copies or Destinations).
func copiesFromSteps(steps []*step) ([]Copy, *Archive) {
	var copies []Copy
	var archive *Archive
	for _, s := range steps {
		in := payloadOf(s)
		switch {
		case isCopyStep(s):
			var list []map[string]json.RawMessage
			if raw, ok := in["Copies"]; ok {
				_ = json.Unmarshal(raw, &list)
			} else if raw, ok := in["Destinations"]; ok {
				_ = json.Unmarshal(raw, &list)
			}
			if len(list) == 0 {
				list = []map[string]json.RawMessage{in}
			}
			for _, d := range list {
				c := Copy{
					Region:  stringOf(d, "DestinationRegion", "Region", "TargetRegion"),
					Account: stringOf(d, "DestinationAccount", "DestinationAccountId", "Account", "AccountId", "TargetAccount"),
				}
				if r, ok := retentionFrom(d); ok {
					r.Text = retentionText(r)
					c.Retention = &r
				}
				if c.Region != "" || c.Account != "" {
					copies = append(copies, c)
				}
			}
		case isArchiveStep(s):
			if days, ok := intOf(in, "ArchiveAfterDays", "AfterDays", "Days"); ok && days > 0 {
				archive = &Archive{AfterDays: days}
			}
		}
	}
	sort.SliceStable(copies, func(i, j int) bool {
		if copies[i].Region != copies[j].Region {
			return copies[i].Region < copies[j].Region
		}
		return copies[i].Account < copies[j].Account
	})
	return copies, archive
}

// readSnapshot reads what the on-instance command does: the parameters of
// the command document, with their defaults, overridden by the literal
// values the runbook's aws:runCommand step passes. The command document is
// the policy's own file or, when the set shares one, the document the step
// names, from the template. The step is the first aws:runCommand that is
// neither the package install nor a Windows policy's custom hooks, whose
// hooks are read too.
func (r *policyReader) readSnapshot(name string, dir map[string][]byte, steps []*step) []setting {
	params := map[string]string{}
	var passed map[string]json.RawMessage
	docName, hooks := "", ""
	for _, s := range steps {
		if s.Action != "aws:runCommand" {
			continue
		}
		in := payloadOf(s)
		doc := stringOf(in, "DocumentName")
		var p map[string]json.RawMessage
		if raw, ok := in["Parameters"]; ok {
			_ = json.Unmarshal(raw, &p)
		}
		switch {
		case strings.HasPrefix(doc, compiler.WindowsHooksDocument+"-"):
			if v, ok := scalar(p[documents.HooksParamHooks]); ok && hooks == "" {
				hooks = v
			}
			continue
		case doc == documents.ConfigurePackageDocument, docName != "":
			continue
		}
		docName, passed = doc, p
	}
	var defaults docDefaults
	if content, ok := dir[commandFile]; ok {
		defaults.found = true
		defaults.params, defaults.err = parameterDefaults(content)
	} else {
		defaults = r.t.sharedDefaults(docName)
	}
	switch {
	case !defaults.found && len(passed) == 0:
		r.notef("policy %s: no command document found: its snapshot settings are not compared", name)
	case defaults.err != nil:
		r.notef("policy %s: the command document cannot be read: %v", name, defaults.err)
	}
	for k, v := range defaults.params {
		params[k] = v
	}
	for k, raw := range passed {
		if v, ok := scalar(raw); ok && !strings.Contains(v, "{{") {
			params[k] = v
		}
	}
	var out []setting
	add := func(name, value string, ok bool) {
		if ok {
			out = append(out, setting{name, value})
		}
	}
	v, ok := params["Consistency"]
	add("consistency", v, ok)
	if v, ok := params["Volumes"]; ok {
		add("volumes", v, true)
	} else if v, ok := params["ExcludeBootVolume"]; ok {
		add("volumes", map[string]string{"true": "data", "false": "all"}[strings.ToLower(v)], true)
	}
	v, ok = params["Apps"]
	add("apps", v, ok)
	switch {
	case docName == documents.CreateVSSSnapshotDocument:
		add("vss", "managed", true)
	case strings.HasPrefix(docName, compiler.WindowsDiskshadowDocument+"-"):
		add("vss", "diskshadow", true)
	}
	v, ok = params["CopyOnly"]
	add("copyOnly", strings.ToLower(v), ok)
	v, ok = params["NoWriters"]
	add("noWriters", strings.ToLower(v), ok)
	add("customHooks", hooks, hooks != "")
	v, ok = params["Mounts"]
	add("mounts", v, ok)
	v, ok = params["MaxFreezeSeconds"]
	add("maxFreezeSeconds", v, ok)
	if v, ok := params["SnapshotTags"]; ok {
		add("snapshotTags", tagsText(v), true)
	}
	return out
}

// vssTagsText renders the DISKSHADOW document's SnapshotTags parameter,
// "Key=k,Value=v;Key=...", as "k=v, k=v"; a value it cannot read is shown
// as it is.
func vssTagsText(v string) string {
	if v == "" {
		return ""
	}
	var parts []string
	for _, pair := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(strings.TrimPrefix(pair, "Key="), ",Value=")
		if !ok || !strings.HasPrefix(pair, "Key=") {
			return v
		}
		parts = append(parts, k+"="+val)
	}
	return strings.Join(parts, ", ")
}

// tagsText renders the SnapshotTags parameter, [{"Key":..,"Value":..}], as
// "k=v, k=v"; a value it cannot read is shown as it is.
func tagsText(v string) string {
	var tags []struct{ Key, Value string }
	if json.Unmarshal([]byte(v), &tags) != nil {
		return vssTagsText(v)
	}
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = t.Key + "=" + t.Value
	}
	return strings.Join(parts, ", ")
}

// readRoles reads iam/<role>-policy.json of the policy.
func (r *policyReader) readRoles(name string, dir map[string][]byte) map[string][]permissionEntry {
	roles := map[string][]permissionEntry{}
	for _, rel := range sortedKeys(dir) {
		if !strings.HasPrefix(rel, iamDir) || !strings.HasSuffix(rel, policySuffix) || strings.Contains(rel[len(iamDir):], "/") {
			continue
		}
		role := strings.TrimSuffix(path.Base(rel), policySuffix)
		perms, err := permissions(dir[rel])
		if err != nil {
			r.notef("policies/%s/%s cannot be read: %v", name, rel, err)
			continue
		}
		roles[role] = perms
	}
	return roles
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
