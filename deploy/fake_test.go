package deploy

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// fakeAWS implements CloudFormationAPI and S3API in memory. Each call takes
// the next scripted answer of its operation; a call with none left fails the
// test.
type fakeAWS struct {
	t       *testing.T
	mu      sync.Mutex
	calls   []string
	inputs  []any
	answers map[string][]func(in any) (any, error)
	// repeated answer every call of an operation once its queue is empty.
	repeated map[string]func(in any) (any, error)
}

func newFake(t *testing.T) *fakeAWS {
	f := &fakeAWS{t: t, answers: map[string][]func(any) (any, error){}, repeated: map[string]func(any) (any, error){}}
	t.Cleanup(func() {
		for op, q := range f.answers {
			if len(q) > 0 && !t.Failed() {
				t.Errorf("%d scripted %s answers never used; calls: %v", len(q), op, f.calls)
			}
		}
	})
	return f
}

func (f *fakeAWS) on(op string, answers ...func(in any) (any, error)) *fakeAWS {
	f.answers[op] = append(f.answers[op], answers...)
	return f
}

func (f *fakeAWS) always(op string, answer func(in any) (any, error)) *fakeAWS {
	f.repeated[op] = answer
	return f
}

func call[In, Out any](f *fakeAWS, op string, in In) (Out, error) {
	f.mu.Lock()
	f.calls = append(f.calls, op)
	f.inputs = append(f.inputs, in)
	q := f.answers[op]
	var next func(any) (any, error)
	if len(q) > 0 {
		next, f.answers[op] = q[0], q[1:]
	} else {
		next = f.repeated[op]
	}
	f.mu.Unlock()
	var zero Out
	if next == nil {
		f.t.Errorf("unexpected call %s; calls: %v", op, f.calls)
		return zero, &smithy.GenericAPIError{Code: "UnexpectedCall", Message: op}
	}
	out, err := next(in)
	if err != nil {
		return zero, wrapOp(op, err)
	}
	return out.(Out), nil
}

// wrapOp wraps an API error as the SDK does.
func wrapOp(op string, err error) error {
	service := "CloudFormation"
	if op == "PutObject" {
		service = "S3"
	}
	return &smithy.OperationError{ServiceID: service, OperationName: op, Err: err}
}

func (f *fakeAWS) input(i int) any { return f.inputs[i] }

func (f *fakeAWS) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	return call[*cloudformation.DescribeStacksInput, *cloudformation.DescribeStacksOutput](f, "DescribeStacks", in)
}
func (f *fakeAWS) CreateChangeSet(_ context.Context, in *cloudformation.CreateChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error) {
	return call[*cloudformation.CreateChangeSetInput, *cloudformation.CreateChangeSetOutput](f, "CreateChangeSet", in)
}
func (f *fakeAWS) DescribeChangeSet(_ context.Context, in *cloudformation.DescribeChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error) {
	return call[*cloudformation.DescribeChangeSetInput, *cloudformation.DescribeChangeSetOutput](f, "DescribeChangeSet", in)
}
func (f *fakeAWS) ExecuteChangeSet(_ context.Context, in *cloudformation.ExecuteChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error) {
	return call[*cloudformation.ExecuteChangeSetInput, *cloudformation.ExecuteChangeSetOutput](f, "ExecuteChangeSet", in)
}
func (f *fakeAWS) DeleteChangeSet(_ context.Context, in *cloudformation.DeleteChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.DeleteChangeSetOutput, error) {
	return call[*cloudformation.DeleteChangeSetInput, *cloudformation.DeleteChangeSetOutput](f, "DeleteChangeSet", in)
}
func (f *fakeAWS) DescribeStackEvents(_ context.Context, in *cloudformation.DescribeStackEventsInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error) {
	return call[*cloudformation.DescribeStackEventsInput, *cloudformation.DescribeStackEventsOutput](f, "DescribeStackEvents", in)
}
func (f *fakeAWS) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return call[*s3.PutObjectInput, *s3.PutObjectOutput](f, "PutObject", in)
}

// --- scripted answers ---

