package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
)

var smallTemplate = []byte(`{"Resources":{"A":{"Type":"AWS::SSM::Document"}}}`)

func largeTemplate() []byte {
	return []byte(`{"Resources":{"A":{"Type":"AWS::SSM::Document","Properties":{"Content":"` + strings.Repeat("x", InlineLimit) + `"}}}}`)
}

func wantCalls(t *testing.T, f *fakeAWS, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, f.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func inputOf[T any](t *testing.T, f *fakeAWS, op string, nth int) T {
	t.Helper()
	n := 0
	for i, c := range f.calls {
		if c == op {
			if n == nth {
				return f.input(i).(T)
			}
			n++
		}
	}
	t.Fatalf("no call %d of %s in %v", nth, op, f.calls)
	var zero T
	return zero
}

func TestCreatesNewStackInlineAndFollowsEvents(t *testing.T) {
	h := newHarness(t)
	h.fake.
		on("DescribeStacks", noStack(), stackIn(types.StackStatusCreateInProgress), stackIn(types.StackStatusCreateComplete)).
		on("CreateChangeSet", created()).
		on("DescribeChangeSet",
			changeSet(types.ChangeSetStatusCreatePending, "", ""),
			changeSet(types.ChangeSetStatusCreateInProgress, "", ""),
			changeSet(types.ChangeSetStatusCreateComplete, "", "page-2", add("Window", "AWS::SSM::MaintenanceWindow")),
			changeSet(types.ChangeSetStatusCreateComplete, "", "", add("Document", "AWS::SSM::Document"))).
		on("ExecuteChangeSet", ok[cloudformation.ExecuteChangeSetOutput]()).
		on("DescribeStackEvents",
			events("",
				ev{"e2", "Document", "AWS::SSM::Document", types.ResourceStatusCreateInProgress, "", 2 * time.Second, "ssm-backup-1767225600"},
				ev{"e1", "backups", "AWS::CloudFormation::Stack", types.ResourceStatusCreateInProgress, "User Initiated", time.Second, "ssm-backup-1767225600"},
				ev{"old", "backups", "AWS::CloudFormation::Stack", types.ResourceStatus("REVIEW_IN_PROGRESS"), "User Initiated", -time.Hour, ""}),
			events("",
				ev{"e4", "backups", "AWS::CloudFormation::Stack", types.ResourceStatusCreateComplete, "", 9 * time.Second, "ssm-backup-1767225600"},
				ev{"e3", "Document", "AWS::SSM::Document", types.ResourceStatusCreateComplete, "", 8 * time.Second, "ssm-backup-1767225600"},
				ev{"e2", "Document", "AWS::SSM::Document", types.ResourceStatusCreateInProgress, "", 2 * time.Second, "ssm-backup-1767225600"}))

	res := h.d.Deploy(context.Background(), Request{Stack: "backups", Template: smallTemplate})
	if res.Err != nil || res.Outcome != Deployed || res.StackStatus != "CREATE_COMPLETE" {
		t.Fatalf("result %+v\nlog:\n%s", res, h.log.String())
	}
	wantCalls(t, h.fake, "DescribeStacks", "CreateChangeSet", "DescribeChangeSet", "DescribeChangeSet", "DescribeChangeSet", "DescribeChangeSet",
		"ExecuteChangeSet", "DescribeStacks", "DescribeStackEvents", "DescribeStacks", "DescribeStackEvents")
	in := inputOf[*cloudformation.CreateChangeSetInput](t, h.fake, "CreateChangeSet", 0)
	if in.ChangeSetType != types.ChangeSetTypeCreate || aws.ToString(in.ChangeSetName) != "ssm-backup-1767225600" ||
		aws.ToString(in.ClientToken) != "ssm-backup-1767225600" || aws.ToString(in.StackName) != "backups" ||
		!slices.Equal(in.Capabilities, []types.Capability{types.CapabilityCapabilityNamedIam}) ||
		aws.ToString(in.TemplateBody) != string(smallTemplate) || in.TemplateURL != nil {
		t.Errorf("CreateChangeSet input: %+v", in)
	}
	page2 := inputOf[*cloudformation.DescribeChangeSetInput](t, h.fake, "DescribeChangeSet", 3)
	if aws.ToString(page2.NextToken) != "page-2" || aws.ToString(page2.ChangeSetName) != csID {
		t.Errorf("second page asked with %+v", page2)
	}
	exec := inputOf[*cloudformation.ExecuteChangeSetInput](t, h.fake, "ExecuteChangeSet", 0)
	if aws.ToString(exec.ChangeSetName) != csID || aws.ToString(exec.ClientRequestToken) != "ssm-backup-1767225600" {
		t.Errorf("ExecuteChangeSet input: %+v", exec)
	}
	if ds := inputOf[*cloudformation.DescribeStacksInput](t, h.fake, "DescribeStacks", 1); aws.ToString(ds.StackName) != stackID {
		t.Errorf("followed stack %q, want its id", aws.ToString(ds.StackName))
	}
	if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second, 2 * time.Second}, h.sleeps); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
	// Both pages of changes are shown.
	if out := h.out.String(); !strings.Contains(out, "2 changes (2 to add)") || !strings.Contains(out, "Window") || !strings.Contains(out, "Document") {
		t.Errorf("change set output:\n%s", out)
	}
	// Events: oldest first, each once, none from before the execution.
	log := h.log.String()
	var got []string
	for _, line := range strings.Split(log, "\n") {
		for _, s := range []string{"CREATE_IN_PROGRESS", "CREATE_COMPLETE", "REVIEW_IN_PROGRESS "} {
			if strings.Contains(line, "  "+s) {
				got = append(got, strings.Fields(line)[2]+" "+strings.Fields(line)[3])
			}
		}
	}
	want := []string{"CREATE_IN_PROGRESS backups", "CREATE_IN_PROGRESS Document", "CREATE_COMPLETE Document", "CREATE_COMPLETE backups"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s\nlog:\n%s", diff, log)
	}
	if !strings.Contains(log, "eu-central-1: 00:00:01  CREATE_IN_PROGRESS   backups (AWS::CloudFormation::Stack): User Initiated") {
		t.Errorf("event line format:\n%s", log)
	}
}

