package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	stdio "io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/google/go-cmp/cmp"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/deploy"
	"github.com/ssm-backup/ssm-backup/deploy/awsdouble"
	"github.com/ssm-backup/ssm-backup/policies"
)

// The deploy scenarios run the command with the real aws-sdk-go-v2 clients
// against awsdouble, a CloudFormation and S3 double on 127.0.0.1: the SDK
// finds it through AWS_ENDPOINT_URL_CLOUDFORMATION and AWS_ENDPOINT_URL_S3,
// signs with static fake credentials, and any call the scenario did not
// script fails the test.

const deployTestPolicy = `apiVersion: ssm-backup/v1
kind: BackupPolicy
metadata:
  name: %s
spec:
  platform: linux
  targets:
    tags: {Backup: %s}
  volumes: data
  consistency: filesystem
  schedule:
    expression: cron(0 0 * * ? *)
`

// deployPolicies writes n policies into a new directory.
func deployPolicies(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "policies")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("deploy-test-%d", i)
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), fmt.Appendf(nil, deployTestPolicy, name, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// deployPoliciesOver writes enough policies for their template to be larger
// than limit bytes, however large one policy's resources are.
func deployPoliciesOver(t *testing.T, limit int) (dir string, template []byte) {
	t.Helper()
	one := len(sentTemplate(t, deployPolicies(t, 1)))
	for n := limit/one + 2; ; n *= 2 {
		dir = deployPolicies(t, n)
		if template = sentTemplate(t, dir); len(template) > limit {
			return dir, template
		}
	}
}

// sentTemplate is the template as the deploy sends it.
func sentTemplate(t *testing.T, dir string) []byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []policies.File
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, policies.File{Name: filepath.ToSlash(filepath.Join(dir, e.Name())), Data: b})
	}
	res := compiler.Compile(files, compiler.Options{Now: deployNow})
	if res.Diagnostics.HasErrors() {
		t.Fatalf("test policies do not compile: %v", res.Diagnostics)
	}
	b, err := deploy.CompactTemplate(res.Files[compiler.TemplatePath])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var deployNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // Unix 1767225600

const changeSetName = "ssm-backup-1767225600"

// deployCLI runs the deploy command with a fixed clock, a sleeper that only
// records, and stdin treated as a terminal when terminal is set. It maps the
// outcome to an exit status as Main does.
type deployCLI struct {
	terminal   bool
	stdin      string
	awsOptions []func(*config.LoadOptions) error
	sleeps     []time.Duration
}

func (c *deployCLI) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	st := &streams{in: strings.NewReader(c.stdin), out: &out, err: &errb}
	env := deployEnv{
		now: func() time.Time { return deployNow },
		sleep: func(ctx context.Context, d time.Duration) error {
			c.sleeps = append(c.sleeps, d)
			return ctx.Err()
		},
		isTerminal: func(stdio.Reader) bool { return c.terminal },
		awsOptions: c.awsOptions,
	}
	cmd := newDeployCmdWith(st, env)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	err := cmd.ExecuteContext(context.Background())
	var ee *exitError
	switch {
	case err == nil:
		code = exitOK
	case errors.As(err, &ee):
		if !ee.silent && ee.err != nil {
			fmt.Fprintf(&errb, "ssm-backup: %s\n", ee.err)
		}
		code = ee.code
	default:
		fmt.Fprintf(&errb, "ssm-backup: %s\n", err)
		code = exitUsage
	}
	return code, out.String(), errb.String()
}

func wantNames(t *testing.T, srv *awsdouble.Server, want ...string) []awsdouble.Call {
	t.Helper()
	if diff := cmp.Diff(want, srv.Names()); diff != "" {
		t.Fatalf("AWS calls (-want +got):\n%s", diff)
	}
	return srv.Calls()
}

func wantParams(t *testing.T, c awsdouble.Call, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		if got := c.Params.Get(kv[i]); got != kv[i+1] {
			t.Errorf("%s %s = %q, want %q", c.Name(), kv[i], got, kv[i+1])
		}
	}
}

func wantContains(t *testing.T, what, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%s lacks %q:\n%s", what, p, s)
		}
	}
}

func event(id, logical, typ, status, reason string, after time.Duration) awsdouble.Event {
	return awsdouble.Event{ID: id, LogicalID: logical, Type: typ, Status: status, Reason: reason, Time: deployNow.Add(after), Token: awsdouble.ExecutionToken}
}

