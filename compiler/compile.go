package compiler

import (
	"time"

	"github.com/ssm-backup/ssm-backup/diag"
	"github.com/ssm-backup/ssm-backup/policies"
)

// Options tune a compilation.
type Options struct {
	// Now is the instant from which the summary lists the next runs.
	Now time.Time
	// Strict turns warnings into errors.
	Strict bool
}

// Result is what a compilation produced.
type Result struct {
	Policies []*policies.Policy
	Plan     *Plan
	Files    Files
	// Diagnostics holds every error and warning, sorted.
	Diagnostics diag.Diagnostics
}

// Check loads and validates the files and reports what this compiler cannot
// compile, without generating anything.
func Check(files []policies.File, strict bool) ([]*policies.Policy, diag.Diagnostics) {
	ps, ds := policies.LoadFiles(files)
	ds = append(ds, policies.Validate(ps)...)
	if !ds.HasErrors() {
		ds = append(ds, CheckSupported(ps)...)
	}
	if strict {
		for i := range ds {
			if ds[i].Severity == diag.Warning {
				ds[i].Severity = diag.Error
				ds[i].Summary += " (an error under --strict)"
			}
		}
	}
	return ps, ds.Sorted()
}

// Compile runs every stage: load, validate, lower, emit. When any error is
// found, Files is nil: nothing is written half-way.
func Compile(files []policies.File, opts Options) Result {
	ps, ds := Check(files, opts.Strict)
	res := Result{Policies: ps, Diagnostics: ds}
	if ds.HasErrors() {
		return res
	}
	plan, lds := Lower(ps)
	res.Diagnostics = append(res.Diagnostics, lds...).Sorted()
	if res.Diagnostics.HasErrors() {
		return res
	}
	for _, pp := range plan.Policies {
		pp.Warnings = warningsFor(pp.Names.Policy, ps, ds)
	}
	res.Plan = plan
	out, err := Emit(plan, opts)
	if err != nil {
		res.Diagnostics = append(res.Diagnostics, diag.Diagnostic{Severity: diag.Error, Summary: "internal error while generating files: " + err.Error()})
		return res
	}
	res.Files = out
	return res
}

// warningsFor picks the warnings that fall inside one policy's document.
func warningsFor(name string, ps []*policies.Policy, ds diag.Diagnostics) diag.Diagnostics {
	var out diag.Diagnostics
	for _, p := range ps {
		if p.Metadata.Name != name || p.Source == nil {
			continue
		}
		for _, d := range ds.Warnings() {
			if d.Range.File == p.Source.File && inDocument(d.Range, p, ps) {
				out = append(out, d)
			}
		}
	}
	return out
}

// inDocument reports whether r lies in p's document: at or after its start
// and before the start of the next document of the same file.
func inDocument(r diag.Range, p *policies.Policy, ps []*policies.Policy) bool {
	start := p.Source.Range.Start.Line
	end := int(^uint(0) >> 1)
	for _, q := range ps {
		if q.Source != nil && q.Source.File == p.Source.File && q.Source.Doc > p.Source.Doc {
			if l := q.Source.Range.Start.Line; l < end {
				end = l
			}
		}
	}
	return r.Start.Line >= start && r.Start.Line < end
}