func TestUpdateUploadsLargeTemplateAndAsks(t *testing.T) {
	h := newHarness(t)
	tmpl := largeTemplate()
	sum := sha256.Sum256(tmpl)
	key := "tpl/" + hex.EncodeToString(sum[:]) + ".json"
	h.fake.
		on("DescribeStacks", stackIn(types.StackStatusUpdateRollbackComplete), stackIn(types.StackStatusUpdateComplete)).
		on("PutObject", ok[s3.PutObjectOutput]()).
		on("CreateChangeSet", created()).
		on("DescribeChangeSet", changeSet(types.ChangeSetStatusCreateComplete, "", "",
			modify("Role", "AWS::IAM::Role", types.ReplacementTrue, "RoleName!", "Description"))).
		on("ExecuteChangeSet", ok[cloudformation.ExecuteChangeSetOutput]()).
		on("DescribeStackEvents", events(""))
	var asked []string
	res := h.d.Deploy(context.Background(), Request{
		Stack: "backups", Template: tmpl, Bucket: &TemplateBucket{Bucket: "templates-{region}", Prefix: "tpl/"},
		Confirm: func(q string) (bool, error) { asked = append(asked, q); return true, nil },
	})
	if res.Err != nil || res.Outcome != Deployed {
		t.Fatalf("result %+v\nlog:\n%s", res, h.log.String())
	}
	wantCalls(t, h.fake, "DescribeStacks", "PutObject", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DescribeStacks", "DescribeStackEvents")
	put := inputOf[*s3.PutObjectInput](t, h.fake, "PutObject", 0)
	body, _ := io.ReadAll(put.Body)
	if aws.ToString(put.Bucket) != "templates-eu-central-1" || aws.ToString(put.Key) != key || string(body) != string(tmpl) || aws.ToString(put.ContentType) != "application/json" {
		t.Errorf("PutObject s3://%s/%s, %d bytes, %s", aws.ToString(put.Bucket), aws.ToString(put.Key), len(body), aws.ToString(put.ContentType))
	}
	in := inputOf[*cloudformation.CreateChangeSetInput](t, h.fake, "CreateChangeSet", 0)
	if in.ChangeSetType != types.ChangeSetTypeUpdate || in.TemplateBody != nil ||
		aws.ToString(in.TemplateURL) != "https://templates-eu-central-1.s3.eu-central-1.amazonaws.com/"+key {
		t.Errorf("CreateChangeSet: type %s, body set %v, url %s", in.ChangeSetType, in.TemplateBody != nil, aws.ToString(in.TemplateURL))
	}
	if diff := cmp.Diff([]string{"Execute change set ssm-backup-1767225600 on stack backups in eu-central-1?"}, asked); diff != "" {
		t.Errorf("question (-want +got):\n%s", diff)
	}
	wantOut := `Change set ssm-backup-1767225600 (UPDATE) for stack backups in eu-central-1: 1 change (1 to modify)
  ACTION  RESOURCE  TYPE            REPLACEMENT  CHANGED
  Modify  Role      AWS::IAM::Role  True         Description, RoleName (replaces)
`
	if diff := cmp.Diff(wantOut, h.out.String()); diff != "" {
		t.Errorf("change set (-want +got):\n%s", diff)
	}
	if !strings.Contains(h.log.String(), "uploaded the template ("+strconv.Itoa(len(tmpl))+" bytes) to s3://templates-eu-central-1/"+key) {
		t.Errorf("log:\n%s", h.log.String())
	}
}

func TestReviewInProgressStackIsCreated(t *testing.T) {
	h := newHarness(t)
	h.fake.
		on("DescribeStacks", stackIn(types.StackStatusReviewInProgress)).
		on("CreateChangeSet", created()).
		on("DescribeChangeSet", changeSet(types.ChangeSetStatusCreateComplete, "", "", add("A", "AWS::SSM::Document"))).
		on("DeleteChangeSet", ok[cloudformation.DeleteChangeSetOutput]())
	res := h.d.Deploy(context.Background(), Request{Stack: "backups", Template: smallTemplate, DryRun: true})
	if res.Outcome != DryRun || res.Err != nil {
		t.Fatalf("result %+v", res)
	}
	if in := inputOf[*cloudformation.CreateChangeSetInput](t, h.fake, "CreateChangeSet", 0); in.ChangeSetType != types.ChangeSetTypeCreate {
		t.Errorf("change set type %s, want CREATE", in.ChangeSetType)
	}
	wantCalls(t, h.fake, "DescribeStacks", "CreateChangeSet", "DescribeChangeSet", "DeleteChangeSet")
	if del := inputOf[*cloudformation.DeleteChangeSetInput](t, h.fake, "DeleteChangeSet", 0); aws.ToString(del.ChangeSetName) != csID {
		t.Errorf("deleted %q", aws.ToString(del.ChangeSetName))
	}
	if !strings.Contains(h.log.String(), "stays in REVIEW_IN_PROGRESS") {
		t.Errorf("log:\n%s", h.log.String())
	}
}

func TestNoChangesIsSuccess(t *testing.T) {
	for _, reason := range []string{
		"The submitted information didn't contain changes. Submit different information to create a change set.",
		"No updates are to be performed.",
	} {
		h := newHarness(t)
		h.fake.
			on("DescribeStacks", stackIn(types.StackStatusUpdateComplete)).
			on("CreateChangeSet", created()).
			on("DescribeChangeSet", changeSet(types.ChangeSetStatusFailed, reason, "")).
			on("DeleteChangeSet", ok[cloudformation.DeleteChangeSetOutput]())
		res := h.d.Deploy(context.Background(), Request{Stack: "backups", Template: smallTemplate})
		if res.Outcome != NoChanges || res.Err != nil {
			t.Fatalf("%q: result %+v", reason, res)
		}
		wantCalls(t, h.fake, "DescribeStacks", "CreateChangeSet", "DescribeChangeSet", "DeleteChangeSet")
		if h.out.Len() != 0 || !strings.Contains(h.log.String(), "no changes") {
			t.Errorf("out %q log %q", h.out.String(), h.log.String())
		}
	}
}

func TestFailedChangeSetIsReportedAndDeleted(t *testing.T) {
	h := newHarness(t)
	h.fake.
		on("DescribeStacks", stackIn(types.StackStatusUpdateComplete)).
		on("CreateChangeSet", created()).
		on("DescribeChangeSet", changeSet(types.ChangeSetStatusFailed, "Template format error: Unresolved resource dependencies [Gone] in the Resources block of the template", "")).
		on("DeleteChangeSet", ok[cloudformation.DeleteChangeSetOutput]())
	res := h.d.Deploy(context.Background(), Request{Stack: "backups", Template: smallTemplate})
	if res.Outcome != Failed || !IsKind(res.Err, KindChangeSet) || !strings.Contains(res.Err.Error(), "Unresolved resource dependencies [Gone]") {
		t.Fatalf("result %+v", res)
	}
	wantCalls(t, h.fake, "DescribeStacks", "CreateChangeSet", "DescribeChangeSet", "DeleteChangeSet")
}

func TestStackStatesThatCannotBeUpdated(t *testing.T) {
	for status, want := range map[types.StackStatus]string{
		types.StackStatusRollbackComplete:         "aws cloudformation delete-stack --stack-name backups --region eu-central-1",
		types.StackStatusRollbackFailed:           "delete-stack",
		types.StackStatusUpdateRollbackFailed:     "aws cloudformation continue-update-rollback --stack-name backups --region eu-central-1",
		types.StackStatusDeleteFailed:             "--retain-resources",
		types.StackStatusUpdateInProgress:         "another operation on it is under way",
		types.StackStatusCreateInProgress:         "wait until it ends",
		types.StackStatusUpdateRollbackInProgress: "another operation",
	} {
		h := newHarness(t)
		h.fake.on("DescribeStacks", stackIn(status))
		res := h.d.Deploy(context.Background(), Request{Stack: "backups", Template: smallTemplate})
		if res.Outcome != Failed || !IsKind(res.Err, KindStackState) || !strings.Contains(res.Err.Error(), string(status)) || !strings.Contains(res.Err.Error(), want) {
			t.Errorf("%s: %v", status, res.Err)
		}
		wantCalls(t, h.fake, "DescribeStacks")
	}
}

func TestDeclinedChangeSetIsDeleted(t *testing.T) {
	h := newHarness(t)
	h.fake.
		on("DescribeStacks", stackIn(types.StackStatusUpdateComplete)).
		on("CreateChangeSet", created()).
		on("DescribeChangeSet", changeSet(types.ChangeSetStatusCreateComplete, "", "", add("A", "AWS::SSM::Document"))).
		on("DeleteChangeSet", ok[cloudformation.DeleteChangeSetOutput]())
	res := h.d.Deploy(context.Background(), Request{Stack: "backups", Template: smallTemplate, Confirm: func(string) (bool, error) { return false, nil }})
	if res.Outcome != Declined || res.Err != nil {
		t.Fatalf("result %+v", res)
	}
	wantCalls(t, h.fake, "DescribeStacks", "CreateChangeSet", "DescribeChangeSet", "DeleteChangeSet")
}

func TestConfirmErrorDeletesChangeSet(t *testing.T) {
	h := newHarness(t)
	h.fake.
		on("DescribeStacks", stackIn(types.StackStatusUpdateComplete)).
		on("CreateChangeSet", created()).
		on("DescribeChangeSet", changeSet(types.ChangeSetStatusCreateComplete, "", "", add("A", "AWS::SSM::Document"))).
		on("DeleteChangeSet", ok[cloudformation.DeleteChangeSetOutput]())
	ctx, cancel := context.WithCancel(context.Background())
	res := h.d.Deploy(ctx, Request{Stack: "backups", Template: smallTemplate, Confirm: func(string) (bool, error) { cancel(); return false, ctx.Err() }})
	if res.Outcome != Failed || !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("result %+v", res)
	}
	wantCalls(t, h.fake, "DescribeStacks", "CreateChangeSet", "DescribeChangeSet", "DeleteChangeSet")
}

