package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssm-backup/ssm-backup/compiler"
)

type compileOptions struct {
	paths  []string
	outDir string
	check  bool
	strict bool
	now    string
	output string
}

func newCompileCmd(io *streams) *cobra.Command {
	opts := &compileOptions{}
	cmd := &cobra.Command{
		Use:   "compile PATH... -o DIR",
		Short: "Compile policies into documents, IAM, maintenance windows and a CloudFormation template",
		Long: `Compile every policy found in PATH (files, or directories of *.yaml/*.yml)
and write the generated tree to DIR, replacing what DIR held. Nothing in DIR
changes when any policy is invalid.

With --check, nothing is written: the command exits 1 and prints a diff when
DIR differs from what the policies compile to.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.paths = args
			return runCompile(io, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.outDir, "output-dir", "o", "", "directory to write the generated files to (required)")
	f.BoolVar(&opts.check, "check", false, "compare DIR with the compiled output instead of writing; exit 1 when stale")
	f.BoolVar(&opts.strict, "strict", false, "treat warnings as errors")
	f.StringVar(&opts.now, "now", "", "RFC 3339 instant the summary lists next runs from (default: now; with --check: the instant recorded in DIR)")
	f.StringVar(&opts.output, "output", outputText, "also write the result to stdout as json (files written, stale files, diagnostics): text or json")
	return cmd
}

func runCompile(io *streams, opts *compileOptions) error {
	if err := checkOutput(opts.output); err != nil {
		return err
	}
	result := newCompileResult(opts.outDir, opts.check)
	err := compileTo(io, opts, result)
	if opts.output == outputJSON && result.OutputDir != "" {
		var ee *exitError
		if err == nil || (errors.As(err, &ee) && ee.code == exitInvalid) {
			result.OK = err == nil
			if werr := writeJSON(io.out, result); werr != nil {
				return werr
			}
		}
	}
	return err
}

func compileTo(io *streams, opts *compileOptions, result *compileResult) error {
	if opts.outDir == "" {
		return usageError("compile needs an output directory: -o DIR")
	}
	now, err := parseNow(opts.now)
	if err != nil {
		return err
	}
	if opts.check && opts.now == "" {
		if recorded, ok := recordedAnchor(opts.outDir); ok {
			now = recorded
		}
	}
	files, err := readPolicyFiles(opts.paths)
	if err != nil {
		return err
	}
	res := compiler.Compile(files, compiler.Options{Now: now, Strict: opts.strict})
	res.Diagnostics.Print(io.err)
	result.Diagnostics = jsonDiagnostics(res.Diagnostics)
	if res.Diagnostics.HasErrors() {
		n := len(res.Diagnostics.Errors())
		return &exitError{code: exitInvalid, err: fmt.Errorf("%d %s; nothing written", n, plural(n, "error", "errors"))}
	}
	result.Files = res.Files.Paths()
	if opts.check {
		if opts.output == outputJSON {
			have, err := readTree(opts.outDir)
			if err != nil {
				return &exitError{code: exitInvalid, err: fmt.Errorf("cannot read %s: %w", opts.outDir, err)}
			}
			result.Stale = staleFiles(have, res.Files)
		}
		diffs, err := compareTree(opts.outDir, res.Files)
		if err != nil {
			return &exitError{code: exitInvalid, err: err}
		}
		if len(diffs) > 0 {
			for _, d := range diffs {
				fmt.Fprintln(io.err, d)
			}
			return &exitError{code: exitInvalid, err: fmt.Errorf("%s is stale: %d %s differ; run ssm-backup compile without --check and commit the result", opts.outDir, len(diffs), plural(len(diffs), "file", "files"))}
		}
		fmt.Fprintf(io.err, "%s is up to date (%d files)\n", opts.outDir, len(res.Files))
		return nil
	}
	if err := writeTree(opts.outDir, res.Files); err != nil {
		result.Files = []string{}
		return &exitError{code: exitInvalid, err: err}
	}
	fmt.Fprintf(io.err, "wrote %d files for %d %s to %s\n", len(res.Files), len(res.Plan.Policies), plural(len(res.Plan.Policies), "policy", "policies"), opts.outDir)
	return nil
}

func parseNow(s string) (time.Time, error) {
	if s == "" {
		return time.Now().UTC().Truncate(time.Minute), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usageError("--now %q is not an RFC 3339 instant such as 2026-01-01T00:00:00Z", s)
	}
	return t, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
