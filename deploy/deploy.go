package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
)

// ChangeSetPrefix starts the name of every change set a deploy creates; the
// deployer policy allows change sets of this name only.
const ChangeSetPrefix = "ssm-backup-"

// Outcome is how a deploy to one region ended.
type Outcome int

const (
	// Failed: nothing was changed, or the stack operation failed (and
	// CloudFormation rolled it back).
	Failed Outcome = iota
	// Deployed: the change set ran and the stack is complete.
	Deployed
	// NoChanges: the stack already matches the template.
	NoChanges
	// DryRun: the change set was shown and deleted.
	DryRun
	// Declined: the change set was shown, not confirmed, and deleted.
	Declined
)

// Request is what to deploy.
type Request struct {
	Stack string
	// Template is the template's bytes, as sent (see CompactTemplate).
	Template []byte
	// Bucket stages templates larger than InlineLimit; nil sends the
	// template inline.
	Bucket *TemplateBucket
	// DryRun shows the change set and deletes it.
	DryRun bool
	// Confirm is asked before the change set is executed; nil executes it
	// without asking (--yes).
	Confirm func(question string) (bool, error)
}

// Deployer runs the change-set flow in one region.
type Deployer struct {
	Clients *Clients
	// Out receives the change set, the one thing a reviewer reads.
	Out io.Writer
	// Log receives progress: what is being done, and the stack events.
	Log io.Writer
	// Now is the clock: it names change sets and dates the execution.
	Now func() time.Time
	// Sleep waits between polls; it returns early with ctx's error.
	Sleep func(ctx context.Context, d time.Duration) error
}

// ResourceFailure is a resource CloudFormation failed to change.
type ResourceFailure struct {
	LogicalID string
	Type      string
	Status    string
	Reason    string
}

// Result is how the deploy to one region went.
type Result struct {
	Region    string
	Stack     string
	ChangeSet string
	Outcome   Outcome
	// StackStatus is the stack's status at the end, when it was executed.
	StackStatus string
	Failures    []ResourceFailure
	// Err says why the deploy failed; nil unless Outcome is Failed.
	Err error
}

// Summary is the result in one line.
func (r *Result) Summary() string {
	switch r.Outcome {
	case Deployed:
		return fmt.Sprintf("deployed stack %s (%s)", r.Stack, r.StackStatus)
	case NoChanges:
		return fmt.Sprintf("stack %s is up to date: no changes", r.Stack)
	case DryRun:
		return fmt.Sprintf("dry run: change set %s shown and deleted, nothing executed", r.ChangeSet)
	case Declined:
		return fmt.Sprintf("not executed: change set %s declined and deleted", r.ChangeSet)
	}
	if r.Err != nil {
		return "FAILED: " + r.Err.Error()
	}
	return "FAILED"
}

// Polling: change sets are usually ready in seconds, stack operations take
// minutes. Delays grow to a ceiling; only the change set has a deadline,
// since a stack operation ends by itself.
const (
	changeSetFirstDelay = time.Second
	changeSetMaxDelay   = 10 * time.Second
	changeSetDeadline   = 15 * time.Minute
	eventsFirstDelay    = 2 * time.Second
	eventsMaxDelay      = 10 * time.Second
	maxEventPages       = 50
	maxPollThrottles    = 10
)

// Deploy creates a change set for the template, shows it, executes it unless
// it is a dry run or not confirmed, and follows the stack to its end.
func (d *Deployer) Deploy(ctx context.Context, req Request) *Result {
	res := &Result{Region: d.Clients.Region, Stack: req.Stack}
	if err := d.deploy(ctx, req, res); err != nil {
		res.Outcome = Failed
		res.Err = err
	}
	return res
}