func TestRollbackListsFailedResources(t *testing.T) {
	h := newHarness(t)
	tok := "ssm-backup-1767225600"
	h.fake.
		on("DescribeStacks", noStack(), stackIn(types.StackStatusRollbackComplete)).
		on("CreateChangeSet", created()).
		on("DescribeChangeSet", changeSet(types.ChangeSetStatusCreateComplete, "", "", add("WindowRole", "AWS::IAM::Role"), add("Profile", "AWS::IAM::InstanceProfile"))).
		on("ExecuteChangeSet", ok[cloudformation.ExecuteChangeSetOutput]()).
		// Dated before the local clock's start (a clock running ahead):
		// the token still claims them.
		on("DescribeStackEvents", events("",
			ev{"e6", "backups", "AWS::CloudFormation::Stack", types.ResourceStatusRollbackComplete, "", -time.Second, tok},
			ev{"e5", "WindowRole", "AWS::IAM::Role", types.ResourceStatusDeleteComplete, "", -2 * time.Second, tok},
			ev{"e4", "backups", "AWS::CloudFormation::Stack", types.ResourceStatusRollbackInProgress, "The following resource(s) failed to create: [WindowRole, Profile].", -3 * time.Second, tok},
			ev{"e3", "Profile", "AWS::IAM::InstanceProfile", types.ResourceStatusCreateFailed, "Resource creation cancelled", -4 * time.Second, tok},
			ev{"e2", "WindowRole", "AWS::IAM::Role", types.ResourceStatusCreateFailed, "Resource handler returned message: \"Role with name ssmb-web-window already exists.\"", -5 * time.Second, tok},
			ev{"e1", "backups", "AWS::CloudFormation::Stack", types.ResourceStatusCreateInProgress, "User Initiated", -6 * time.Second, tok},
			ev{"e0", "backups", "AWS::CloudFormation::Stack", types.ResourceStatus("REVIEW_IN_PROGRESS"), "User Initiated", -time.Minute, ""}))
	res := h.d.Deploy(context.Background(), Request{Stack: "backups", Template: smallTemplate})
	if res.Outcome != Failed || !IsKind(res.Err, KindStackFailed) || res.StackStatus != "ROLLBACK_COMPLETE" {
		t.Fatalf("result %+v", res)
	}
	want := []ResourceFailure{
		{"WindowRole", "AWS::IAM::Role", "CREATE_FAILED", "Resource handler returned message: \"Role with name ssmb-web-window already exists.\""},
		{"Profile", "AWS::IAM::InstanceProfile", "CREATE_FAILED", "Resource creation cancelled"},
	}
	if diff := cmp.Diff(want, res.Failures); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	log := h.log.String()
	for _, s := range []string{
		"stack backups ended in ROLLBACK_COMPLETE; failed resources:\n  WindowRole (AWS::IAM::Role) CREATE_FAILED: Resource handler returned message: \"Role with name ssmb-web-window already exists.\"\n  Profile (AWS::IAM::InstanceProfile) CREATE_FAILED: Resource creation cancelled\n",
	} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %q:\n%s", s, log)
		}
	}
	if strings.Contains(log, "REVIEW_IN_PROGRESS") {
		t.Errorf("an event from before the execution was printed:\n%s", log)
	}
	msg := res.Err.Error()
	for _, s := range []string{"creating it failed and CloudFormation rolled back", "first failure: WindowRole (AWS::IAM::Role)", "delete-stack --stack-name backups"} {
		if !strings.Contains(msg, s) {
			t.Errorf("error lacks %q: %s", s, msg)
		}
	}
}

