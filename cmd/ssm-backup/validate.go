package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ssm-backup/ssm-backup/compiler"
)

type validateOptions struct {
	paths  []string
	strict bool
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
	return cmd
}

func runValidate(io *streams, opts *validateOptions) error {
	files, err := readPolicyFiles(opts.paths)
	if err != nil {
		return err
	}
	ps, ds := compiler.Check(files, opts.strict)
	ds.Print(io.err)
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