func TestDeployFirstDeployThroughS3(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	dir, tmpl := deployPoliciesOver(t, deploy.InlineLimit)
	key := (&deploy.TemplateBucket{Prefix: "ssm-backup/"}).Key(tmpl)
	srv.On("DescribeStacks", awsdouble.StackNotFound(), awsdouble.Stack("CREATE_IN_PROGRESS"), awsdouble.Stack("CREATE_COMPLETE"))
	srv.On("s3:PutObject", awsdouble.PutObjectOK())
	srv.On("CreateChangeSet", awsdouble.ChangeSetCreated())
	srv.On("DescribeChangeSet",
		awsdouble.ChangeSet("CREATE_PENDING", ""),
		awsdouble.ChangeSet("CREATE_COMPLETE", "",
			awsdouble.Change{Action: "Add", LogicalID: "DeployTest0Window", Type: "AWS::SSM::MaintenanceWindow"},
			awsdouble.Change{Action: "Add", LogicalID: "DeployTest0WindowRole", Type: "AWS::IAM::Role"}))
	srv.On("ExecuteChangeSet", awsdouble.OK("ExecuteChangeSet"))
	srv.On("DescribeStackEvents",
		awsdouble.Events("",
			event("e2", "DeployTest0WindowRole", "AWS::IAM::Role", "CREATE_IN_PROGRESS", "", 2*time.Second),
			event("e1", "backups", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated", time.Second),
			awsdouble.Event{ID: "e0", LogicalID: "backups", Type: "AWS::CloudFormation::Stack", Status: "REVIEW_IN_PROGRESS", Reason: "User Initiated", Time: deployNow.Add(-time.Minute)}),
		awsdouble.Events("",
			event("e4", "backups", "AWS::CloudFormation::Stack", "CREATE_COMPLETE", "", 40*time.Second),
			event("e3", "DeployTest0WindowRole", "AWS::IAM::Role", "CREATE_COMPLETE", "", 30*time.Second),
			event("e2", "DeployTest0WindowRole", "AWS::IAM::Role", "CREATE_IN_PROGRESS", "", 2*time.Second)))

	cli := &deployCLI{}
	code, stdout, stderr := cli.run(t, dir, "--stack", "backups", "--region", "us-east-1", "--s3-bucket", "cfn-templates", "--yes")
	if code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	calls := wantNames(t, srv, "DescribeStacks", "s3:PutObject", "CreateChangeSet", "DescribeChangeSet", "DescribeChangeSet",
		"ExecuteChangeSet", "DescribeStacks", "DescribeStackEvents", "DescribeStacks", "DescribeStackEvents")
	wantParams(t, calls[0], "StackName", "backups")
	put := calls[1]
	if put.Bucket != "cfn-templates" || put.Key != key || !bytes.Equal(put.Body, tmpl) {
		t.Errorf("PutObject s3://%s/%s with %d bytes; want s3://cfn-templates/%s with the %d-byte template", put.Bucket, put.Key, len(put.Body), key, len(tmpl))
	}
	wantParams(t, calls[2],
		"StackName", "backups", "ChangeSetName", changeSetName, "ChangeSetType", "CREATE",
		"Capabilities.member.1", "CAPABILITY_NAMED_IAM", "ClientToken", changeSetName,
		"TemplateURL", srv.URL+"/cfn-templates/"+key, "TemplateBody", "")
	csARN := awsdouble.ChangeSetARN("us-east-1", changeSetName)
	wantParams(t, calls[3], "ChangeSetName", csARN)
	wantParams(t, calls[5], "ChangeSetName", csARN, "ClientRequestToken", changeSetName)
	wantParams(t, calls[6], "StackName", awsdouble.StackARN("us-east-1", "backups"))
	for _, c := range calls {
		if c.Region != "us-east-1" {
			t.Errorf("%s signed for %s", c.Name(), c.Region)
		}
	}
	if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second}, cli.sleeps); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
	wantOut := `Change set ssm-backup-1767225600 (CREATE) for stack backups in us-east-1: 2 changes (2 to add)
  ACTION  RESOURCE               TYPE                         REPLACEMENT  CHANGED
  Add     DeployTest0Window      AWS::SSM::MaintenanceWindow  -            -
  Add     DeployTest0WindowRole  AWS::IAM::Role               -            -
`
	if diff := cmp.Diff(wantOut, stdout); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	wantContains(t, "stderr", stderr,
		"us-east-1: stack backups does not exist yet; creating change set ssm-backup-1767225600 to create it\n",
		"us-east-1: uploaded the template ("+fmt.Sprint(len(tmpl))+" bytes) to s3://cfn-templates/"+key+"\n",
		"us-east-1: executing change set ssm-backup-1767225600 on stack backups\n",
		"us-east-1: 00:00:01  CREATE_IN_PROGRESS   backups (AWS::CloudFormation::Stack): User Initiated\n"+
			"us-east-1: 00:00:02  CREATE_IN_PROGRESS   DeployTest0WindowRole (AWS::IAM::Role)\n"+
			"us-east-1: 00:00:30  CREATE_COMPLETE      DeployTest0WindowRole (AWS::IAM::Role)\n"+
			"us-east-1: 00:00:40  CREATE_COMPLETE      backups (AWS::CloudFormation::Stack)\n",
		"Results:\n  us-east-1: deployed stack backups (CREATE_COMPLETE)\n")
	if strings.Contains(stderr, "REVIEW_IN_PROGRESS") {
		t.Errorf("an event from before the execution was printed:\n%s", stderr)
	}
}

