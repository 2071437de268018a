package deploy

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// ResourceChange is one line of a change set, as a reviewer reads it.
type ResourceChange struct {
	Action    string // Add, Modify, Remove, Import, Dynamic
	LogicalID string
	Type      string
	// Replacement is "True" or "Conditional" when the change replaces (or
	// may replace) the resource, else empty.
	Replacement string
	// Changed lists the changed properties (and "Tags", "Metadata", …),
	// sorted; a name is marked "(replaces)" when changing it recreates the
	// resource.
	Changed []string
}

// ResourceChanges flattens the changes of a change set, sorted by action
// (additions first) and logical id.
func ResourceChanges(changes []types.Change) []ResourceChange {
	var out []ResourceChange
	for _, c := range changes {
		rc := c.ResourceChange
		if rc == nil {
			continue
		}
		r := ResourceChange{
			Action:    string(rc.Action),
			LogicalID: aws.ToString(rc.LogicalResourceId),
			Type:      aws.ToString(rc.ResourceType),
		}
		if rc.Replacement == types.ReplacementTrue || rc.Replacement == types.ReplacementConditional {
			r.Replacement = string(rc.Replacement)
		}
		seen := map[string]bool{}
		for _, d := range rc.Details {
			if d.Target == nil {
				continue
			}
			name := string(d.Target.Attribute)
			if d.Target.Attribute == types.ResourceAttributeProperties && aws.ToString(d.Target.Name) != "" {
				name = aws.ToString(d.Target.Name)
			}
			if name == "" {
				continue
			}
			if d.Target.RequiresRecreation == types.RequiresRecreationAlways {
				name += " (replaces)"
			}
			if !seen[name] {
				seen[name] = true
				r.Changed = append(r.Changed, name)
			}
		}
		sort.Strings(r.Changed)
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if oi, oj := actionOrder(out[i].Action), actionOrder(out[j].Action); oi != oj {
			return oi < oj
		}
		return out[i].LogicalID < out[j].LogicalID
	})
	return out
}

func actionOrder(a string) int {
	switch types.ChangeAction(a) {
	case types.ChangeActionAdd:
		return 0
	case types.ChangeActionModify:
		return 1
	case types.ChangeActionRemove:
		return 2
	}
	return 3
}

// PrintChangeSet writes a change set as a table a reviewer can read.
func PrintChangeSet(w io.Writer, title string, changes []ResourceChange) {
	counts := map[string]int{}
	for _, c := range changes {
		counts[c.Action]++
	}
	var parts []string
	for _, a := range []struct{ action, words string }{
		{"Add", "to add"}, {"Modify", "to modify"}, {"Remove", "to remove"}, {"Import", "to import"}, {"Dynamic", "dynamic"},
	} {
		if n := counts[a.action]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, a.words))
		}
	}
	fmt.Fprintf(w, "%s: %d %s", title, len(changes), plural(len(changes), "change", "changes"))
	if len(parts) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
	if len(changes) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ACTION\tRESOURCE\tTYPE\tREPLACEMENT\tCHANGED")
	for _, c := range changes {
		repl, changed := orDash(c.Replacement), orDash(strings.Join(c.Changed, ", "))
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Action, c.LogicalID, c.Type, repl, changed)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