func (d *Deployer) deploy(ctx context.Context, req Request, res *Result) error {
	cfn := d.Clients.CloudFormation
	region := d.Clients.Region
	if err := CheckTemplateSize(len(req.Template), req.Bucket != nil); err != nil {
		return err
	}
	name := ChangeSetPrefix + strconv.FormatInt(d.now().Unix(), 10)
	res.ChangeSet = name

	stack, err := d.describeStack(ctx, req.Stack)
	if err != nil {
		return err
	}
	csType := types.ChangeSetTypeUpdate
	switch {
	case stack == nil:
		csType = types.ChangeSetTypeCreate
		d.logf("%s: stack %s does not exist yet; creating change set %s to create it\n", region, req.Stack, name)
	case stack.StackStatus == types.StackStatusReviewInProgress:
		csType = types.ChangeSetTypeCreate
		d.logf("%s: stack %s is in REVIEW_IN_PROGRESS (created by a change set never executed); creating change set %s to create it\n", region, req.Stack, name)
	default:
		if err := checkUpdatable(req.Stack, region, stack.StackStatus); err != nil {
			return err
		}
		d.logf("%s: stack %s is %s; creating change set %s to update it\n", region, req.Stack, stack.StackStatus, name)
	}

	in := &cloudformation.CreateChangeSetInput{
		StackName:     aws.String(req.Stack),
		ChangeSetName: aws.String(name),
		ChangeSetType: csType,
		// The template names its IAM roles and policies.
		Capabilities: []types.Capability{types.CapabilityCapabilityNamedIam},
		// Safe retries: CloudFormation does not create a second change set
		// for a request it has already seen.
		ClientToken: aws.String(name),
		Description: aws.String("ssm-backup deploy"),
	}
	if len(req.Template) > InlineLimit {
		s3url, templateURL, err := req.Bucket.upload(ctx, d.Clients, req.Template)
		if err != nil {
			return err
		}
		d.logf("%s: uploaded the template (%d bytes) to %s\n", region, len(req.Template), s3url)
		in.TemplateURL = aws.String(templateURL)
	} else {
		in.TemplateBody = aws.String(string(req.Template))
	}
	created, err := cfn.CreateChangeSet(ctx, in)
	if err != nil {
		return explainCreate(err, name)
	}
	csID := aws.ToString(created.Id)
	if csID == "" {
		csID = name
	}
	stackID := aws.ToString(created.StackId)
	if stackID == "" {
		stackID = req.Stack
	}

	cs, err := d.waitChangeSet(ctx, csID, req.Stack)
	if err != nil {
		return err
	}
	if cs.Status == types.ChangeSetStatusFailed {
		reason := aws.ToString(cs.StatusReason)
		d.deleteChangeSet(ctx, csID, name, req.Stack)
		if isNoChanges(reason) {
			d.logf("%s: no changes: stack %s already matches the template; change set %s deleted\n", region, req.Stack, name)
			res.Outcome = NoChanges
			return nil
		}
		return &Error{Kind: KindChangeSet, Action: "cloudformation:CreateChangeSet",
			Message: fmt.Sprintf("CloudFormation could not create change set %s for stack %s: %s", name, req.Stack, reason),
			Hint:    "the change set was deleted; fix the cause and deploy again"}
	}

	PrintChangeSet(d.Out, fmt.Sprintf("Change set %s (%s) for stack %s in %s", name, csType, req.Stack, region), ResourceChanges(cs.Changes))

	if req.DryRun {
		d.deleteChangeSet(ctx, csID, name, req.Stack)
		d.logf("%s: dry run: change set %s deleted, nothing executed\n", region, name)
		if csType == types.ChangeSetTypeCreate {
			d.logf("%s: stack %s stays in REVIEW_IN_PROGRESS with no resources; the next deploy creates it\n", region, req.Stack)
		}
		res.Outcome = DryRun
		return nil
	}
	if req.Confirm != nil {
		ok, err := req.Confirm(fmt.Sprintf("Execute change set %s on stack %s in %s?", name, req.Stack, region))
		if err != nil {
			d.deleteChangeSet(ctx, csID, name, req.Stack)
			return err
		}
		if !ok {
			d.deleteChangeSet(ctx, csID, name, req.Stack)
			d.logf("%s: not executed; change set %s deleted\n", region, name)
			res.Outcome = Declined
			return nil
		}
	}

	start := d.now()
	if _, err := cfn.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{
		ChangeSetName:      aws.String(csID),
		ClientRequestToken: aws.String(name),
	}); err != nil {
		return Explain(err)
	}
	d.logf("%s: executing change set %s on stack %s\n", region, name, req.Stack)
	status, failures, err := d.follow(ctx, stackID, name, start)
	res.StackStatus = string(status)
	res.Failures = failures
	if err != nil {
		return err
	}
	if isSuccess(status) {
		res.Outcome = Deployed
		return nil
	}
	return d.stackFailed(req.Stack, region, status, failures)
}