func TestDeployUpdateConfirmedOnTerminal(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	dir, _ := deployPoliciesOver(t, deploy.InlineLimit)
	srv.On("DescribeStacks", awsdouble.Stack("UPDATE_COMPLETE"), awsdouble.Stack("UPDATE_COMPLETE"))
	srv.On("s3:PutObject", awsdouble.PutObjectOK())
	srv.On("CreateChangeSet", awsdouble.ChangeSetCreated())
	srv.On("DescribeChangeSet", awsdouble.ChangeSet("CREATE_COMPLETE", "",
		awsdouble.Change{Action: "Modify", LogicalID: "DeployTest0InstanceRole", Type: "AWS::IAM::Role", Replacement: "True",
			Details: []awsdouble.Detail{{Attribute: "Properties", Name: "RoleName", RequiresRecreation: "Always"}, {Attribute: "Tags"}}},
		awsdouble.Change{Action: "Modify", LogicalID: "DeployTest0Window", Type: "AWS::SSM::MaintenanceWindow", Replacement: "False",
			Details: []awsdouble.Detail{{Attribute: "Properties", Name: "Schedule", RequiresRecreation: "Never"}}},
		awsdouble.Change{Action: "Remove", LogicalID: "OldPolicyWindow", Type: "AWS::SSM::MaintenanceWindow"}))
	srv.On("ExecuteChangeSet", awsdouble.OK("ExecuteChangeSet"))
	srv.On("DescribeStackEvents", awsdouble.Events("", event("e1", "backups", "AWS::CloudFormation::Stack", "UPDATE_COMPLETE", "", time.Minute)))

	cli := &deployCLI{terminal: true, stdin: "y\n"}
	code, stdout, stderr := cli.run(t, dir, "--stack", "backups", "--region", "eu-west-1", "--s3-bucket", "cfn-{region}", "--s3-prefix", "deploys/")
	if code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	calls := wantNames(t, srv, "DescribeStacks", "s3:PutObject", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DescribeStacks", "DescribeStackEvents")
	if calls[1].Bucket != "cfn-eu-west-1" || !strings.HasPrefix(calls[1].Key, "deploys/") {
		t.Errorf("uploaded to s3://%s/%s", calls[1].Bucket, calls[1].Key)
	}
	wantParams(t, calls[2], "ChangeSetType", "UPDATE", "Capabilities.member.1", "CAPABILITY_NAMED_IAM", "TemplateURL", srv.URL+"/cfn-eu-west-1/"+calls[1].Key)
	wantContains(t, "stdout", stdout,
		"Change set ssm-backup-1767225600 (UPDATE) for stack backups in eu-west-1: 3 changes (2 to modify, 1 to remove)\n",
		"  Modify  DeployTest0InstanceRole  AWS::IAM::Role               True         RoleName (replaces), Tags\n",
		"  Modify  DeployTest0Window        AWS::SSM::MaintenanceWindow  -            Schedule\n",
		"  Remove  OldPolicyWindow          AWS::SSM::MaintenanceWindow  -            -\n")
	wantContains(t, "stderr", stderr,
		"eu-west-1: stack backups is UPDATE_COMPLETE; creating change set ssm-backup-1767225600 to update it\n",
		"Execute change set ssm-backup-1767225600 on stack backups in eu-west-1? [y/N] ",
		"  eu-west-1: deployed stack backups (UPDATE_COMPLETE)\n")
}

func TestDeployDeclinedOnTerminal(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	dir, _ := deployPoliciesOver(t, deploy.InlineLimit)
	for _, answer := range []string{"N\n", "n\n", "\n", "nope\n"} {
		srv.On("DescribeStacks", awsdouble.Stack("UPDATE_COMPLETE"))
		srv.On("s3:PutObject", awsdouble.PutObjectOK())
		srv.On("CreateChangeSet", awsdouble.ChangeSetCreated())
		srv.On("DescribeChangeSet", awsdouble.ChangeSet("CREATE_COMPLETE", "", awsdouble.Change{Action: "Add", LogicalID: "X", Type: "AWS::SSM::Document"}))
		srv.On("DeleteChangeSet", awsdouble.OK("DeleteChangeSet"))
		before := len(srv.Calls())
		cli := &deployCLI{terminal: true, stdin: answer}
		code, _, stderr := cli.run(t, dir, "--stack", "backups", "--region", "us-east-1", "--s3-bucket", "b")
		if code != exitOK {
			t.Fatalf("answer %q: exit %d\n%s", answer, code, stderr)
		}
		if diff := cmp.Diff([]string{"DescribeStacks", "s3:PutObject", "CreateChangeSet", "DescribeChangeSet", "DeleteChangeSet"}, srv.Names()[before:]); diff != "" {
			t.Errorf("answer %q: calls (-want +got):\n%s\n%s", answer, diff, stderr)
		}
		wantContains(t, "stderr", stderr, "[y/N] ", "us-east-1: not executed: change set ssm-backup-1767225600 declined and deleted")
	}
}

func TestDeployNoAnswerOnStdin(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	dir, _ := deployPoliciesOver(t, deploy.InlineLimit)
	srv.On("DescribeStacks", awsdouble.Stack("UPDATE_COMPLETE"))
	srv.On("s3:PutObject", awsdouble.PutObjectOK())
	srv.On("CreateChangeSet", awsdouble.ChangeSetCreated())
	srv.On("DescribeChangeSet", awsdouble.ChangeSet("CREATE_COMPLETE", "", awsdouble.Change{Action: "Add", LogicalID: "X", Type: "AWS::SSM::Document"}))
	srv.On("DeleteChangeSet", awsdouble.OK("DeleteChangeSet"))
	cli := &deployCLI{terminal: true, stdin: ""}
	code, _, stderr := cli.run(t, dir, "--stack", "backups", "--region", "us-east-1", "--s3-bucket", "b")
	if code != exitUsage {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	wantNames(t, srv, "DescribeStacks", "s3:PutObject", "CreateChangeSet", "DescribeChangeSet", "DeleteChangeSet")
	wantContains(t, "stderr", stderr, "no answer on stdin", "--yes")
}

func TestDeployNoChanges(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	dir, _ := deployPoliciesOver(t, deploy.InlineLimit)
	srv.On("DescribeStacks", awsdouble.Stack("UPDATE_COMPLETE"))
	srv.On("s3:PutObject", awsdouble.PutObjectOK())
	srv.On("CreateChangeSet", awsdouble.ChangeSetCreated())
	srv.On("DescribeChangeSet", awsdouble.ChangeSet("FAILED", "The submitted information didn't contain changes. Submit different information to create a change set."))
	srv.On("DeleteChangeSet", awsdouble.OK("DeleteChangeSet"))
	code, stdout, stderr := (&deployCLI{}).run(t, dir, "--stack", "backups", "--region", "us-east-1", "--s3-bucket", "b", "--yes")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	calls := wantNames(t, srv, "DescribeStacks", "s3:PutObject", "CreateChangeSet", "DescribeChangeSet", "DeleteChangeSet")
	wantParams(t, calls[4], "ChangeSetName", awsdouble.ChangeSetARN("us-east-1", changeSetName))
	if stdout != "" {
		t.Errorf("stdout: %q", stdout)
	}
	wantContains(t, "stderr", stderr, "no changes: stack backups already matches the template", "  us-east-1: stack backups is up to date: no changes\n")
}

func TestDeployFailureWithRollback(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	dir, _ := deployPoliciesOver(t, deploy.InlineLimit)
	srv.On("DescribeStacks", awsdouble.StackNotFound(), awsdouble.Stack("ROLLBACK_COMPLETE"))
	srv.On("s3:PutObject", awsdouble.PutObjectOK())
	srv.On("CreateChangeSet", awsdouble.ChangeSetCreated())
	srv.On("DescribeChangeSet", awsdouble.ChangeSet("CREATE_COMPLETE", "", awsdouble.Change{Action: "Add", LogicalID: "DeployTest0WindowRole", Type: "AWS::IAM::Role"}))
	srv.On("ExecuteChangeSet", awsdouble.OK("ExecuteChangeSet"))
	srv.On("DescribeStackEvents", awsdouble.Events("",
		event("e7", "backups", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE", "", 9*time.Second),
		event("e6", "DeployTest0WindowRole", "AWS::IAM::Role", "DELETE_COMPLETE", "", 8*time.Second),
		event("e5", "backups", "AWS::CloudFormation::Stack", "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [DeployTest0WindowRole, DeployTest0Runbook]. Rollback requested by user.", 7*time.Second),
		event("e4", "DeployTest0Runbook", "AWS::SSM::Document", "CREATE_FAILED", "Resource creation cancelled", 6*time.Second),
		event("e3", "DeployTest0WindowRole", "AWS::IAM::Role", "CREATE_FAILED", `Resource handler returned message: "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::123456789012:role/ssm-backup/ssmb-deploy-test-0-window"`, 5*time.Second),
		event("e2", "DeployTest0WindowRole", "AWS::IAM::Role", "CREATE_IN_PROGRESS", "", 2*time.Second),
		event("e1", "backups", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated", time.Second)))
	code, _, stderr := (&deployCLI{}).run(t, dir, "--stack", "backups", "--region", "us-east-1", "--s3-bucket", "b", "--yes")
	if code != exitDeploy {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	wantNames(t, srv, "DescribeStacks", "s3:PutObject", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DescribeStacks", "DescribeStackEvents")
	wantContains(t, "stderr", stderr,
		"us-east-1: stack backups ended in ROLLBACK_COMPLETE; failed resources:\n"+
			`  DeployTest0WindowRole (AWS::IAM::Role) CREATE_FAILED: Resource handler returned message: "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::123456789012:role/ssm-backup/ssmb-deploy-test-0-window"`+"\n"+
			"  DeployTest0Runbook (AWS::SSM::Document) CREATE_FAILED: Resource creation cancelled\n",
		"  us-east-1: FAILED: stack backups ended in ROLLBACK_COMPLETE: creating it failed and CloudFormation rolled back; first failure: DeployTest0WindowRole (AWS::IAM::Role)",
		"delete it (aws cloudformation delete-stack --stack-name backups --region us-east-1), then deploy again",
		"ssm-backup: deploy failed in us-east-1\n")
}

// zeroBackoff keeps the SDK's standard retryer, and its decision of what to
// retry, without making the test wait.
type zeroBackoff struct{}

func (zeroBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

func TestDeployThrottlingIsRetried(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	dir, _ := deployPoliciesOver(t, deploy.InlineLimit)
	srv.On("DescribeStacks", awsdouble.Error(http.StatusBadRequest, "Throttling", "Rate exceeded"), awsdouble.StackNotFound())
	srv.On("s3:PutObject", awsdouble.PutObjectOK())
	srv.On("CreateChangeSet", awsdouble.Error(http.StatusBadRequest, "Throttling", "Rate exceeded"), awsdouble.ChangeSetCreated())
	srv.On("DescribeChangeSet", awsdouble.ChangeSet("CREATE_COMPLETE", "", awsdouble.Change{Action: "Add", LogicalID: "X", Type: "AWS::SSM::Document"}))
	srv.On("DeleteChangeSet", awsdouble.OK("DeleteChangeSet"))
	cli := &deployCLI{awsOptions: []func(*config.LoadOptions) error{config.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = zeroBackoff{} })
	})}}
	code, _, stderr := cli.run(t, dir, "--stack", "backups", "--region", "us-east-1", "--s3-bucket", "b", "--dry-run")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	calls := wantNames(t, srv, "DescribeStacks", "DescribeStacks", "s3:PutObject", "CreateChangeSet", "CreateChangeSet", "DescribeChangeSet", "DeleteChangeSet")
	if calls[4].Params.Get("ClientToken") != changeSetName || calls[3].Header.Get("Amz-Sdk-Invocation-Id") != calls[4].Header.Get("Amz-Sdk-Invocation-Id") {
		t.Error("the second CreateChangeSet is not a retry of the first with the same client token")
	}
	// Throttling that does not stop is explained.
	srv.On("DescribeStacks", awsdouble.Error(http.StatusBadRequest, "Throttling", "Rate exceeded"), awsdouble.Error(http.StatusBadRequest, "Throttling", "Rate exceeded"), awsdouble.Error(http.StatusBadRequest, "Throttling", "Rate exceeded"))
	code, _, stderr = cli.run(t, dir, "--stack", "backups", "--region", "us-east-1", "--s3-bucket", "b", "--dry-run")
	if code != exitDeploy {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	wantContains(t, "stderr", stderr, "AWS kept throttling the requests (cloudformation:DescribeStacks) after retrying with backoff: Rate exceeded")
}

func TestDeployAccessDenied(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	dir, _ := deployPoliciesOver(t, deploy.InlineLimit)
	srv.On("DescribeStacks", awsdouble.Stack("UPDATE_COMPLETE"))
	srv.On("s3:PutObject", awsdouble.PutObjectOK())
	srv.On("CreateChangeSet", awsdouble.Error(http.StatusForbidden, "AccessDenied",
		"User: arn:aws:iam::123456789012:user/ci is not authorized to perform: cloudformation:CreateChangeSet on resource: arn:aws:cloudformation:us-east-1:123456789012:stack/backups/* because no identity-based policy allows the cloudformation:CreateChangeSet action"))
	code, stdout, stderr := (&deployCLI{}).run(t, dir, "--stack", "backups", "--region", "us-east-1", "--s3-bucket", "b", "--yes")
	if code != exitDeploy {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	wantNames(t, srv, "DescribeStacks", "s3:PutObject", "CreateChangeSet")
	if stdout != "" {
		t.Errorf("stdout: %q", stdout)
	}
	wantContains(t, "stderr", stderr,
		"us-east-1: FAILED: access denied to cloudformation:CreateChangeSet: User: arn:aws:iam::123456789012:user/ci is not authorized to perform: cloudformation:CreateChangeSet on resource",
		"ssm-backup deploy --print-deployer-policy prints every permission a deploy needs")
}

func TestDeployExpiredToken(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	dir, _ := deployPoliciesOver(t, deploy.InlineLimit)
	srv.On("DescribeStacks", awsdouble.Error(http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired"))
	code, _, stderr := (&deployCLI{}).run(t, dir, "--stack", "backups", "--region", "us-east-1", "--s3-bucket", "b", "--yes")
	if code != exitDeploy {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	wantNames(t, srv, "DescribeStacks")
	wantContains(t, "stderr", stderr,
		"us-east-1: FAILED: the AWS credentials have expired (cloudformation:DescribeStacks): The security token included in the request is expired; refresh them (aws sso login, or new session credentials) and deploy again")
}

func TestDeployMissingCredentialsSendsNothing(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	os.Unsetenv("AWS_ACCESS_KEY_ID")
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	os.Unsetenv("AWS_SESSION_TOKEN")
	dir, _ := deployPoliciesOver(t, deploy.InlineLimit)
	code, _, stderr := (&deployCLI{}).run(t, dir, "--stack", "backups", "--region", "us-east-1", "--s3-bucket", "b", "--yes")
	if code != exitDeploy {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	wantNames(t, srv)
	wantContains(t, "stderr", stderr, "us-east-1: FAILED: no AWS credentials found", "pass --profile or set AWS_PROFILE")
}

func TestDeployStackInUpdateRollbackFailed(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	dir, _ := deployPoliciesOver(t, deploy.InlineLimit)
	srv.On("DescribeStacks", awsdouble.Stack("UPDATE_ROLLBACK_FAILED"))
	code, stdout, stderr := (&deployCLI{}).run(t, dir, "--stack", "backups", "--region", "us-east-1", "--s3-bucket", "b", "--yes")
	if code != exitDeploy {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	wantNames(t, srv, "DescribeStacks")
	if stdout != "" {
		t.Errorf("stdout: %q", stdout)
	}
	wantContains(t, "stderr", stderr,
		"us-east-1: FAILED: stack backups is in UPDATE_ROLLBACK_FAILED: an update failed and so did its rollback; fix the cause shown in the stack's events, continue the rollback (aws cloudformation continue-update-rollback --stack-name backups --region us-east-1), then deploy again")
}

func TestDeployDryRun(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	dir, _ := deployPoliciesOver(t, deploy.InlineLimit)
	srv.On("DescribeStacks", awsdouble.Stack("UPDATE_COMPLETE"))
	srv.On("s3:PutObject", awsdouble.PutObjectOK())
	srv.On("CreateChangeSet", awsdouble.ChangeSetCreated())
	srv.On("DescribeChangeSet", awsdouble.ChangeSet("CREATE_COMPLETE", "", awsdouble.Change{Action: "Add", LogicalID: "DeployTest1Window", Type: "AWS::SSM::MaintenanceWindow"}))
	srv.On("DeleteChangeSet", awsdouble.OK("DeleteChangeSet"))
	// A dry run needs no terminal.
	code, stdout, stderr := (&deployCLI{}).run(t, dir, "--stack", "backups", "--region", "us-east-1", "--s3-bucket", "b", "--dry-run")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	calls := wantNames(t, srv, "DescribeStacks", "s3:PutObject", "CreateChangeSet", "DescribeChangeSet", "DeleteChangeSet")
	wantParams(t, calls[2], "ChangeSetType", "UPDATE")
	wantContains(t, "stdout", stdout, "Change set ssm-backup-1767225600 (UPDATE) for stack backups in us-east-1: 1 change (1 to add)\n", "  Add     DeployTest1Window  AWS::SSM::MaintenanceWindow")
	wantContains(t, "stderr", stderr, "us-east-1: dry run: change set ssm-backup-1767225600 deleted, nothing executed\n",
		"  us-east-1: dry run: change set ssm-backup-1767225600 shown and deleted, nothing executed\n")
	if strings.Contains(stderr, "[y/N]") {
		t.Error("a dry run asked for confirmation")
	}
}

func TestDeployTwoRegionsOneFails(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	dir, _ := deployPoliciesOver(t, deploy.InlineLimit)
	// us-east-1 deploys; eu-west-1's stack is stuck after a failed create.
	srv.On("DescribeStacks", awsdouble.Stack("UPDATE_COMPLETE"), awsdouble.Stack("UPDATE_COMPLETE"), awsdouble.Stack("ROLLBACK_COMPLETE"))
	srv.On("s3:PutObject", awsdouble.PutObjectOK())
	srv.On("CreateChangeSet", awsdouble.ChangeSetCreated())
	srv.On("DescribeChangeSet", awsdouble.ChangeSet("CREATE_COMPLETE", "", awsdouble.Change{Action: "Add", LogicalID: "X", Type: "AWS::SSM::Document"}))
	srv.On("ExecuteChangeSet", awsdouble.OK("ExecuteChangeSet"))
	srv.On("DescribeStackEvents", awsdouble.Events("", event("e1", "backups", "AWS::CloudFormation::Stack", "UPDATE_COMPLETE", "", time.Minute)))
	code, _, stderr := (&deployCLI{}).run(t, dir, "--stack", "backups", "--region", "us-east-1", "--region", "eu-west-1", "--s3-bucket", "cfn-{region}", "--yes")
	if code != exitDeploy {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	calls := wantNames(t, srv, "DescribeStacks", "s3:PutObject", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DescribeStacks", "DescribeStackEvents", "DescribeStacks")
	var regions []string
	for _, c := range calls {
		regions = append(regions, c.Region)
	}
	if diff := cmp.Diff([]string{"us-east-1", "us-east-1", "us-east-1", "us-east-1", "us-east-1", "us-east-1", "us-east-1", "eu-west-1"}, regions); diff != "" {
		t.Errorf("regions (-want +got):\n%s", diff)
	}
	if calls[1].Bucket != "cfn-us-east-1" {
		t.Errorf("uploaded to %s", calls[1].Bucket)
	}
	wantContains(t, "stderr", stderr,
		"Results:\n  us-east-1: deployed stack backups (UPDATE_COMPLETE)\n  eu-west-1: FAILED: stack backups is in ROLLBACK_COMPLETE: its creation failed and was rolled back, and such a stack cannot be updated; delete it (aws cloudformation delete-stack --stack-name backups --region eu-west-1), then deploy again\n",
		"ssm-backup: deploy failed in eu-west-1\n")
}

func TestDeployTemplateSizeLimits(t *testing.T) {
	srv := awsdouble.New(t) // any call fails the test
	srv.SetEnv(t)
	dir, tmpl := deployPoliciesOver(t, deploy.InlineLimit)
	size := len(tmpl)
	code, _, stderr := (&deployCLI{}).run(t, dir, "--stack", "backups", "--region", "us-east-1", "--yes")
	if code != exitUsage {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	wantContains(t, "stderr", stderr, fmt.Sprintf("the template is %d bytes, more than the 51200 bytes CloudFormation accepts inline; pass --s3-bucket", size))

	// A set too large for one stack is refused before anything is sent:
	// CloudFormation's 500 resources per stack come before its 1 MB
	// (the byte limits alone are unit-tested in deploy).
	many := deployPolicies(t, 60)
	code, _, stderr = (&deployCLI{}).run(t, many, "--stack", "backups", "--region", "us-east-1", "--s3-bucket", "b", "--yes")
	if code != exitDeploy {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	wantContains(t, "stderr", stderr, "resources, more than the 500 CloudFormation allows in one stack; deploy the policies as several stacks")
	wantNames(t, srv)
}

func TestDeployPrintDeployerPolicy(t *testing.T) {
	srv := awsdouble.New(t) // any call fails the test
	srv.SetEnv(t)
	dir, _ := deployPoliciesOver(t, deploy.InlineLimit)
	code, stdout, stderr := (&deployCLI{}).run(t, dir, "--stack", "backups", "--region", "us-east-1", "--s3-bucket", "cfn-templates", "--print-deployer-policy")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var doc struct {
		Version   string
		Statement []struct {
			Sid      string
			Action   any
			Resource any
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || doc.Version != "2012-10-17" {
		t.Fatalf("stdout is not a policy document: %v\n%s", err, stdout)
	}
	wantContains(t, "policy", stdout, `"arn:aws:cloudformation:us-east-1:*:stack/backups/*"`, `"arn:aws:s3:::cfn-templates/ssm-backup/*"`,
		`"arn:aws:iam::*:role/ssm-backup/ssmb-*"`, `"iam:PassRole"`, `"ssm:CreateDocument"`, `"ssm:RegisterTaskWithMaintenanceWindow"`)
	if strings.Contains(stderr, "Results:") || strings.Contains(stderr, `"Statement"`) {
		t.Errorf("stderr:\n%s", stderr)
	}
	wantNames(t, srv)
}

func TestDeployUsageErrors(t *testing.T) {
	srv := awsdouble.New(t) // any call fails the test
	srv.SetEnv(t)
	dir, _ := deployPoliciesOver(t, deploy.InlineLimit)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{dir, "--region", "us-east-1", "--yes"}, "deploy needs a stack name: --stack NAME"},
		{[]string{dir, "--stack", "1bad_name", "--yes"}, "is not a CloudFormation stack name"},
		{[]string{dir, "--stack", "s", "--yes", "--dry-run"}, "--yes and --dry-run contradict each other"},
		{[]string{dir, "--stack", "s", "--s3-prefix", "x/", "--yes"}, "--s3-prefix needs --s3-bucket"},
		{[]string{dir, "--stack", "s", "--s3-bucket", "b"}, "stdin is not a terminal, so the change set cannot be confirmed: pass --yes to execute it without asking, or --dry-run to only show it"},
		{[]string{"--stack", "s", "--yes"}, "no policy path given"},
	} {
		code, _, stderr := (&deployCLI{}).run(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", c.args, code, exitUsage, c.want, stderr)
		}
	}
	// No region anywhere.
	code, _, stderr := (&deployCLI{}).run(t, dir, "--stack", "s", "--s3-bucket", "b", "--yes")
	if code != exitUsage || !strings.Contains(stderr, "no AWS region is configured; pass --region") {
		t.Errorf("no region: exit %d:\n%s", code, stderr)
	}
	wantNames(t, srv)
}

func TestDeployInvalidPolicySendsNothing(t *testing.T) {
	srv := awsdouble.New(t) // any call fails the test
	srv.SetEnv(t)
	dir := deployPolicies(t, 1)
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("apiVersion: ssm-backup/v1\nkind: BackupPolicy\nmetadata: {name: bad}\nspec: {retenton: 1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := (&deployCLI{}).run(t, dir, "--stack", "s", "--region", "us-east-1", "--s3-bucket", "b", "--yes")
	if code != exitInvalid || stdout != "" {
		t.Fatalf("exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	wantContains(t, "stderr", stderr, "bad.yaml:", "nothing deployed")
	wantNames(t, srv)
}

// TestDeployThroughMain runs the registered command with its real clock,
// sleeper and terminal check.
func TestDeployThroughMain(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	dir, _ := deployPoliciesOver(t, deploy.InlineLimit)
	srv.On("DescribeStacks", awsdouble.StackNotFound())
	srv.On("s3:PutObject", awsdouble.PutObjectOK())
	srv.On("CreateChangeSet", awsdouble.ChangeSetCreated())
	srv.On("DescribeChangeSet", awsdouble.ChangeSet("CREATE_COMPLETE", "", awsdouble.Change{Action: "Add", LogicalID: "X", Type: "AWS::SSM::Document"}))
	srv.On("DeleteChangeSet", awsdouble.OK("DeleteChangeSet"))
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"deploy", dir, "--stack", "backups", "--region", "us-east-1", "--s3-bucket", "b", "--dry-run"}, strings.NewReader(""), &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	calls := wantNames(t, srv, "DescribeStacks", "s3:PutObject", "CreateChangeSet", "DescribeChangeSet", "DeleteChangeSet")
	if name := calls[2].Params.Get("ChangeSetName"); !strings.HasPrefix(name, "ssm-backup-") || len(name) < len("ssm-backup-1700000000") {
		t.Errorf("change set name %q", name)
	}
	// A strings.Reader is no terminal: without --yes or --dry-run, refused.
	errb.Reset()
	code = Main(context.Background(), []string{"deploy", dir, "--stack", "backups", "--region", "us-east-1", "--s3-bucket", "b"}, strings.NewReader("y\n"), &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "stdin is not a terminal") {
		t.Errorf("non-interactive: exit %d\n%s", code, errb.String())
	}
	if len(srv.Calls()) != 5 {
		t.Errorf("calls after the refusal: %v", srv.Names())
	}
	errb.Reset()
	out.Reset()
	code = Main(context.Background(), []string{"deploy", "--help"}, strings.NewReader(""), &out, &errb)
	if code != exitOK || !strings.Contains(out.String(), "--print-deployer-policy") {
		t.Errorf("help: exit %d\n%s", code, out.String())
	}
}

func TestIsTerminal(t *testing.T) {
	if isTerminal(strings.NewReader("")) {
		t.Error("a strings.Reader is a terminal")
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if isTerminal(null) {
		t.Error("/dev/null is a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a file is a terminal")
	}
}