func TestEventsArePagedUntilOlderOnes(t *testing.T) {
	h := newHarness(t)
	tok := "ssm-backup-1767225600"
	h.fake.
		on("DescribeStacks", stackIn(types.StackStatusUpdateComplete), stackIn(types.StackStatusUpdateComplete)).
		on("CreateChangeSet", created()).
		on("DescribeChangeSet", changeSet(types.ChangeSetStatusCreateComplete, "", "", add("A", "AWS::SSM::Document"))).
		on("ExecuteChangeSet", ok[cloudformation.ExecuteChangeSetOutput]()).
		on("DescribeStackEvents",
			events("next", ev{"e3", "backups", "AWS::CloudFormation::Stack", types.ResourceStatusUpdateComplete, "", 3 * time.Second, tok}),
			events("more", ev{"e2", "A", "AWS::SSM::Document", types.ResourceStatusCreateComplete, "", 2 * time.Second, ""},
				ev{"e0", "backups", "AWS::CloudFormation::Stack", types.ResourceStatusUpdateComplete, "", -time.Hour, "previous"}))
	res := h.d.Deploy(context.Background(), Request{Stack: "backups", Template: smallTemplate, Confirm: nil})
	if res.Outcome != Deployed {
		t.Fatalf("result %+v", res)
	}
	// The second page holds an older event: no third page is read.
	wantCalls(t, h.fake, "DescribeStacks", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DescribeStacks", "DescribeStackEvents", "DescribeStackEvents")
	if tok := inputOf[*cloudformation.DescribeStackEventsInput](t, h.fake, "DescribeStackEvents", 1).NextToken; aws.ToString(tok) != "next" {
		t.Errorf("second page asked with %v", aws.ToString(tok))
	}
	log := h.log.String()
	if i, j := strings.Index(log, "CREATE_COMPLETE"), strings.Index(log, "UPDATE_COMPLETE "); i < 0 || j < 0 || i > j || strings.Count(log, "UPDATE_COMPLETE ") != 1 {
		t.Errorf("events out of order or repeated:\n%s", log)
	}
}

func TestFollowingSurvivesThrottling(t *testing.T) {
	h := newHarness(t)
	h.fake.
		on("DescribeStacks", stackIn(types.StackStatusUpdateComplete), apiError("Throttling", "Rate exceeded"), stackIn(types.StackStatusUpdateComplete)).
		on("CreateChangeSet", created()).
		on("DescribeChangeSet", changeSet(types.ChangeSetStatusCreateComplete, "", "", add("A", "AWS::SSM::Document"))).
		on("ExecuteChangeSet", ok[cloudformation.ExecuteChangeSetOutput]()).
		on("DescribeStackEvents", events(""))
	res := h.d.Deploy(context.Background(), Request{Stack: "backups", Template: smallTemplate})
	if res.Outcome != Deployed {
		t.Fatalf("result %+v", res)
	}
	wantCalls(t, h.fake, "DescribeStacks", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DescribeStacks", "DescribeStacks", "DescribeStackEvents")
	if diff := cmp.Diff([]time.Duration{eventsMaxDelay}, h.sleeps); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
}

func TestInterruptedWhileFollowing(t *testing.T) {
	h := newHarness(t)
	h.fake.
		on("DescribeStacks", stackIn(types.StackStatusUpdateComplete), stackIn(types.StackStatusUpdateInProgress)).
		on("CreateChangeSet", created()).
		on("DescribeChangeSet", changeSet(types.ChangeSetStatusCreateComplete, "", "", add("A", "AWS::SSM::Document"))).
		on("ExecuteChangeSet", ok[cloudformation.ExecuteChangeSetOutput]()).
		on("DescribeStackEvents", events(""))
	ctx, cancel := context.WithCancel(context.Background())
	h.d.Sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	res := h.d.Deploy(ctx, Request{Stack: "backups", Template: smallTemplate})
	if res.Outcome != Failed || !strings.Contains(res.Err.Error(), "the stack operation goes on in CloudFormation") {
		t.Fatalf("result %+v", res)
	}
}

func TestChangeSetDeadline(t *testing.T) {
	h := newHarness(t)
	h.fake.on("DescribeStacks", stackIn(types.StackStatusUpdateComplete)).on("CreateChangeSet", created())
	h.fake.always("DescribeChangeSet", changeSet(types.ChangeSetStatusCreateInProgress, "", ""))
	res := h.d.Deploy(context.Background(), Request{Stack: "backups", Template: smallTemplate})
	if !IsKind(res.Err, KindChangeSet) || !strings.Contains(res.Err.Error(), "still CREATE_IN_PROGRESS after 15m0s") {
		t.Fatalf("result %+v", res)
	}
	var total time.Duration
	for _, s := range h.sleeps {
		if s > changeSetMaxDelay {
			t.Errorf("slept %s, more than %s", s, changeSetMaxDelay)
		}
		total += s
	}
	if total < changeSetDeadline {
		t.Errorf("gave up after %s", total)
	}
}

func TestTemplateTooLargeWithoutBucketSendsNothing(t *testing.T) {
	h := newHarness(t)
	res := h.d.Deploy(context.Background(), Request{Stack: "backups", Template: largeTemplate()})
	if !IsKind(res.Err, KindTemplate) || !strings.Contains(res.Err.Error(), "51200 bytes") || !strings.Contains(res.Err.Error(), "--s3-bucket") {
		t.Fatalf("result %+v", res)
	}
	wantCalls(t, h.fake)
}

func TestAccessDeniedNamesTheAction(t *testing.T) {
	h := newHarness(t)
	h.fake.
		on("DescribeStacks", stackIn(types.StackStatusUpdateComplete)).
		on("CreateChangeSet", apiError("AccessDenied", "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: cloudformation:CreateChangeSet"))
	res := h.d.Deploy(context.Background(), Request{Stack: "backups", Template: smallTemplate})
	var e *Error
	if !errors.As(res.Err, &e) || e.Kind != KindAccessDenied || e.Action != "cloudformation:CreateChangeSet" ||
		!strings.Contains(e.Error(), "access denied to cloudformation:CreateChangeSet: User: arn:aws:iam::123456789012:user/ci is not authorized") ||
		!strings.Contains(e.Error(), "--print-deployer-policy") {
		t.Fatalf("error %v", res.Err)
	}
}
