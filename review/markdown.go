package review

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ssm-backup/ssm-backup/schedule"
)

// JSON renders the plan for machines: indented, with a trailing newline.
func (p *Plan) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Markdown renders the plan for a pull-request comment.
func (p *Plan) Markdown() []byte {
	var b strings.Builder
	b.WriteString("## ssm-backup plan\n\n")
	against := "the previous set"
	if p.Against != "" {
		against = code(p.Against)
	}
	fmt.Fprintf(&b, "Compared with %s. Next runs are listed from %s.\n\n", against, p.Now)
	if !p.Changed {
		b.WriteString("No changes.\n\n")
	} else {
		fmt.Fprintf(&b, "**%s**\n\n", p.headline())
	}
	for _, c := range p.Policies {
		writePolicy(&b, c)
	}
	if shared := p.sharedFiles(); len(shared) > 0 {
		b.WriteString("### Shared by the policies\n\n")
		changed := false
		for _, f := range shared {
			fmt.Fprintf(&b, "- %s %s\n", f.status, code(f.path))
			changed = changed || f.status == "changed"
		}
		if changed {
			b.WriteString("\nEvery policy that uses a changed file runs the new version from the next deploy on.\n")
		}
		b.WriteString("\n")
	}
	if len(p.Replacements) > 0 {
		b.WriteString("### Resources CloudFormation replaces\n\n")
		b.WriteString("CloudFormation creates each of these anew and deletes the old one; anything that refers to the old one by its physical id (outside this stack) must be updated.\n\n")
		b.WriteString("| resource | type | because |\n|---|---|---|\n")
		for _, r := range p.Replacements {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", cell(code(r.LogicalID)), cell(r.Type), cell(r.Reason))
		}
		b.WriteString("\n")
	}
	if len(p.NewWarnings) > 0 {
		b.WriteString("### New warnings\n\n")
		for _, w := range p.NewWarnings {
			b.WriteString("- ")
			if w.Code != "" {
				b.WriteString(w.Code + " ")
			}
			if w.Policy != "" {
				fmt.Fprintf(&b, "%s ", code(w.Policy))
			}
			if w.File != "" {
				fmt.Fprintf(&b, "(%s): ", code(fmt.Sprintf("%s:%d:%d", w.File, w.Line, w.Column)))
			}
			b.WriteString(oneLine(w.Summary) + "\n")
			if w.Detail != "" {
				fmt.Fprintf(&b, "  %s\n", oneLine(w.Detail))
			}
		}
		b.WriteString("\n")
	}
	if len(p.Notes) > 0 {
		b.WriteString("### Not compared\n\n")
		for _, n := range p.Notes {
			fmt.Fprintf(&b, "- %s\n", oneLine(n))
		}
		b.WriteString("\n")
	}
	if n := len(p.Files.Added) + len(p.Files.Removed) + len(p.Files.Changed); n > 0 {
		fmt.Fprintf(&b, "<details><summary>%d generated %s differ</summary>\n\n", n, plural(n, "file", "files"))
		for _, l := range []struct {
			what  string
			paths []string
		}{{"added", p.Files.Added}, {"removed", p.Files.Removed}, {"changed", p.Files.Changed}} {
			for _, f := range l.paths {
				fmt.Fprintf(&b, "- %s %s\n", l.what, code(f))
			}
		}
		b.WriteString("\n</details>\n")
	}
	return []byte(strings.TrimRight(b.String(), "\n") + "\n")
}

type fileStatus struct{ status, path string }