func (d *Deployer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Deployer) sleep(ctx context.Context, delay time.Duration) error {
	if d.Sleep != nil {
		return d.Sleep(ctx, delay)
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (d *Deployer) logf(format string, args ...any) {
	if d.Log != nil {
		fmt.Fprintf(d.Log, format, args...)
	}
}

// describeStack returns the stack, or nil when there is none of that name.
func (d *Deployer) describeStack(ctx context.Context, name string) (*types.Stack, error) {
	out, err := d.Clients.CloudFormation.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "ValidationError" && strings.Contains(api.ErrorMessage(), "does not exist") {
			return nil, nil
		}
		return nil, Explain(err)
	}
	if len(out.Stacks) == 0 {
		return nil, nil
	}
	return &out.Stacks[0], nil
}

// checkUpdatable refuses the states a change set cannot start from, and says
// how the stack gets out of them.
func checkUpdatable(stack, region string, status types.StackStatus) error {
	s := string(status)
	cli := func(cmd string) string {
		return fmt.Sprintf("aws cloudformation %s --stack-name %s --region %s", cmd, stack, region)
	}
	switch {
	case status == types.StackStatusRollbackComplete:
		return errorf(KindStackState, "delete it ("+cli("delete-stack")+"), then deploy again",
			"stack %s is in ROLLBACK_COMPLETE: its creation failed and was rolled back, and such a stack cannot be updated", stack)
	case status == types.StackStatusRollbackFailed:
		return errorf(KindStackState, "delete it ("+cli("delete-stack")+"), then deploy again",
			"stack %s is in ROLLBACK_FAILED: its creation failed and so did the rollback", stack)
	case status == types.StackStatusUpdateRollbackFailed:
		return errorf(KindStackState, "fix the cause shown in the stack's events, continue the rollback ("+cli("continue-update-rollback")+"), then deploy again",
			"stack %s is in UPDATE_ROLLBACK_FAILED: an update failed and so did its rollback", stack)
	case status == types.StackStatusDeleteFailed:
		return errorf(KindStackState, "delete it again ("+cli("delete-stack")+", with --retain-resources for what cannot be deleted), then deploy again",
			"stack %s is in DELETE_FAILED", stack)
	case strings.HasSuffix(s, "_IN_PROGRESS"):
		return errorf(KindStackState, "wait until it ends (watch the stack's events in the console, or "+cli("describe-stacks")+"), then deploy again",
			"stack %s is in %s: another operation on it is under way", stack, s)
	}
	return nil
}

func explainCreate(err error, name string) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "AlreadyExistsException":
			return &Error{Kind: KindChangeSet, Action: "cloudformation:CreateChangeSet", Code: api.ErrorCode(),
				Message: fmt.Sprintf("a change set named %s already exists: %s", name, api.ErrorMessage()),
				Hint:    "another deploy started in the same second; wait a moment and deploy again", Err: err}
		case "InsufficientCapabilitiesException", "ValidationError", "LimitExceededException":
			return &Error{Kind: KindChangeSet, Action: "cloudformation:CreateChangeSet", Code: api.ErrorCode(),
				Message: fmt.Sprintf("CloudFormation refused change set %s: %s", name, api.ErrorMessage()), Err: err}
		}
	}
	return Explain(err)
}