const (
	testRegion = "eu-central-1"
	stackID    = "arn:aws:cloudformation:eu-central-1:123456789012:stack/backups/1"
	csID       = "arn:aws:cloudformation:eu-central-1:123456789012:changeSet/ssm-backup-1767225600/1"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // Unix 1767225600

func apiError(code, msg string) func(any) (any, error) {
	return func(any) (any, error) { return nil, &smithy.GenericAPIError{Code: code, Message: msg} }
}

func noStack() func(any) (any, error) {
	return apiError("ValidationError", "Stack with id backups does not exist")
}

func stackIn(status types.StackStatus) func(any) (any, error) {
	return func(any) (any, error) {
		return &cloudformation.DescribeStacksOutput{Stacks: []types.Stack{{StackName: aws.String("backups"), StackId: aws.String(stackID), StackStatus: status}}}, nil
	}
}

func created() func(any) (any, error) {
	return func(any) (any, error) {
		return &cloudformation.CreateChangeSetOutput{Id: aws.String(csID), StackId: aws.String(stackID)}, nil
	}
}

func changeSet(status types.ChangeSetStatus, reason, next string, changes ...types.Change) func(any) (any, error) {
	return func(any) (any, error) {
		out := &cloudformation.DescribeChangeSetOutput{Status: status, Changes: changes}
		if reason != "" {
			out.StatusReason = aws.String(reason)
		}
		if next != "" {
			out.NextToken = aws.String(next)
		}
		return out, nil
	}
}

func ok[T any]() func(any) (any, error) {
	return func(any) (any, error) { return new(T), nil }
}

func add(id, typ string) types.Change {
	return types.Change{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{
		Action: types.ChangeActionAdd, LogicalResourceId: aws.String(id), ResourceType: aws.String(typ)}}
}

func modify(id, typ string, repl types.Replacement, props ...string) types.Change {
	rc := &types.ResourceChange{Action: types.ChangeActionModify, LogicalResourceId: aws.String(id), ResourceType: aws.String(typ), Replacement: repl}
	for _, p := range props {
		rr := types.RequiresRecreationNever
		if strings.HasSuffix(p, "!") {
			p, rr = strings.TrimSuffix(p, "!"), types.RequiresRecreationAlways
		}
		rc.Details = append(rc.Details, types.ResourceChangeDetail{Target: &types.ResourceTargetDefinition{
			Attribute: types.ResourceAttributeProperties, Name: aws.String(p), RequiresRecreation: rr}})
	}
	return types.Change{Type: types.ChangeTypeResource, ResourceChange: rc}
}

type ev struct {
	id, logical, typ string
	status           types.ResourceStatus
	reason           string
	at               time.Duration // after t0
	token            string
}

func events(next string, evs ...ev) func(any) (any, error) {
	return func(any) (any, error) {
		out := &cloudformation.DescribeStackEventsOutput{}
		for _, e := range evs {
			se := types.StackEvent{
				EventId: aws.String(e.id), LogicalResourceId: aws.String(e.logical), ResourceType: aws.String(e.typ),
				ResourceStatus: e.status, Timestamp: aws.Time(t0.Add(e.at)), StackId: aws.String(stackID), StackName: aws.String("backups"),
			}
			if e.reason != "" {
				se.ResourceStatusReason = aws.String(e.reason)
			}
			if e.token != "" {
				se.ClientRequestToken = aws.String(e.token)
			}
			out.StackEvents = append(out.StackEvents, se)
		}
		if next != "" {
			out.NextToken = aws.String(next)
		}
		return out, nil
	}
}

// harness runs the flow against a fake, with a fixed clock and a sleeper
// that records instead of waiting.
type harness struct {
	fake   *fakeAWS
	d      *Deployer
	out    strings.Builder
	log    strings.Builder
	sleeps []time.Duration
}

func newHarness(t *testing.T) *harness {
	h := &harness{fake: newFake(t)}
	h.d = &Deployer{
		Clients: &Clients{
			Region: testRegion, CloudFormation: h.fake, S3: h.fake,
			ObjectURL: func(_ context.Context, bucket, key string) (string, error) {
				return fmt.Sprintf("https://%s.s3.%s.amazonaws.com/%s", bucket, testRegion, key), nil
			},
		},
		Out: &h.out, Log: &h.log,
		Now: func() time.Time { return t0 },
		Sleep: func(ctx context.Context, d time.Duration) error {
			h.sleeps = append(h.sleeps, d)
			return ctx.Err()
		},
	}
	return h
}
