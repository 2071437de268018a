package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ssm-backup/ssm-backup/compiler"
)

type validateOptions struct {
	paths  []string
	strict bool
	output string
}

func newValidateCmd(io *streams) *cobra.Command {
	opts := &validateOptions{}
	cmd := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Check policies and print diagnostics, without generating anything",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.paths = args
			return runValidate(io, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.strict, "strict", false, "treat warnings as errors")
	cmd.Flags().StringVar(&opts.output, "output", outputText, "also write the result to stdout as json (diagnostics with ranges and codes): text or json")
	return cmd
}

func runValidate(io *streams, opts *validateOptions) error {
	if err := checkOutput(opts.output); err != nil {
		return err
	}
	files, err := readPolicyFiles(opts.paths)
	if err != nil {
		return err
	}
	ps, ds := compiler.Check(files, opts.strict)
	ds.Print(io.err)
	if opts.output == outputJSON {
		res := validateResult{Valid: !ds.HasErrors(), Policies: []string{}, Errors: len(ds.Errors()), Warnings: len(ds.Warnings()), Diagnostics: jsonDiagnostics(ds)}
		for _, p := range ps {
			res.Policies = append(res.Policies, p.Metadata.Name)
		}
		if err := writeJSON(io.out, res); err != nil {
			return err
		}
	}
	if ds.HasErrors() {
		n := len(ds.Errors())
		return &exitError{code: exitInvalid, err: fmt.Errorf("%d %s", n, plural(n, "error", "errors"))}
	}
	fmt.Fprintf(io.err, "%d %s valid", len(ps), plural(len(ps), "policy", "policies"))
	if w := len(ds.Warnings()); w > 0 {
		fmt.Fprintf(io.err, ", %d %s", w, plural(w, "warning", "warnings"))
	}
	fmt.Fprintln(io.err)
	return nil
}