// sharedFiles are the files that differ outside the policy directories,
// the template and the summary: documents and scripts the set shares.
func (p *Plan) sharedFiles() []fileStatus {
	var out []fileStatus
	for _, l := range []struct {
		status string
		paths  []string
	}{{"added", p.Files.Added}, {"removed", p.Files.Removed}, {"changed", p.Files.Changed}} {
		for _, f := range l.paths {
			if !strings.HasPrefix(f, "policies/") && !isSetWideRendering(f) {
				out = append(out, fileStatus{l.status, f})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

func (p *Plan) headline() string {
	c := p.Counts
	var parts []string
	var pol []string
	if c.Added > 0 {
		pol = append(pol, fmt.Sprintf("%d added", c.Added))
	}
	if c.Removed > 0 {
		pol = append(pol, fmt.Sprintf("%d removed", c.Removed))
	}
	if c.Changed > 0 {
		pol = append(pol, fmt.Sprintf("%d changed", c.Changed))
	}
	if len(pol) > 0 {
		parts = append(parts, "Policies: "+strings.Join(pol, ", "))
	}
	if c.Replacements > 0 {
		parts = append(parts, fmt.Sprintf("%d %s replaced", c.Replacements, plural(c.Replacements, "resource", "resources")))
	}
	if c.NewWarnings > 0 {
		parts = append(parts, fmt.Sprintf("%d new %s", c.NewWarnings, plural(c.NewWarnings, "warning", "warnings")))
	}
	for _, pc := range p.Policies {
		if pc.Retention != nil && pc.Retention.DeletesExisting {
			parts = append(parts, "the next run deletes snapshots the old retention kept")
			break
		}
	}
	if len(parts) == 0 {
		if len(p.sharedFiles()) > 0 {
			return "Files every policy shares change; no policy's settings do."
		}
		return "Generated files differ, but no policy's behaviour changes."
	}
	return strings.Join(parts, " · ") + "."
}

func writePolicy(b *strings.Builder, c PolicyChange) {
	switch c.Change {
	case Added:
		fmt.Fprintf(b, "### Added: %s\n\n", code(c.Name))
	case Removed:
		fmt.Fprintf(b, "### Removed: %s\n\n", code(c.Name))
		switch c.Engine {
		case EngineBackup:
			b.WriteString("Its backup plan, selections and roles are deleted. Its vault stays (the template retains it) with its recovery points, each still deleted by the lifecycle it was created with.\n\n")
		case EngineDLM:
			b.WriteString("Its lifecycle policies, script document and roles are deleted. Its snapshots stay: nothing prunes them any more.\n\n")
		default:
			b.WriteString("Its maintenance window, documents and roles are deleted. Its snapshots stay: nothing prunes them any more.\n\n")
		}
	default:
		fmt.Fprintf(b, "### Changed: %s\n\n", code(c.Name))
	}
	switch {
	case c.OldEngine != "":
		fmt.Fprintf(b, "**Engine:** %s → %s: the old engine's resources are deleted and the new one's created; the snapshots taken so far stay, and nothing of the new engine prunes them\n\n", engineText(c.OldEngine), engineText(c.Engine))
	case c.Change != Changed || c.Engine != EngineSSM:
		fmt.Fprintf(b, "**Engine:** %s\n\n", engineText(c.Engine))
	}
	if c.Targets != nil {
		writeBeforeAfter(b, "Targets", c.Change, targetsText(c.Targets.Old), targetsText(c.Targets.New))
	}
	if c.Schedule != nil {
		writeSchedule(b, c.Change, c.Schedule)
	}
	if c.Retention != nil && c.Change != Removed {
		writeRetention(b, c.Change, c.Retention)
	}
	if len(c.Snapshot) > 0 {
		if c.Change == Changed {
			b.WriteString("**Snapshots**\n\n| setting | before | after |\n|---|---|---|\n")
			for _, s := range c.Snapshot {
				fmt.Fprintf(b, "| %s | %s | %s |\n", settingLabel(s.Setting), cell(settingText(s.Setting, s.Old)), cell(settingText(s.Setting, s.New)))
			}
			b.WriteString("\n")
		} else {
			var parts []string
			for _, s := range c.Snapshot {
				v := s.New
				if c.Change == Removed {
					v = s.Old
				}
				parts = append(parts, settingLabel(s.Setting)+": "+settingText(s.Setting, v))
			}
			fmt.Fprintf(b, "**Snapshots:** %s\n\n", strings.Join(parts, "; "))
		}
	}
	if c.Copies != nil {
		writeBeforeAfter(b, "Copies", c.Change, copiesText(c.Copies.Old), copiesText(c.Copies.New))
	}
	if c.Archive != nil {
		writeBeforeAfter(b, "Archive", c.Change, archiveText(c.Archive.Old), archiveText(c.Archive.New))
	}
	if len(c.IAM) > 0 {
		writeIAM(b, c.Change, c.IAM)
	}
	if len(c.Files) > 0 {
		fmt.Fprintf(b, "**Other generated files:** %s %s, and nothing above explains it (a new version of ssm-backup, say).\n\n",
			codeList(c.Files), plural(len(c.Files), "differs", "differ"))
	}
}

// writeBeforeAfter writes one aspect: both sides for a change, one for an
// added or removed policy.
func writeBeforeAfter(b *strings.Builder, title, change, before, after string) {
	switch change {
	case Added:
		fmt.Fprintf(b, "**%s:** %s\n\n", title, after)
	case Removed:
		fmt.Fprintf(b, "**%s:** %s\n\n", title, before)
	default:
		fmt.Fprintf(b, "**%s**\n\n- before: %s\n- after: %s\n\n", title, before, after)
	}
}

func targetsText(ts []Target) string {
	if len(ts) == 0 {
		return "none"
	}
	var parts []string
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%s = %s", code(t.Key), codeOr(t.Values)))
	}
	return "instances tagged " + strings.Join(parts, " and ")
}

func scheduleText(s *Schedule) string {
	out := code(s.Expression)
	if s.Description != "" {
		out += " (" + s.Description + ")"
	}
	out += ", time zone " + s.Timezone
	if s.Offset > 0 {
		out += fmt.Sprintf(", %d %s after the cron date", s.Offset, plural(s.Offset, "day", "days"))
	}
	return out
}

func windowText(s *Schedule) string {
	if s.MaxConcurrency == "" {
		// AWS Backup (its start window) or Data Lifecycle Manager (none):
		// the service starts every job itself.
		if s.DurationHours == 0 {
			return "started by the service within the hour"
		}
		return fmt.Sprintf("jobs start within %d h", s.DurationHours)
	}
	open := fmt.Sprintf("open %d h", s.DurationHours)
	if s.CutoffHours > 0 {
		open += fmt.Sprintf(", no new instance in the last %d h", s.CutoffHours)
	}
	return fmt.Sprintf("%s; %s at a time, stop after %s %s", open, s.MaxConcurrency, s.MaxErrors, plural(atoi(s.MaxErrors), "error", "errors"))
}

// settingLabels names the snapshot settings for people.
var settingLabels = map[string]string{
	"consistency":      "consistency",
	"volumes":          "volumes",
	"mounts":           "frozen mounts",
	"maxFreezeSeconds": "max freeze",
	"snapshotTags":     "snapshot tags",
	"apps":             "applications",
	"vss":              "VSS path",
	"copyOnly":         "VSS copy-only",
	"noWriters":        "VSS without writers",
	"customHooks":      "custom hooks",
}

func settingLabel(name string) string {
	if l, ok := settingLabels[name]; ok {
		return l
	}
	return name
}

func writeSchedule(b *strings.Builder, change string, sc *ScheduleChange) {
	switch change {
	case Added:
		fmt.Fprintf(b, "**Schedule:** %s; %s\n\n", scheduleText(sc.New), windowText(sc.New))
		writeRuns(b, nil, sc.New)
		return
	case Removed:
		fmt.Fprintf(b, "**Schedule:** %s; %s\n\n", scheduleText(sc.Old), windowText(sc.Old))
		return
	}
	b.WriteString("**Schedule**\n\n| | before | after |\n|---|---|---|\n")
	for _, f := range sc.Fields {
		var o, n string
		switch f {
		case "expression":
			o, n = exprText(sc.Old), exprText(sc.New)
		case "timezone":
			o, n = sc.Old.Timezone, sc.New.Timezone
		case "offset":
			o, n = fmt.Sprintf("%d days", sc.Old.Offset), fmt.Sprintf("%d days", sc.New.Offset)
		case "durationHours":
			f, o, n = "window", fmt.Sprintf("%d h", sc.Old.DurationHours), fmt.Sprintf("%d h", sc.New.DurationHours)
		case "cutoffHours":
			f, o, n = "cutoff", fmt.Sprintf("%d h", sc.Old.CutoffHours), fmt.Sprintf("%d h", sc.New.CutoffHours)
		case "maxConcurrency":
			o, n = sc.Old.MaxConcurrency, sc.New.MaxConcurrency
		case "maxErrors":
			o, n = sc.Old.MaxErrors, sc.New.MaxErrors
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", f, cell(o), cell(n))
	}
	b.WriteString("\n")
	if len(sc.Old.NextRuns) > 0 || len(sc.New.NextRuns) > 0 {
		writeRuns(b, sc.Old, sc.New)
	}
}

func exprText(s *Schedule) string {
	if s.Description == "" {
		return code(s.Expression)
	}
	return code(s.Expression) + " — " + s.Description
}

// writeRuns lists next runs in each schedule's own time zone, side by side
// when there are two.
func writeRuns(b *strings.Builder, old, new *Schedule) {
	if old == nil {
		if len(new.NextRuns) == 0 {
			b.WriteString("**Next runs:** none\n\n")
			return
		}
		b.WriteString("**Next runs:**\n\n")
		for _, r := range new.NextRuns {
			fmt.Fprintf(b, "- %s\n", runText(r, new.Timezone))
		}
		b.WriteString("\n")
		return
	}
	fmt.Fprintf(b, "| next runs before (%s) | next runs after (%s) |\n|---|---|\n", old.Timezone, new.Timezone)
	for i := 0; i < max(len(old.NextRuns), len(new.NextRuns)); i++ {
		var o, n string
		if i < len(old.NextRuns) {
			o = runText(old.NextRuns[i], old.Timezone)
		}
		if i < len(new.NextRuns) {
			n = runText(new.NextRuns[i], new.Timezone)
		}
		fmt.Fprintf(b, "| %s | %s |\n", o, n)
	}
	b.WriteString("\n")
}

// runText shows a run as the summary does: "Mon 2026-01-05 02:15 CET".
func runText(rfc3339, zone string) string {
	t, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		return rfc3339
	}
	if loc, err := schedule.LoadLocation(zone); err == nil {
		t = t.In(loc)
	}
	return t.Format("Mon 2006-01-02 15:04 MST")
}

func writeRetention(b *strings.Builder, change string, rc *RetentionChange) {
	switch change {
	case Added:
		fmt.Fprintf(b, "**Retention:** %s.\n\n", rc.New.Text)
		return
	}
	fmt.Fprintf(b, "**Retention**\n\n- before: %s\n- after: %s\n", rc.Old.Text, rc.New.Text)
	if rc.DeletesExisting {
		fmt.Fprintf(b, "- **Deletes existing snapshots on the next run: yes.** %s.\n\n", capitalize(rc.Explanation))
	} else {
		fmt.Fprintf(b, "- Deletes existing snapshots on the next run: no. %s.\n\n", capitalize(rc.Explanation))
	}
}

func settingText(name, v string) string {
	switch {
	case v == "" && name == "mounts":
		return "every ext4 and xfs data file system"
	case v == "" && name == "snapshotTags":
		return "only ssm-backup's own"
	case v == "" && name == "apps":
		return "none"
	case v == "":
		return "—"
	case name == "maxFreezeSeconds":
		return v + " s"
	case name == "mounts":
		return codeAll(strings.Fields(v))
	case name == "snapshotTags":
		return codeAll(strings.Split(v, ", "))
	case name == "apps":
		return codeAll(strings.Fields(v))
	case name == "customHooks":
		return hooksText(v)
	}
	return code(v)
}

func copiesText(cs []Copy) string {
	if len(cs) == 0 {
		return "none"
	}
	var parts []string
	for _, c := range cs {
		var dest []string
		if c.Region != "" {
			dest = append(dest, "region "+code(c.Region))
		}
		if c.Account != "" {
			dest = append(dest, "account "+code(c.Account))
		}
		s := strings.Join(dest, " in ")
		if c.Retention != nil {
			s += " (" + c.Retention.Text + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func archiveText(a *Archive) string {
	if a == nil {
		return "none"
	}
	return fmt.Sprintf("to the archive tier after %d %s", a.AfterDays, plural(a.AfterDays, "day", "days"))
}

func writeIAM(b *strings.Builder, change string, roles []RoleChange) {
	if change == Removed {
		var parts []string
		for _, r := range roles {
			parts = append(parts, fmt.Sprintf("%s role (%d %s)", r.Role, len(r.Removed), plural(len(r.Removed), "permission", "permissions")))
		}
		fmt.Fprintf(b, "**IAM:** withdrawn with the roles: %s.\n\n", strings.Join(parts, ", "))
		return
	}
	b.WriteString("**IAM permissions**\n\n")
	for _, r := range roles {
		fmt.Fprintf(b, "%s role:\n", capitalize(r.Role))
		// An added Deny restricts the role: say "added", not "granted".
		for _, p := range r.Added {
			verb := "granted"
			if p.Effect == "Deny" {
				verb = "restriction added"
			}
			fmt.Fprintf(b, "- %s: %s\n", verb, permissionText(p))
		}
		for _, p := range r.Removed {
			verb := "withdrawn"
			if p.Effect == "Deny" {
				verb = "restriction lifted"
			}
			fmt.Fprintf(b, "- %s: %s\n", verb, permissionText(p))
		}
		b.WriteString("\n")
	}
}

func permissionText(p Permission) string {
	s := fmt.Sprintf("%s %s", strings.ToLower(p.Effect), code(p.Action))
	if p.Resource != "" {
		s += " on " + code(p.Resource)
	}
	var conds []string
	for _, c := range p.Conditions {
		op := c.Operator
		if op == "StringEquals" {
			op = "is"
		}
		conds = append(conds, fmt.Sprintf("%s %s %s", code(c.Key), op, codeOr(c.Values)))
	}
	if len(conds) > 0 {
		s += " when " + strings.Join(conds, " and ")
	}
	return s
}

// code writes s as a code span, fenced so that a backtick inside cannot
// end it.
func code(s string) string {
	if s == "" {
		return `""`
	}
	if !strings.Contains(s, "`") {
		return "`" + s + "`"
	}
	return "`` " + s + " ``"
}

func codeOr(xs []string) string  { return joinCodes(xs, " or ") }
func codeAll(xs []string) string { return joinCodes(xs, " and ") }
func codeList(xs []string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = code(x)
	}
	return strings.Join(out, ", ")
}

func joinCodes(xs []string, last string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = code(x)
	}
	if len(out) > 1 {
		return strings.Join(out[:len(out)-1], ", ") + last + out[len(out)-1]
	}
	return strings.Join(out, "")
}

// cell escapes what would end a table cell.
func cell(s string) string { return strings.ReplaceAll(oneLine(s), "|", `\|`) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			break
		}
		n = n*10 + int(r-'0')
	}
	return n
}

// hooksText renders a Windows policy's Hooks parameter, PRE|POST|SECONDS
// entries joined by ";", as "pre `P`, post `Q`, N s each"; a value it
// cannot read is shown as it is.
func hooksText(v string) string {
	var parts []string
	for _, entry := range strings.Split(v, ";") {
		f := strings.Split(entry, "|")
		if len(f) != 3 {
			return code(v)
		}
		post := "no post hook"
		if f[1] != "" {
			post = "post " + code(f[1])
		}
		parts = append(parts, fmt.Sprintf("pre %s, %s, %s s each", code(f[0]), post, f[2]))
	}
	return strings.Join(parts, "; ")
}
