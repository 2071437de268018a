package review

import (
	"bufio"
	"bytes"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/diag"
	"github.com/ssm-backup/ssm-backup/policies"
)

// WarningsOf attributes the warnings of a compilation to the policies whose
// document they are in (by file and line, as the summary does). The result
// is never nil, so that it can be told from "unknown" in Side.
func WarningsOf(ps []*policies.Policy, ds diag.Diagnostics) []Warning {
	// Start lines of each document, by file, to find the one a line is in.
	type doc struct {
		start int
		name  string
	}
	byFile := map[string][]doc{}
	for _, p := range ps {
		if p == nil || p.Source == nil {
			continue
		}
		byFile[p.Source.File] = append(byFile[p.Source.File], doc{p.Source.Range.Start.Line, p.Metadata.Name})
	}
	for _, docs := range byFile {
		sort.Slice(docs, func(i, j int) bool { return docs[i].start < docs[j].start })
	}
	out := []Warning{}
	for _, d := range ds.Warnings().Sorted() {
		w := Warning{Code: d.Code, Summary: d.Summary, Detail: d.Detail, File: d.Range.File, Line: d.Range.Start.Line, Column: d.Range.Start.Column}
		for _, doc := range byFile[d.Range.File] {
			if doc.start <= d.Range.Start.Line {
				w.Policy = doc.name
			}
		}
		out = append(out, w)
	}
	return out
}

// summaryWarningRE matches a warning line of summary.md:
// "- W001 `file:line:col`: summary".
var summaryWarningRE = regexp.MustCompile("^- (?:(W[0-9]+) )?`([^`]*)`: (.*)$")

// summaryWarnings reads the warnings listed in a compiled tree's summary,
// under each policy's "### Warnings" heading. A tree without a summary has
// none.
func summaryWarnings(files compiler.Files) []Warning {
	b, ok := files[compiler.SummaryPath]
	if !ok {
		return []Warning{}
	}
	out := []Warning{}
	policy, inWarnings := "", false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			policy, inWarnings = strings.TrimSpace(line[3:]), false
		case strings.HasPrefix(line, "### "):
			inWarnings = strings.TrimSpace(line[4:]) == "Warnings"
		case inWarnings:
			m := summaryWarningRE.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			w := Warning{Policy: policy, Code: m[1], Summary: strings.ReplaceAll(m[3], `\|`, "|")}
			w.File, w.Line, w.Column = splitPosition(m[2])
			out = append(out, w)
		}
	}
	return out
}

// splitPosition splits "file:line:col".
func splitPosition(s string) (string, int, int) {
	parts := strings.Split(s, ":")
	if len(parts) < 3 {
		return s, 0, 0
	}
	line, err1 := strconv.Atoi(parts[len(parts)-2])
	col, err2 := strconv.Atoi(parts[len(parts)-1])
	if err1 != nil || err2 != nil {
		return s, 0, 0
	}
	return strings.Join(parts[:len(parts)-2], ":"), line, col
}

// newWarnings returns the warnings of cur that old does not have, matched by
// policy, code and summary: positions move when a file is edited, the
// message of an unchanged problem does not.
func newWarnings(old, cur []Warning) []Warning {
	type key struct{ policy, code, summary string }
	have := map[key]int{}
	for _, w := range old {
		have[key{w.Policy, w.Code, w.Summary}]++
	}
	out := []Warning{}
	for _, w := range cur {
		k := key{w.Policy, w.Code, w.Summary}
		if have[k] > 0 {
			have[k]--
			continue
		}
		out = append(out, w)
	}
	return out
}
