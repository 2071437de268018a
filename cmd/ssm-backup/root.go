package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Exit statuses, the CLI's contract.
const (
	exitOK      = 0
	exitInvalid = 1 // invalid policy or stale output
	exitUsage   = 2
	exitDeploy  = 3
)

// exitError carries the exit status chosen by a command. Its message has
// already been printed when silent is set.
type exitError struct {
	code   int
	err    error
	silent bool
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// streams are the command's standard streams.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// Main runs the command line and returns the exit status.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	st := &streams{in: stdin, out: stdout, err: stderr}
	root := newRootCmd(st)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if !ee.silent && ee.err != nil {
			fmt.Fprintf(stderr, "ssm-backup: %s\n", ee.err)
		}
		return ee.code
	}
	// Everything cobra itself reports (unknown command or flag, wrong
	// number of arguments) is a usage error.
	fmt.Fprintf(stderr, "ssm-backup: %s\nRun 'ssm-backup --help' for usage.\n", err)
	return exitUsage
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newRootCmd(io *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "ssm-backup",
		Short: "Compile backup policies into AWS Systems Manager documents, windows, IAM and CloudFormation",
		Long: `ssm-backup turns declarative YAML backup policies into everything AWS Systems
Manager needs to take consistent EBS snapshots on a schedule: Command documents
that freeze file systems on the instance, Automation runbooks, maintenance
windows, least-privilege IAM and one CloudFormation template.

Exit status: 0 ok, 1 invalid policy or stale output, 2 usage, 3 deploy failed.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError("%s", err) })
	root.AddCommand(newCompileCmd(io), newValidateCmd(io), newSchemaCmd(io))
	root.AddCommand(newDeployCmd(io))
	root.AddCommand(newPlanCmd(io))
	return root
}
