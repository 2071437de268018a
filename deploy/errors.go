package deploy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/smithy-go"
)

// Kind sorts failures by what a person does about them.
type Kind int

const (
	// KindOther is everything not sorted below; its message is AWS's own.
	KindOther Kind = iota
	// KindConfig: the AWS configuration cannot be used (unknown profile, no
	// region).
	KindConfig
	// KindCredentials: no credentials were found, or AWS does not accept
	// them.
	KindCredentials
	// KindExpired: the credentials were valid once and have expired.
	KindExpired
	// KindAccessDenied: the principal lacks a permission.
	KindAccessDenied
	// KindThrottled: AWS kept throttling the requests after the SDK's
	// retries.
	KindThrottled
	// KindStackState: the stack is in a state it cannot be updated from.
	KindStackState
	// KindChangeSet: CloudFormation could not create the change set.
	KindChangeSet
	// KindTemplate: the template cannot be sent (too large, no bucket).
	KindTemplate
	// KindBucket: the template bucket is missing or in another region.
	KindBucket
	// KindStackFailed: the change set ran and the stack operation failed.
	KindStackFailed
	// KindNetwork: the endpoint cannot be reached.
	KindNetwork
)

// Error is a failure explained: what went wrong, in which AWS action, and
// what to do about it.
type Error struct {
	Kind Kind
	// Action is the IAM action of the failed call, such as
	// "cloudformation:CreateChangeSet"; empty when no call failed.
	Action string
	// Code is AWS's error code, such as "AccessDenied".
	Code    string
	Message string
	// Hint says what to do, when there is something to say.
	Hint string
	Err  error
}

func (e *Error) Error() string {
	s := e.Message
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// IsKind reports whether err is an *Error of kind k.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

const deployerPolicyHint = "ssm-backup deploy --print-deployer-policy prints every permission a deploy needs"

func noCredentials(err error) *Error {
	msg := "no AWS credentials found"
	if err != nil {
		msg += ": " + err.Error()
	}
	return &Error{Kind: KindCredentials, Message: msg, Hint: "pass --profile or set AWS_PROFILE, run aws sso login, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", Err: err}
}

// Explain turns an error of the SDK into an *Error a person can act on. It
// returns errors that are already explained, and context cancellation, as
// they are.
func Explain(err error) error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.As(err, &done) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	action := ""
	var op *smithy.OperationError
	if errors.As(err, &op) {
		action = iamAction(op.ServiceID, op.OperationName)
	}
	in := ""
	if action != "" {
		in = " (" + action + ")"
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		switch {
		case strings.Contains(err.Error(), "get identity:") || strings.Contains(err.Error(), "failed to retrieve credentials"):
			return noCredentials(err)
		case isNetwork(err):
			return &Error{Kind: KindNetwork, Action: action, Message: "cannot reach AWS" + in + ": " + rootCause(err), Hint: "check the network, and AWS_ENDPOINT_URL* variables or endpoint_url in the profile", Err: err}
		}
		return &Error{Kind: KindOther, Action: action, Message: err.Error(), Err: err}
	}
	code, msg := api.ErrorCode(), api.ErrorMessage()
	e := &Error{Action: action, Code: code, Err: err}
	switch code {
	case "ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired":
		e.Kind = KindExpired
		e.Message = "the AWS credentials have expired" + in + ": " + msg
		e.Hint = "refresh them (aws sso login, or new session credentials) and deploy again"
	case "InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthFailure", "IncompleteSignature", "MissingAuthenticationToken":
		e.Kind = KindCredentials
		e.Message = "AWS does not accept the credentials" + in + ": " + msg
		e.Hint = "check which credentials are in use (aws sts get-caller-identity) and that the access key is active"
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError":
		e.Kind = KindAccessDenied
		if action != "" {
			e.Message = "access denied to " + action + ": " + msg
		} else {
			e.Message = "access denied: " + msg
		}
		e.Hint = deployerPolicyHint
	case "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "RequestThrottled", "ProvisionedThroughputExceededException":
		e.Kind = KindThrottled
		e.Message = "AWS kept throttling the requests" + in + " after retrying with backoff: " + msg
		e.Hint = "wait a minute and deploy again, or raise AWS_MAX_ATTEMPTS"
	case "NoSuchBucket":
		e.Kind = KindBucket
		e.Message = "the template bucket does not exist" + in + ": " + msg
		e.Hint = "create it, or pass an existing bucket with --s3-bucket"
	case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
		e.Kind = KindBucket
		e.Message = "the template bucket is in another region" + in + ": " + msg
		e.Hint = "use a bucket in the region deployed to; --s3-bucket may contain {region}, which is replaced by each region"
	default:
		e.Kind = KindOther
		e.Message = "AWS refused" + in + ": " + code + ": " + msg
	}
	return e
}

// iamAction names the IAM action of an SDK operation: the service's IAM
// prefix and the operation name.
func iamAction(serviceID, operation string) string {
	if operation == "" {
		return ""
	}
	prefix := strings.ToLower(strings.ReplaceAll(serviceID, " ", ""))
	if prefix == "" {
		return operation
	}
	return prefix + ":" + operation
}

func isNetwork(err error) bool {
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &oe) || errors.As(err, &de) || (errors.As(err, &ne) && ne.Timeout())
}

// rootCause is the innermost message of a wrapped error, without the SDK's
// layers of "operation error …, https response error …".
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// errorf makes an *Error of a kind with a formatted message.
func errorf(k Kind, hint, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...), Hint: hint}
}