// waitChangeSet polls until the change set is created or has failed, and
// returns it with all its changes.
func (d *Deployer) waitChangeSet(ctx context.Context, id, stack string) (*cloudformation.DescribeChangeSetOutput, error) {
	cfn := d.Clients.CloudFormation
	delay, waited := changeSetFirstDelay, time.Duration(0)
	for {
		out, err := cfn.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String(id), StackName: aws.String(stack)})
		if err != nil {
			return nil, Explain(err)
		}
		switch out.Status {
		case types.ChangeSetStatusCreateComplete:
			for next := out.NextToken; next != nil && *next != ""; {
				page, err := cfn.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String(id), StackName: aws.String(stack), NextToken: next})
				if err != nil {
					return nil, Explain(err)
				}
				out.Changes = append(out.Changes, page.Changes...)
				next = page.NextToken
			}
			out.NextToken = nil
			return out, nil
		case types.ChangeSetStatusFailed:
			return out, nil
		case types.ChangeSetStatusDeletePending, types.ChangeSetStatusDeleteInProgress, types.ChangeSetStatusDeleteComplete, types.ChangeSetStatusDeleteFailed:
			return nil, errorf(KindChangeSet, "", "change set %s was deleted (%s) while it was being created", id, out.Status)
		}
		if waited >= changeSetDeadline {
			return nil, errorf(KindChangeSet, "look at it in the CloudFormation console; deploy again later",
				"change set %s is still %s after %s", id, out.Status, changeSetDeadline)
		}
		if err := d.sleep(ctx, delay); err != nil {
			return nil, err
		}
		waited += delay
		delay = min(delay*2, changeSetMaxDelay)
	}
}

func isNoChanges(reason string) bool {
	return strings.Contains(reason, "didn't contain changes") ||
		strings.Contains(reason, "No updates are to be performed")
}

// deleteChangeSet removes a change set that will not be executed. A failure
// is reported and otherwise ignored: the change set does no harm, and the
// deploy's outcome does not depend on it.
func (d *Deployer) deleteChangeSet(ctx context.Context, csID, name, stack string) {
	if ctx.Err() != nil {
		// Interrupted while asking: still clean up, briefly.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
	}
	if _, err := d.Clients.CloudFormation.DeleteChangeSet(ctx, &cloudformation.DeleteChangeSetInput{ChangeSetName: aws.String(csID), StackName: aws.String(stack)}); err != nil {
		d.logf("%s: warning: could not delete change set %s: %s\n", d.Clients.Region, name, Explain(err))
	}
}

// follow prints the stack events of the execution, oldest first, until the
// stack reaches a status that is not *_IN_PROGRESS, and returns that status
// and the resources that failed.
//
// An event belongs to the execution when it carries the execution's client
// request token or is dated at or after its start; events are listed newest
// first, so reading stops at the first event that does not belong, or that
// was already printed.
func (d *Deployer) follow(ctx context.Context, stackID, token string, start time.Time) (types.StackStatus, []ResourceFailure, error) {
	cfn := d.Clients.CloudFormation
	seen := map[string]bool{}
	var failures []ResourceFailure
	delay, throttled := eventsFirstDelay, 0
	for {
		stacks, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stackID)})
		if err == nil && len(stacks.Stacks) == 0 {
			err = errorf(KindOther, "", "stack %s disappeared while it was being deployed", stackID)
		}
		var events []types.StackEvent
		if err == nil {
			events, err = d.newEvents(ctx, stackID, token, start, seen)
		}
		if err != nil {
			if ctx.Err() != nil {
				return "", failures, d.interrupted(ctx, stackID)
			}
			err = Explain(err)
			if IsKind(err, KindThrottled) && throttled < maxPollThrottles {
				// Following is only reading: keep at it, more slowly.
				throttled++
				delay = eventsMaxDelay
				if err := d.sleep(ctx, delay); err != nil {
					return "", failures, d.interrupted(ctx, stackID)
				}
				continue
			}
			return "", failures, err
		}
		for _, e := range events {
			d.printEvent(e)
			if strings.HasSuffix(string(e.ResourceStatus), "_FAILED") {
				failures = append(failures, ResourceFailure{
					LogicalID: aws.ToString(e.LogicalResourceId),
					Type:      aws.ToString(e.ResourceType),
					Status:    string(e.ResourceStatus),
					Reason:    aws.ToString(e.ResourceStatusReason),
				})
			}
		}
		status := stacks.Stacks[0].StackStatus
		if !strings.HasSuffix(string(status), "_IN_PROGRESS") {
			return status, failures, nil
		}
		if err := d.sleep(ctx, delay); err != nil {
			return status, failures, d.interrupted(ctx, stackID)
		}
		delay = min(delay*3/2, eventsMaxDelay)
	}
}

