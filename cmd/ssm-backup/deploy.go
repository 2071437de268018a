package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	stdio "io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/deploy"
)

type deployOptions struct {
	paths       []string
	stack       string
	regions     []string
	profile     string
	yes         bool
	dryRun      bool
	bucket      string
	prefix      string
	printPolicy bool
}

// deployEnv is what a deploy takes from the world besides its flags; tests
// replace it.
type deployEnv struct {
	now func() time.Time
	// sleep waits between polls; nil waits for real.
	sleep func(ctx context.Context, d time.Duration) error
	// isTerminal tells whether stdin is a terminal a person answers on.
	isTerminal func(stdio.Reader) bool
	// awsOptions are added to the SDK's configuration.
	awsOptions []func(*config.LoadOptions) error
}

func defaultDeployEnv() deployEnv {
	return deployEnv{now: time.Now, isTerminal: isTerminal}
}

func newDeployCmd(io *streams) *cobra.Command {
	return newDeployCmdWith(io, defaultDeployEnv())
}

func newDeployCmdWith(io *streams, env deployEnv) *cobra.Command {
	opts := &deployOptions{}
	cmd := &cobra.Command{
		Use:   "deploy PATH... --stack NAME",
		Short: "Deploy the compiled policies to a CloudFormation stack through a change set",
		Long: `Compile every policy found in PATH in memory and deploy the CloudFormation
template to the stack through a change set: the change set is printed on
stdout, executed after confirmation (or at once with --yes), and the stack
events are followed on stderr until the stack settles. On failure the failed
resources are listed with CloudFormation's reasons.

Credentials and region come from the standard AWS configuration chain
(environment, --profile or AWS_PROFILE, SSO, instance roles); --region may be
repeated to deploy to several regions one after another.

Templates larger than 51,200 bytes are uploaded to --s3-bucket first (as
PREFIX<sha256>.json; a {region} in the bucket name is replaced by each
region).

Without --yes or --dry-run the change set must be confirmed on a terminal:
when stdin is not one, the command refuses with exit status 2 before sending
anything.

--print-deployer-policy prints the IAM policy the deploying principal needs,
as JSON on stdout, and sends nothing.

Exit status: 0 deployed (or no changes, dry run, declined), 1 invalid policy,
2 usage, 3 deploy failed in any region.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.paths = args
			return runDeploy(cmd.Context(), io, env, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.stack, "stack", "", "CloudFormation stack name (required)")
	f.StringSliceVar(&opts.regions, "region", nil, "AWS region to deploy to; repeat for several (default: the configuration chain's region)")
	f.StringVar(&opts.profile, "profile", "", "shared configuration profile (default: AWS_PROFILE, or the default profile)")
	f.BoolVar(&opts.yes, "yes", false, "execute the change set without asking")
	f.BoolVar(&opts.dryRun, "dry-run", false, "show the change set, then delete it without executing")
	f.StringVar(&opts.bucket, "s3-bucket", "", "bucket to upload templates larger than 51,200 bytes to; {region} is replaced by the region")
	f.StringVar(&opts.prefix, "s3-prefix", "ssm-backup/", "key prefix of uploaded templates")
	f.BoolVar(&opts.printPolicy, "print-deployer-policy", false, "print the IAM policy the deploying principal needs (JSON, stdout) and exit")
	return cmd
}

var stackNamePattern = regexp.MustCompile(`^[A-Za-z][-A-Za-z0-9]{0,127}$`)

func runDeploy(ctx context.Context, io *streams, env deployEnv, opts *deployOptions) error {
	if opts.stack == "" {
		return usageError("deploy needs a stack name: --stack NAME")
	}
	if !stackNamePattern.MatchString(opts.stack) {
		return usageError("--stack %q is not a CloudFormation stack name: a letter, then letters, digits and hyphens, at most 128 characters", opts.stack)
	}
	if opts.yes && opts.dryRun {
		return usageError("--yes and --dry-run contradict each other: --dry-run never executes the change set")
	}
	if opts.bucket == "" && opts.prefix != "ssm-backup/" {
		return usageError("--s3-prefix needs --s3-bucket")
	}
	interactive := !opts.printPolicy && !opts.yes && !opts.dryRun
	if interactive && !env.isTerminal(io.in) {
		return usageError("stdin is not a terminal, so the change set cannot be confirmed: pass --yes to execute it without asking, or --dry-run to only show it")
	}
	regions := uniqueRegions(opts.regions)

	files, err := readPolicyFiles(opts.paths)
	if err != nil {
		return err
	}
	res := compiler.Compile(files, compiler.Options{Now: env.now().UTC(), Strict: false})
	res.Diagnostics.Print(io.err)
	if res.Diagnostics.HasErrors() {
		n := len(res.Diagnostics.Errors())
		return &exitError{code: exitInvalid, err: fmt.Errorf("%d %s; nothing deployed", n, plural(n, "error", "errors"))}
	}
	template, err := deploy.CompactTemplate(res.Files[compiler.TemplatePath])
	if err != nil {
		return &exitError{code: exitDeploy, err: err}
	}
	if err := deploy.CheckTemplateCounts(template); err != nil {
		return &exitError{code: exitDeploy, err: err}
	}
	if err := deploy.CheckTemplateSize(len(template), opts.bucket != ""); err != nil {
		code := exitUsage
		if len(template) > deploy.URLLimit {
			code = exitDeploy
		}
		return &exitError{code: code, err: err}
	}

	if opts.printPolicy {
		var regionList []string
		for _, r := range regions {
			if r != "" {
				regionList = append(regionList, r)
			}
		}
		doc, err := deploy.DeployerPolicy(template, deploy.PolicyScope{Stack: opts.stack, Regions: regionList, Bucket: opts.bucket, Prefix: opts.prefix})
		if err != nil {
			return &exitError{code: exitDeploy, err: err}
		}
		b, err := deploy.MarshalPolicy(doc)
		if err != nil {
			return err
		}
		_, err = io.out.Write(b)
		return err
	}

	fmt.Fprintf(io.err, "compiled %d %s into a %d-byte template\n", len(res.Plan.Policies), plural(len(res.Plan.Policies), "policy", "policies"), len(template))
	var bucket *deploy.TemplateBucket
	if opts.bucket != "" {
		bucket = &deploy.TemplateBucket{Bucket: opts.bucket, Prefix: opts.prefix}
	}
	var confirm func(string) (bool, error)
	if interactive {
		confirm = confirmer(ctx, io)
	}

	var results []*deploy.Result
	for _, region := range regions {
		if ctx.Err() != nil {
			break
		}
		clients, err := deploy.NewClients(ctx, deploy.ClientOptions{Region: region, Profile: opts.profile, LoadOptions: env.awsOptions})
		if err != nil {
			if deploy.IsKind(err, deploy.KindConfig) {
				return usageError("%s", err)
			}
			label := region
			if label == "" {
				label = "(configured region)"
			}
			results = append(results, &deploy.Result{Region: label, Stack: opts.stack, Outcome: deploy.Failed, Err: err})
			continue
		}
		d := &deploy.Deployer{Clients: clients, Out: io.out, Log: io.err, Now: env.now, Sleep: env.sleep}
		results = append(results, d.Deploy(ctx, deploy.Request{
			Stack:    opts.stack,
			Template: template,
			Bucket:   bucket,
			DryRun:   opts.dryRun,
			Confirm:  confirm,
		}))
	}

	fmt.Fprintln(io.err, "Results:")
	var failed []string
	var usage *exitError
	for _, r := range results {
		fmt.Fprintf(io.err, "  %s: %s\n", r.Region, r.Summary())
		if r.Outcome == deploy.Failed {
			failed = append(failed, r.Region)
			var ee *exitError
			if errors.As(r.Err, &ee) && ee.code == exitUsage {
				usage = ee
			}
		}
	}
	if usage != nil {
		return usage
	}
	if ctx.Err() != nil {
		return &exitError{code: exitDeploy, err: fmt.Errorf("interrupted: %w", context.Cause(ctx))}
	}
	if len(failed) > 0 {
		return &exitError{code: exitDeploy, err: fmt.Errorf("deploy failed in %s", strings.Join(failed, ", "))}
	}
	return nil
}

// uniqueRegions keeps the order of --region flags and drops repeats; no flag
// means the configuration chain's region, written "".
func uniqueRegions(regions []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range regions {
		r = strings.TrimSpace(r)
		if r == "" || seen[r] {
			continue
		}
		seen[r] = true
		out = append(out, r)
	}
	if len(out) == 0 {
		return []string{""}
	}
	return out
}

// confirmer asks on stderr and reads the answer from stdin. Only "y" or
// "yes" executes. Reading is abandoned when ctx ends (Ctrl-C at the prompt).
func confirmer(ctx context.Context, io *streams) func(string) (bool, error) {
	in := bufio.NewReader(io.in)
	return func(question string) (bool, error) {
		fmt.Fprintf(io.err, "%s [y/N] ", question)
		type answer struct {
			line string
			err  error
		}
		ch := make(chan answer, 1)
		go func() {
			line, err := in.ReadString('\n')
			ch <- answer{line, err}
		}()
		select {
		case <-ctx.Done():
			fmt.Fprintln(io.err)
			return false, ctx.Err()
		case a := <-ch:
			if a.err != nil && strings.TrimSpace(a.line) == "" {
				fmt.Fprintln(io.err)
				return false, usageError("no answer on stdin (%v): pass --yes to execute without asking, or --dry-run to only show the change set", a.err)
			}
			switch strings.ToLower(strings.TrimSpace(a.line)) {
			case "y", "yes":
				return true, nil
			}
			return false, nil
		}
	}
}

// isTerminal reports whether r is a terminal: a character device other than
// /dev/null (which CI systems often give as stdin).
func isTerminal(r stdio.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(st, null)
}
