package deploy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
)

func TestExplainClassifiesAPIErrors(t *testing.T) {
	for _, c := range []struct {
		service, op, code, msg string
		kind                   Kind
		want                   []string
	}{
		{"CloudFormation", "DescribeStacks", "ExpiredToken", "The security token included in the request is expired", KindExpired,
			[]string{"the AWS credentials have expired (cloudformation:DescribeStacks): The security token included in the request is expired", "aws sso login"}},
		{"CloudFormation", "DescribeStacks", "InvalidClientTokenId", "The security token included in the request is invalid.", KindCredentials,
			[]string{"AWS does not accept the credentials (cloudformation:DescribeStacks)", "aws sts get-caller-identity"}},
		{"S3", "PutObject", "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", KindCredentials, []string{"(s3:PutObject)"}},
		{"CloudFormation", "ExecuteChangeSet", "AccessDenied", "User: arn:aws:iam::1:user/ci is not authorized to perform: cloudformation:ExecuteChangeSet", KindAccessDenied,
			[]string{"access denied to cloudformation:ExecuteChangeSet: User: arn:aws:iam::1:user/ci is not authorized", "--print-deployer-policy"}},
		{"S3", "PutObject", "AccessDenied", "Access Denied", KindAccessDenied, []string{"access denied to s3:PutObject: Access Denied"}},
		{"CloudFormation", "DescribeStackEvents", "Throttling", "Rate exceeded", KindThrottled, []string{"kept throttling", "after retrying with backoff", "Rate exceeded"}},
		{"S3", "PutObject", "SlowDown", "Please reduce your request rate.", KindThrottled, []string{"s3:PutObject"}},
		{"S3", "PutObject", "NoSuchBucket", "The specified bucket does not exist", KindBucket, []string{"does not exist", "--s3-bucket"}},
		{"S3", "PutObject", "PermanentRedirect", "The bucket you are attempting to access must be addressed using the specified endpoint.", KindBucket, []string{"in another region", "{region}"}},
		{"CloudFormation", "CreateChangeSet", "ValidationError", "Template error: something", KindOther, []string{"AWS refused (cloudformation:CreateChangeSet): ValidationError: Template error: something"}},
	} {
		err := Explain(&smithy.OperationError{ServiceID: c.service, OperationName: c.op, Err: &smithy.GenericAPIError{Code: c.code, Message: c.msg}})
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: not explained: %v", c.code, err)
			continue
		}
		if e.Kind != c.kind || e.Code != c.code {
			t.Errorf("%s: kind %d code %s, want %d", c.code, e.Kind, e.Code, c.kind)
		}
		for _, w := range c.want {
			if !strings.Contains(e.Error(), w) {
				t.Errorf("%s: %q lacks %q", c.code, e.Error(), w)
			}
		}
		// The SDK's error stays reachable.
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != c.code {
			t.Errorf("%s: API error lost", c.code)
		}
	}
}

func TestExplainOtherErrors(t *testing.T) {
	if Explain(nil) != nil {
		t.Error("nil explained")
	}
	if err := Explain(fmt.Errorf("wrapped: %w", context.Canceled)); !errors.Is(err, context.Canceled) || IsKind(err, KindOther) {
		t.Errorf("cancellation: %v", err)
	}
	done := &Error{Kind: KindStackState, Message: "m"}
	if Explain(done) != done {
		t.Error("an explained error was explained again")
	}
	noCreds := &smithy.OperationError{ServiceID: "CloudFormation", OperationName: "DescribeStacks",
		Err: fmt.Errorf("get identity: %w", errors.New("failed to refresh cached credentials, no EC2 IMDS role found"))}
	if err := Explain(noCreds); !IsKind(err, KindCredentials) || !strings.Contains(err.Error(), "no AWS credentials found") || !strings.Contains(err.Error(), "--profile") {
		t.Errorf("missing credentials: %v", err)
	}
	refused := &smithy.OperationError{ServiceID: "CloudFormation", OperationName: "DescribeStacks",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}}
	if err := Explain(refused); !IsKind(err, KindNetwork) || !strings.Contains(err.Error(), "cannot reach AWS (cloudformation:DescribeStacks)") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("network: %v", err)
	}
}

func TestIAMAction(t *testing.T) {
	for _, c := range [][3]string{
		{"CloudFormation", "CreateChangeSet", "cloudformation:CreateChangeSet"},
		{"S3", "PutObject", "s3:PutObject"},
		{"", "X", "X"},
		{"CloudFormation", "", ""},
	} {
		if got := iamAction(c[0], c[1]); got != c[2] {
			t.Errorf("iamAction(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}
