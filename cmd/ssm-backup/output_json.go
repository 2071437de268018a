package main

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/diag"
)

// --output json of validate and compile: one JSON document on stdout for
// editors and CI annotations, while the human text stays on stderr. Fields
// are only ever added; lists are empty rather than null.

// Values of --output for validate and compile.
const (
	outputText = "text"
	outputJSON = "json"
)

func checkOutput(v string) error {
	if v != outputText && v != outputJSON {
		return usageError("--output must be text or json, not %q", v)
	}
	return nil
}

// jsonDiagnostic is a diagnostic with its severity spelt out.
type jsonDiagnostic struct {
	Severity string     `json:"severity"` // "error" or "warning"
	Code     string     `json:"code,omitempty"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Path     string     `json:"path,omitempty"`
	Range    diag.Range `json:"range"`
}

func jsonDiagnostics(ds diag.Diagnostics) []jsonDiagnostic {
	out := []jsonDiagnostic{}
	for _, d := range ds.Sorted() {
		out = append(out, jsonDiagnostic{
			Severity: d.Severity.String(),
			Code:     d.Code,
			Summary:  d.Summary,
			Detail:   d.Detail,
			Path:     d.Path,
			Range:    d.Range,
		})
	}
	return out
}

// validateResult is what validate --output json writes.
type validateResult struct {
	Valid bool `json:"valid"`
	// Policies are the names of the policies read, in file order.
	Policies    []string         `json:"policies"`
	Errors      int              `json:"errors"`
	Warnings    int              `json:"warnings"`
	Diagnostics []jsonDiagnostic `json:"diagnostics"`
}

// compileResult is what compile --output json writes.
type compileResult struct {
	OK        bool   `json:"ok"`
	OutputDir string `json:"outputDir"`
	Check     bool   `json:"check"`
	// Files are the paths, relative to OutputDir, of every file written, or
	// compared with --check; empty when the policies are invalid.
	Files []string `json:"files"`
	// Stale lists, with --check, the files that differ.
	Stale       []staleFile      `json:"stale"`
	Diagnostics []jsonDiagnostic `json:"diagnostics"`
}

// staleFile is a file of the output directory that is not what the
// policies compile to.
type staleFile struct {
	Path string `json:"path"`
	// Status is "missing" (should be there), "extra" (should not) or "changed".
	Status string `json:"status"`
}

func newCompileResult(dir string, check bool) *compileResult {
	return &compileResult{OutputDir: dir, Check: check, Files: []string{}, Stale: []staleFile{}, Diagnostics: []jsonDiagnostic{}}
}

// staleFiles lists how the tree in dir differs from want.
func staleFiles(have, want compiler.Files) []staleFile {
	out := []staleFile{}
	for _, p := range want.Paths() {
		h, ok := have[p]
		switch {
		case !ok:
			out = append(out, staleFile{p, "missing"})
		case !bytes.Equal(h, want[p]):
			out = append(out, staleFile{p, "changed"})
		}
	}
	for _, p := range have.Paths() {
		if _, ok := want[p]; !ok {
			out = append(out, staleFile{p, "extra"})
		}
	}
	return out
}

// writeJSON writes v indented, with a trailing newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
