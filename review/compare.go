package review

import (
	"bytes"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/schedule"
)

// Side is one of the two compiled sets.
type Side struct {
	Files compiler.Files
	// Warnings of the compilation that produced Files (see WarningsOf).
	// When nil, they are read back from the summary in Files.
	Warnings []Warning
}

// Input is what Compare compares.
type Input struct {
	Old, New Side
	// Now is the instant next runs are listed from.
	Now time.Time
	// Against names the old side for the reader, e.g. "origin/main" or "out/".
	Against string
	// Notes are passed through to the plan, e.g. why the old side is empty.
	Notes []string
}

// Compare says what changes from in.Old to in.New.
func Compare(in Input) *Plan {
	now := in.Now.UTC().Truncate(time.Second)
	oldT, newT := newTree("old", in.Old.Files), newTree("new", in.New.Files)
	p := &Plan{
		Against:      in.Against,
		Now:          now.Format(time.RFC3339),
		Policies:     []PolicyChange{},
		Replacements: []Replacement{},
		Notes:        append([]string{}, in.Notes...),
	}
	p.Files = diffFiles(in.Old.Files, in.New.Files)
	var changedFiles []string
	for _, l := range [][]string{p.Files.Added, p.Files.Removed, p.Files.Changed} {
		changedFiles = append(changedFiles, l...)
	}
	sort.Strings(changedFiles)

	// The templates are needed when they differ; parse both while the
	// policies are read.
	templateChanged := !bytes.Equal(in.Old.Files[compiler.TemplatePath], in.New.Files[compiler.TemplatePath])
	var parsing sync.WaitGroup
	if templateChanged {
		parsing.Go(func() { oldT.tmpl() })
		parsing.Go(func() { newT.tmpl() })
	}

	names := map[string]bool{}
	for n := range oldT.dirs {
		names[n] = true
	}
	for n := range newT.dirs {
		names[n] = true
	}
	// A policy whose files are all the same is the same policy, unless a
	// file it may depend on outside the policy directories (a document the
	// set shares) changed; then every policy is read. Every document is
	// also emitted as a file, so the template need not be looked at.
	shared := false
	for _, f := range changedFiles {
		if !strings.HasPrefix(f, "policies/") && !isSetWideRendering(f) {
			shared = true
			break
		}
	}
	var toRead []string
	for _, name := range sortedKeys(names) {
		od, inOld := oldT.dirs[name]
		nd, inNew := newT.dirs[name]
		if inOld && inNew && !shared && sameDir(od, nd) {
			continue
		}
		toRead = append(toRead, name)
	}
	// Policies are read and compared in parallel; results keep name order.
	results := make([]comparison, len(toRead))
	work := make(chan int)
	var workers sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(len(toRead), 1)) {
		workers.Go(func() {
			for i := range work {
				results[i] = comparePolicy(toRead[i], oldT, newT, changedFiles, now)
			}
		})
	}
	for i := range toRead {
		work <- i
	}
	close(work)
	workers.Wait()
	for _, r := range results {
		p.Notes = append(p.Notes, r.notes...)
		if r.change == nil {
			continue
		}
		p.Policies = append(p.Policies, *r.change)
		switch r.change.Change {
		case Added:
			p.Counts.Added++
		case Removed:
			p.Counts.Removed++
		default:
			p.Counts.Changed++
		}
	}
	parsing.Wait()

	if templateChanged {
		reps, notes := replacements(oldT.tmpl(), newT.tmpl())
		p.Replacements = append(p.Replacements, reps...)
		p.Notes = append(p.Notes, notes...)
	}
	p.Counts.Replacements = len(p.Replacements)

	oldW, newW := in.Old.Warnings, in.New.Warnings
	if oldW == nil {
		oldW = summaryWarnings(in.Old.Files)
	}
	if newW == nil {
		newW = summaryWarnings(in.New.Files)
	}
	p.NewWarnings = newWarnings(oldW, newW)
	p.Counts.NewWarnings = len(p.NewWarnings)

	p.Notes = append(p.Notes, oldT.notes...)
	p.Notes = append(p.Notes, newT.notes...)
	sort.Strings(p.Notes[len(in.Notes):])
	p.Changed = len(p.Files.Added)+len(p.Files.Removed)+len(p.Files.Changed) > 0
	return p
}

// comparison is the outcome for one policy: nil when nothing changes.
type comparison struct {
	change *PolicyChange
	notes  []string
}

