package compiler

import (
	"sort"
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
	byPolicy := warningsByPolicy(ps, ds)
	for _, pp := range plan.Policies {
		pp.Warnings = byPolicy[pp.Names.Policy]
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

// warningsByPolicy attributes each warning to the policy whose document
// holds it: the last document of the same file that starts at or before the
// warning's line.
func warningsByPolicy(ps []*policies.Policy, ds diag.Diagnostics) map[string]diag.Diagnostics {
	type docStart struct {
		line int
		name string
	}
	byFile := map[string][]docStart{}
	for _, p := range ps {
		if p.Source == nil {
			continue
		}
		byFile[p.Source.File] = append(byFile[p.Source.File], docStart{p.Source.Range.Start.Line, p.Metadata.Name})
	}
	for _, starts := range byFile {
		sort.Slice(starts, func(i, j int) bool { return starts[i].line < starts[j].line })
	}
	out := map[string]diag.Diagnostics{}
	for _, d := range ds {
		if d.Severity != diag.Warning {
			continue
		}
		starts := byFile[d.Range.File]
		i := sort.Search(len(starts), func(i int) bool { return starts[i].line > d.Range.Start.Line }) - 1
		if i < 0 {
			continue
		}
		out[starts[i].name] = append(out[starts[i].name], d)
	}
	return out
}
