// Package diag holds the diagnostics every stage of the compiler reports:
// an error or warning with the file, line and column it is about. It knows
// nothing of policies, SSM or YAML; it only orders, deduplicates and prints.
package diag

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Severity says whether a diagnostic fails the build.
type Severity int

const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Pos is a 1-based line and column in a file.
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Range is the span of source text a diagnostic is about.
type Range struct {
	File  string `json:"file"`
	Start Pos    `json:"start"`
	End   Pos    `json:"end"`
}

// Diagnostic is one problem found in the input.
type Diagnostic struct {
	Severity Severity `json:"-"`
	// Code identifies a warning so a policy can silence it (e.g. W001); empty for errors.
	Code    string `json:"code,omitempty"`
	Summary string `json:"summary"`
	Detail  string `json:"detail,omitempty"`
	Range   Range  `json:"range"`
	// Path is the dotted path of the field in the policy, e.g. spec.retention.count.
	Path string `json:"path,omitempty"`
}

// Diagnostics is a list of diagnostics from one or more stages.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Errors returns the error diagnostics only.
func (ds Diagnostics) Errors() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == Error {
			out = append(out, d)
		}
	}
	return out
}

// Warnings returns the warning diagnostics only.
func (ds Diagnostics) Warnings() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == Warning {
			out = append(out, d)
		}
	}
	return out
}

// Sorted returns the diagnostics ordered by file, line, column, severity and
// summary, with exact duplicates removed. The receiver is not modified.
func (ds Diagnostics) Sorted() Diagnostics {
	out := make(Diagnostics, len(ds))
	copy(out, ds)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Range.File != b.Range.File {
			return a.Range.File < b.Range.File
		}
		if a.Range.Start.Line != b.Range.Start.Line {
			return a.Range.Start.Line < b.Range.Start.Line
		}
		if a.Range.Start.Column != b.Range.Start.Column {
			return a.Range.Start.Column < b.Range.Start.Column
		}
		if a.Severity != b.Severity {
			return a.Severity < b.Severity
		}
		if a.Summary != b.Summary {
			return a.Summary < b.Summary
		}
		return a.Detail < b.Detail
	})
	dedup := out[:0]
	for i, d := range out {
		if i > 0 && d == out[i-1] {
			continue
		}
		dedup = append(dedup, d)
	}
	return dedup
}

// String formats the diagnostic as "file:line:col: severity: summary",
// followed by the detail on indented lines when there is one.
func (d Diagnostic) String() string {
	var b strings.Builder
	file := d.Range.File
	if file == "" {
		file = "<input>"
	}
	if d.Range.Start.Line > 0 {
		fmt.Fprintf(&b, "%s:%d:%d: ", file, d.Range.Start.Line, d.Range.Start.Column)
	} else {
		fmt.Fprintf(&b, "%s: ", file)
	}
	b.WriteString(d.Severity.String())
	if d.Code != "" {
		fmt.Fprintf(&b, "[%s]", d.Code)
	}
	b.WriteString(": ")
	b.WriteString(d.Summary)
	if d.Detail != "" {
		for _, line := range strings.Split(d.Detail, "\n") {
			b.WriteString("\n    ")
			b.WriteString(line)
		}
	}
	return b.String()
}

// Print writes every diagnostic, sorted, one per entry.
func (ds Diagnostics) Print(w io.Writer) {
	for _, d := range ds.Sorted() {
		fmt.Fprintln(w, d.String())
	}
}

// Errorf builds an error diagnostic at r.
func Errorf(r Range, path, format string, args ...any) Diagnostic {
	return Diagnostic{Severity: Error, Summary: fmt.Sprintf(format, args...), Range: r, Path: path}
}
