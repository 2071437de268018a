package deploy_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/google/go-cmp/cmp"

	"github.com/ssm-backup/ssm-backup/deploy"
	"github.com/ssm-backup/ssm-backup/deploy/awsdouble"
)

// These tests drive the real aws-sdk-go-v2 clients, built by NewClients from
// the configuration chain, against the local double.

var fixedNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func deployer(t *testing.T, c *deploy.Clients) (*deploy.Deployer, *strings.Builder, *strings.Builder) {
	t.Helper()
	var out, log strings.Builder
	return &deploy.Deployer{
		Clients: c, Out: &out, Log: &log,
		Now:   func() time.Time { return fixedNow },
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
	}, &out, &log
}

func newClients(t *testing.T, o deploy.ClientOptions) *deploy.Clients {
	t.Helper()
	c, err := deploy.NewClients(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestThrottledCallIsRetriedByTheStandardRetryer(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	srv.On("DescribeStacks", awsdouble.Error(http.StatusBadRequest, "Throttling", "Rate exceeded"), awsdouble.StackNotFound())
	srv.On("CreateChangeSet", awsdouble.ChangeSetCreated())
	srv.On("DescribeChangeSet", awsdouble.ChangeSet("CREATE_COMPLETE", "", awsdouble.Change{Action: "Add", LogicalID: "Doc", Type: "AWS::SSM::Document"}))
	srv.On("DeleteChangeSet", awsdouble.OK("DeleteChangeSet"))

	// The SDK's default configuration: no retryer is set here.
	d, out, log := deployer(t, newClients(t, deploy.ClientOptions{Region: "us-east-1"}))
	res := d.Deploy(context.Background(), deploy.Request{Stack: "backups", Template: []byte(`{"Resources":{}}`), DryRun: true})
	if res.Err != nil || res.Outcome != deploy.DryRun {
		t.Fatalf("result %+v\n%s", res, log)
	}
	want := []string{"DescribeStacks", "DescribeStacks", "CreateChangeSet", "DescribeChangeSet", "DeleteChangeSet"}
	if diff := cmp.Diff(want, srv.Names()); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
	calls := srv.Calls()
	// The second DescribeStacks is the SDK's retry of the first, not a new
	// call of the flow.
	if a, b := calls[0].Header.Get("Amz-Sdk-Invocation-Id"), calls[1].Header.Get("Amz-Sdk-Invocation-Id"); a == "" || a != b {
		t.Errorf("invocation ids %q, %q: not one call retried", a, b)
	}
	if got := calls[1].Header.Get("Amz-Sdk-Request"); !strings.HasPrefix(got, "attempt=2;") {
		t.Errorf("amz-sdk-request %q, want attempt=2", got)
	}
	create := calls[2].Params
	if create.Get("TemplateBody") != `{"Resources":{}}` || create.Get("TemplateURL") != "" || create.Get("ChangeSetType") != "CREATE" ||
		create.Get("Capabilities.member.1") != "CAPABILITY_NAMED_IAM" || create.Get("Capabilities.member.2") != "" {
		t.Errorf("CreateChangeSet params: %v", create)
	}
	if !strings.Contains(out.String(), "Add     Doc       AWS::SSM::Document") {
		t.Errorf("change set:\n%s", out)
	}
}

func TestS3UploadThroughTheRealClient(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	tmpl := []byte(`{"Resources":{"Doc":{"Type":"AWS::SSM::Document","Properties":{"Content":"` + strings.Repeat("x", deploy.InlineLimit) + `"}}}}`)
	bucket := deploy.TemplateBucket{Bucket: "cfn-{region}", Prefix: "ssm-backup/"}
	key := bucket.Key(tmpl)
	srv.On("DescribeStacks", awsdouble.Stack("UPDATE_COMPLETE"))
	srv.On("s3:PutObject", awsdouble.PutObjectOK())
	srv.On("CreateChangeSet", awsdouble.ChangeSetCreated())
	srv.On("DescribeChangeSet", awsdouble.ChangeSet("FAILED", "No updates are to be performed."))
	srv.On("DeleteChangeSet", awsdouble.OK("DeleteChangeSet"))

	d, _, log := deployer(t, newClients(t, deploy.ClientOptions{Region: "ap-southeast-2"}))
	res := d.Deploy(context.Background(), deploy.Request{Stack: "backups", Template: tmpl, Bucket: &bucket})
	if res.Err != nil || res.Outcome != deploy.NoChanges {
		t.Fatalf("result %+v\n%s", res, log)
	}
	calls := srv.Calls()
	put := calls[1]
	// Path-style, since the endpoint is overridden; the bytes are the
	// template's.
	if put.Name() != "s3:PutObject" || put.Bucket != "cfn-ap-southeast-2" || put.Key != key || string(put.Body) != string(tmpl) || put.Region != "ap-southeast-2" {
		t.Errorf("PutObject s3://%s/%s in %s, %d bytes", put.Bucket, put.Key, put.Region, len(put.Body))
	}
	if got, want := calls[2].Params.Get("TemplateURL"), srv.URL+"/cfn-ap-southeast-2/"+key; got != want || calls[2].Params.Get("TemplateBody") != "" {
		t.Errorf("TemplateURL %q, want %q", got, want)
	}
}

func TestEndpointVariables(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	// Only the generic variable: both services use it.
	os.Unsetenv("AWS_ENDPOINT_URL_CLOUDFORMATION")
	os.Unsetenv("AWS_ENDPOINT_URL_S3")
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	srv.On("DescribeStacks", awsdouble.Stack("CREATE_COMPLETE"))
	c := newClients(t, deploy.ClientOptions{Region: "eu-west-1"})
	if _, err := c.CloudFormation.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	if u, err := c.ObjectURL(context.Background(), "b", "k.json"); err != nil || u != srv.URL+"/b/k.json" {
		t.Errorf("object URL %q, %v", u, err)
	}

	// A service's own variable wins over the generic one.
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", srv.URL)
	srv.On("DescribeStacks", awsdouble.Stack("CREATE_COMPLETE"))
	c = newClients(t, deploy.ClientOptions{Region: "eu-west-1"})
	if _, err := c.CloudFormation.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"DescribeStacks", "DescribeStacks"}, srv.Names()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestObjectURLWithoutOverride(t *testing.T) {
	awsdouble.SetIsolatedEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	for _, c := range []struct{ region, bucket, want string }{
		{"us-east-1", "cfn-templates", "https://cfn-templates.s3.us-east-1.amazonaws.com/ssm-backup/k.json"},
		{"cn-north-1", "cfn-templates", "https://cfn-templates.s3.cn-north-1.amazonaws.com.cn/ssm-backup/k.json"},
		// Dots break the TLS certificate of virtual-hosted names.
		{"eu-west-1", "cfn.templates", "https://s3.eu-west-1.amazonaws.com/cfn.templates/ssm-backup/k.json"},
	} {
		u, err := newClients(t, deploy.ClientOptions{Region: c.region}).ObjectURL(context.Background(), c.bucket, "ssm-backup/k.json")
		if err != nil || u != c.want {
			t.Errorf("%s %s: %q, %v; want %q", c.region, c.bucket, u, err, c.want)
		}
	}
}

func TestProfileFromSharedFiles(t *testing.T) {
	srv := awsdouble.New(t)
	awsdouble.SetIsolatedEnv(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(config, []byte("[profile ci]\nregion = sa-east-1\nendpoint_url = "+srv.URL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(creds, []byte("[ci]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", config)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	srv.On("DescribeStacks", awsdouble.Stack("CREATE_COMPLETE"))
	c := newClients(t, deploy.ClientOptions{Profile: "ci"})
	if c.Region != "sa-east-1" {
		t.Errorf("region %q", c.Region)
	}
	if _, err := c.CloudFormation.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	call := srv.Calls()[0]
	if call.Region != "sa-east-1" || !strings.Contains(call.Header.Get("Authorization"), "Credential=AKIDPROFILE/") {
		t.Errorf("signed for %s with %s", call.Region, call.Header.Get("Authorization"))
	}
}

func TestNewClientsExplainsSetupProblems(t *testing.T) {
	srv := awsdouble.New(t) // any call fails the test
	awsdouble.SetIsolatedEnv(t)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)

	_, err := deploy.NewClients(context.Background(), deploy.ClientOptions{Region: "us-east-1"})
	if !deploy.IsKind(err, deploy.KindCredentials) || !strings.Contains(err.Error(), "no AWS credentials found") || !strings.Contains(err.Error(), "--profile") {
		t.Errorf("no credentials: %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	_, err = deploy.NewClients(context.Background(), deploy.ClientOptions{})
	if !deploy.IsKind(err, deploy.KindConfig) || !strings.Contains(err.Error(), "no AWS region") || !strings.Contains(err.Error(), "--region") {
		t.Errorf("no region: %v", err)
	}
	_, err = deploy.NewClients(context.Background(), deploy.ClientOptions{Region: "us-east-1", Profile: "missing"})
	if !deploy.IsKind(err, deploy.KindConfig) || !strings.Contains(err.Error(), `AWS profile "missing" is not defined`) {
		t.Errorf("unknown profile: %v", err)
	}
	if n := len(srv.Calls()); n != 0 {
		t.Errorf("%d calls sent", n)
	}
}

func TestAPIErrorsThroughTheRealClient(t *testing.T) {
	srv := awsdouble.New(t)
	srv.SetEnv(t)
	srv.On("DescribeStacks", awsdouble.Error(http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired"))
	srv.On("DescribeStacks", awsdouble.Stack("UPDATE_COMPLETE"))
	srv.On("s3:PutObject", awsdouble.S3Fails(http.StatusForbidden, "AccessDenied", "Access Denied"))
	c := newClients(t, deploy.ClientOptions{Region: "us-east-1"})
	d, _, _ := deployer(t, c)
	big := []byte(`{"Resources":{},"Description":"` + strings.Repeat("x", deploy.InlineLimit) + `"}`)

	res := d.Deploy(context.Background(), deploy.Request{Stack: "backups", Template: big, Bucket: &deploy.TemplateBucket{Bucket: "b"}})
	if !deploy.IsKind(res.Err, deploy.KindExpired) || !strings.Contains(res.Err.Error(), "(cloudformation:DescribeStacks): The security token included in the request is expired") {
		t.Errorf("expired: %v", res.Err)
	}
	res = d.Deploy(context.Background(), deploy.Request{Stack: "backups", Template: big, Bucket: &deploy.TemplateBucket{Bucket: "b"}})
	if !deploy.IsKind(res.Err, deploy.KindAccessDenied) || !strings.Contains(res.Err.Error(), "access denied to s3:PutObject: Access Denied") {
		t.Errorf("denied: %v", res.Err)
	}
	if diff := cmp.Diff([]string{"DescribeStacks", "DescribeStacks", "s3:PutObject"}, srv.Names()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