func (d *Deployer) interrupted(ctx context.Context, stackID string) error {
	return &Error{Kind: KindOther, Message: "stopped following stack " + stackID + ": " + ctx.Err().Error(),
		Hint: "the stack operation goes on in CloudFormation; follow it in the console", Err: ctx.Err()}
}

// newEvents returns the execution's events not seen yet, oldest first.
func (d *Deployer) newEvents(ctx context.Context, stackID, token string, start time.Time, seen map[string]bool) ([]types.StackEvent, error) {
	var fresh []types.StackEvent
	var next *string
	for range maxEventPages {
		out, err := d.Clients.CloudFormation.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stackID), NextToken: next})
		if err != nil {
			return nil, err
		}
		done := false
		for _, e := range out.StackEvents {
			id := aws.ToString(e.EventId)
			ours := aws.ToString(e.ClientRequestToken) == token || (e.Timestamp != nil && !e.Timestamp.Before(start))
			if !ours || seen[id] {
				done = true
				break
			}
			fresh = append(fresh, e)
		}
		if done || out.NextToken == nil || *out.NextToken == "" {
			break
		}
		next = out.NextToken
	}
	// Oldest first, each event once.
	var out []types.StackEvent
	for i := len(fresh) - 1; i >= 0; i-- {
		id := aws.ToString(fresh[i].EventId)
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, fresh[i])
	}
	return out, nil
}

func (d *Deployer) printEvent(e types.StackEvent) {
	ts := ""
	if e.Timestamp != nil {
		ts = e.Timestamp.UTC().Format("15:04:05")
	}
	line := fmt.Sprintf("%s: %s  %-20s %s (%s)", d.Clients.Region, ts, e.ResourceStatus, aws.ToString(e.LogicalResourceId), aws.ToString(e.ResourceType))
	if r := aws.ToString(e.ResourceStatusReason); r != "" {
		line += ": " + r
	}
	d.logf("%s\n", line)
}

func isSuccess(s types.StackStatus) bool {
	switch s {
	case types.StackStatusCreateComplete, types.StackStatusUpdateComplete, types.StackStatusImportComplete:
		return true
	}
	return false
}

// stackFailed lists the failed resources and says what the stack's end
// state means.
func (d *Deployer) stackFailed(stack, region string, status types.StackStatus, failures []ResourceFailure) error {
	if len(failures) > 0 {
		d.logf("%s: stack %s ended in %s; failed resources:\n", region, stack, status)
		for _, f := range failures {
			reason := f.Reason
			if reason == "" {
				reason = "(no reason given)"
			}
			d.logf("  %s (%s) %s: %s\n", f.LogicalID, f.Type, f.Status, reason)
		}
	}
	msg := fmt.Sprintf("stack %s ended in %s", stack, status)
	hint := "fix the cause and deploy again"
	switch status {
	case types.StackStatusRollbackComplete:
		msg += ": creating it failed and CloudFormation rolled back"
	case types.StackStatusUpdateRollbackComplete:
		msg += ": the update failed and CloudFormation rolled the stack back to what it was"
	}
	if err := checkUpdatable(stack, region, status); err != nil {
		var e *Error
		if errors.As(err, &e) {
			hint = e.Hint
		}
	}
	if len(failures) > 0 {
		first := failures[0]
		msg += fmt.Sprintf("; first failure: %s (%s): %s", first.LogicalID, first.Type, first.Reason)
	}
	return &Error{Kind: KindStackFailed, Message: msg, Hint: hint}
}