// comparePolicy reads and compares one policy; changedFiles are the sorted
// paths that differ between the trees.
func comparePolicy(name string, oldT, newT *tree, changedFiles []string, now time.Time) comparison {
	_, inOld := oldT.dirs[name]
	_, inNew := newT.dirs[name]
	var old, cur *policyState
	var notes, more []string
	if inOld {
		old, notes = oldT.read(name)
	}
	if inNew {
		cur, more = newT.read(name)
		notes = append(notes, more...)
	}
	var c PolicyChange
	switch {
	case !inOld:
		c = describe(Added, nil, cur, now)
	case !inNew:
		c = describe(Removed, old, nil, now)
	default:
		c = describe(Changed, old, cur, now)
		if c.empty() {
			prefix := compiler.PolicyDir(name)
			i, _ := slices.BinarySearch(changedFiles, prefix)
			for _, f := range changedFiles[i:] {
				if !strings.HasPrefix(f, prefix) {
					break
				}
				c.Files = append(c.Files, strings.TrimPrefix(f, prefix))
			}
			if len(c.Files) == 0 {
				return comparison{notes: notes}
			}
		}
	}
	return comparison{change: &c, notes: notes}
}

func sameDir(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// diffFiles lists the paths that differ, leaving out the summary: it
// records the instant it was written from, so it differs between any two
// compilations.
func diffFiles(old, new compiler.Files) FileChanges {
	fc := FileChanges{Added: []string{}, Removed: []string{}, Changed: []string{}}
	for _, p := range new.Paths() {
		if p == compiler.SummaryPath {
			continue
		}
		o, ok := old[p]
		switch {
		case !ok:
			fc.Added = append(fc.Added, p)
		case !bytes.Equal(o, new[p]):
			fc.Changed = append(fc.Changed, p)
		}
	}
	for _, p := range old.Paths() {
		if _, ok := new[p]; !ok && p != compiler.SummaryPath {
			fc.Removed = append(fc.Removed, p)
		}
	}
	return fc
}

func (c *PolicyChange) empty() bool {
	return c.OldEngine == "" && c.Schedule == nil && c.Targets == nil && c.Retention == nil && len(c.Snapshot) == 0 &&
		c.Copies == nil && c.Archive == nil && len(c.IAM) == 0 && len(c.Files) == 0
}

// describe compares the states of one policy; old or new is nil when the
// policy is added or removed.
func describe(kind string, old, new *policyState, now time.Time) PolicyChange {
	c := PolicyChange{Change: kind}
	var o, n policyState
	if old != nil {
		o, c.Name = *old, old.name
	}
	if new != nil {
		n, c.Name = *new, new.name
	}
	c.Engine = n.engine
	if new == nil {
		c.Engine = o.engine
	} else if old != nil && o.engine != n.engine {
		c.OldEngine = o.engine
	}

	// Schedule: next runs are listed when the timing changes, and for a
	// policy that starts running.
	switch {
	case new == nil:
		if o.schedule != nil {
			c.Schedule = &ScheduleChange{Old: withRuns(o.schedule, now, false), Fields: []string{}}
		}
	case old == nil:
		if n.schedule != nil {
			c.Schedule = &ScheduleChange{New: withRuns(n.schedule, now, true), Fields: []string{}}
		}
	case o.schedule != nil && n.schedule != nil:
		if fields := scheduleFields(o.schedule, n.schedule); len(fields) > 0 {
			timing := slices.ContainsFunc(fields, func(f string) bool { return f == "expression" || f == "timezone" || f == "offset" })
			c.Schedule = &ScheduleChange{Old: withRuns(o.schedule, now, timing), New: withRuns(n.schedule, now, timing), Fields: fields}
		}
	}

	if !slices.EqualFunc(o.targets, n.targets, func(a, b Target) bool { return a.Key == b.Key && slices.Equal(a.Values, b.Values) }) {
		c.Targets = &TargetsChange{Old: nonNil(o.targets), New: nonNil(n.targets)}
		if old == nil {
			c.Targets.Old = nil
		}
		if new == nil {
			c.Targets.New = nil
		}
	}

	switch {
	case old == nil:
		r := n.retention
		r.Text = retentionText(r)
		c.Retention = &RetentionChange{New: &r, Explanation: "a new policy has no snapshots yet; " + r.Text}
	case new == nil:
		r := o.retention
		r.Text = retentionText(r)
		explanation := "the policy's snapshots stay: nothing prunes them any more, and deleting them is left to you"
		if o.engine == EngineBackup {
			explanation = "the recovery points stay in the vault, each deleted by the lifecycle it was created with"
		}
		c.Retention = &RetentionChange{Old: &r, Explanation: explanation}
	case !sameRetention(o.retention, n.retention):
		c.Retention = retentionChange(o.retention, n.retention, n.schedule, now)
	}

	switch {
	case old == nil:
		c.Snapshot = allSettings(n.snapshot, false)
	case new == nil:
		c.Snapshot = allSettings(o.snapshot, true)
	default:
		c.Snapshot = diffSettings(o.snapshot, n.snapshot)
	}

	if !slices.EqualFunc(o.copies, n.copies, sameCopy) {
		c.Copies = &CopiesChange{Old: nonNil(o.copies), New: nonNil(n.copies)}
	}
	if (o.archive == nil) != (n.archive == nil) || (o.archive != nil && *o.archive != *n.archive) {
		c.Archive = &ArchiveChange{Old: o.archive, New: n.archive}
	}
	c.IAM = diffRoles(o.roles, n.roles)
	return c
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

func sameCopy(a, b Copy) bool {
	if a.Region != b.Region || a.Account != b.Account || (a.Retention == nil) != (b.Retention == nil) {
		return false
	}
	return a.Retention == nil || sameRetention(*a.Retention, *b.Retention)
}

// scheduleFields names the fields of two schedules that differ.
func scheduleFields(a, b *Schedule) []string {
	var out []string
	for _, f := range []struct {
		name string
		same bool
	}{
		{"expression", a.Expression == b.Expression},
		{"timezone", a.Timezone == b.Timezone},
		{"offset", a.Offset == b.Offset},
		{"durationHours", a.DurationHours == b.DurationHours},
		{"cutoffHours", a.CutoffHours == b.CutoffHours},
		{"maxConcurrency", a.MaxConcurrency == b.MaxConcurrency},
		{"maxErrors", a.MaxErrors == b.MaxErrors},
	} {
		if !f.same {
			out = append(out, f.name)
		}
	}
	return out
}

// parseSchedule parses a schedule as the maintenance window holds it.
func parseSchedule(s *Schedule) (*schedule.Schedule, *time.Location, bool) {
	parsed, errs := schedule.Parse(s.Expression)
	if len(errs) > 0 || parsed == nil {
		return nil, nil, false
	}
	loc, err := schedule.LoadLocation(s.Timezone)
	if err != nil {
		return nil, nil, false
	}
	return parsed, loc, true
}

// withRuns copies s with its description and, when runs is set, its next runs.
func withRuns(s *Schedule, now time.Time, runs bool) *Schedule {
	out := *s
	out.NextRuns = []string{}
	parsed, loc, ok := parseSchedule(s)
	if !ok {
		return &out
	}
	out.Description = parsed.Describe()
	if runs {
		for _, t := range parsed.Next(now, loc, s.Offset, compiler.NextRunsCount) {
			out.NextRuns = append(out.NextRuns, t.In(loc).Format(time.RFC3339))
		}
	}
	return &out
}

// allSettings lists every setting of an added (or removed) policy.
func allSettings(ss []setting, removed bool) []SettingChange {
	var out []SettingChange
	for _, s := range ss {
		if removed {
			out = append(out, SettingChange{Setting: s.name, Old: s.value})
		} else {
			out = append(out, SettingChange{Setting: s.name, New: s.value})
		}
	}
	return out
}

// diffSettings compares snapshot settings by name, in the order the reader
// lists them.
func diffSettings(old, new []setting) []SettingChange {
	get := func(ss []setting, name string) (string, bool) {
		for _, s := range ss {
			if s.name == name {
				return s.value, true
			}
		}
		return "", false
	}
	var names []string
	for _, s := range append(slices.Clone(new), old...) {
		if !slices.Contains(names, s.name) {
			names = append(names, s.name)
		}
	}
	order := map[string]int{"consistency": 0, "volumes": 1, "mounts": 2, "maxFreezeSeconds": 3, "snapshotTags": 4}
	sort.SliceStable(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
	var out []SettingChange
	for _, name := range names {
		o, _ := get(old, name)
		n, _ := get(new, name)
		if o != n {
			out = append(out, SettingChange{Setting: name, Old: o, New: n})
		}
	}
	return out
}

// isSetWideRendering reports whether f is one of the files that render the
// whole set again (the CloudFormation template, the Terraform configuration,
// the summary): they change with any policy and hold nothing the policy
// directories and shared documents do not.
func isSetWideRendering(f string) bool {
	return f == compiler.TemplatePath || f == compiler.TerraformPath || f == compiler.SummaryPath
}
