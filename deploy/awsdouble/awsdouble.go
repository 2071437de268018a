// Package awsdouble is a scripted stand-in for the CloudFormation and S3
// APIs on 127.0.0.1, for tests that drive the real aws-sdk-go-v2 clients. It
// speaks CloudFormation's query protocol (form-encoded POST, XML responses,
// XML ErrorResponse) and S3's PutObject, records every request, and fails
// the test on any request it has no scripted response for.
package awsdouble

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Namespace of CloudFormation's XML responses.
const Namespace = "https://cloudformation.amazonaws.com/doc/2010-05-15/"

// Account is the account id in the ARNs the double makes.
const Account = "123456789012"

// Call is one request the double received.
type Call struct {
	// Service is the signing name: "cloudformation" or "s3".
	Service string
	// Action is the operation: "CreateChangeSet", "PutObject".
	Action string
	// Region is the region the request was signed for.
	Region string
	// Params are CloudFormation's form parameters.
	Params url.Values
	// Bucket, Key and Body are S3's.
	Bucket, Key string
	Body        []byte
	Header      http.Header
}

// Name is the action, prefixed by "s3:" for S3.
func (c Call) Name() string {
	if c.Service == "s3" {
		return "s3:" + c.Action
	}
	return c.Action
}

// Request is a call being answered, with the calls before it.
type Request struct {
	Call
	History []Call
}

// Last returns the latest earlier call of an action, if any.
func (r *Request) Last(name string) (Call, bool) {
	for i := len(r.History) - 1; i >= 0; i-- {
		if r.History[i].Name() == name {
			return r.History[i], true
		}
	}
	return Call{}, false
}

// Response is what the double answers.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Responder answers one call.
type Responder func(r *Request) Response

// Server is the double. Script it with On before the code under test runs.
type Server struct {
	URL string

	t      testing.TB
	mu     sync.Mutex
	queues map[string][]Responder
	calls  []Call
}

// New starts a double, closed when the test ends. When the test ends with
// responses never asked for, it fails.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, queues: map[string][]Responder{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = srv.URL
	t.Cleanup(func() {
		srv.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for name, q := range s.queues {
			if len(q) > 0 && !t.Failed() {
				t.Errorf("awsdouble: %d scripted %s %s never asked for; calls were %v", len(q), name, plural(len(q), "response was", "responses were"), s.namesLocked())
			}
		}
	})
	return s
}

// On queues responses to successive calls of an action ("DescribeStacks",
// "s3:PutObject").
func (s *Server) On(name string, rs ...Responder) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queues[name] = append(s.queues[name], rs...)
	return s
}

// Calls returns the calls received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Names returns the names of the calls received so far, in order.
func (s *Server) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.namesLocked()
}

func (s *Server) namesLocked() []string {
	var out []string
	for _, c := range s.calls {
		out = append(out, c.Name())
	}
	return out
}

// SetEnv points the SDK's configuration chain at the double for the rest of
// the test: static fake credentials, no shared files, no instance metadata,
// and the service endpoints overridden. AWS_REGION is left to the test.
func (s *Server) SetEnv(t testing.TB) {
	t.Helper()
	SetIsolatedEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDDOUBLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "double-secret")
	t.Setenv("AWS_SESSION_TOKEN", "double-session")
	t.Setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", s.URL)
	t.Setenv("AWS_ENDPOINT_URL_S3", s.URL)
}

// SetIsolatedEnv clears every AWS setting the test machine may have, so
// that nothing reaches real AWS: no credentials, no shared files, no
// profile, no instance metadata, no endpoint, no region.
func SetIsolatedEnv(t testing.TB) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDFORMATION",
		"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
	} {
		// Setenv restores the variable when the test ends; Unsetenv
		// removes it until then (the SDK tells unset from empty).
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

var credentialScope = regexp.MustCompile(`Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.t.Errorf("awsdouble: reading request: %v", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	c := Call{Header: r.Header.Clone()}
	m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		s.t.Errorf("awsdouble: unsigned request %s %s", r.Method, r.URL.Path)
		writeResponse(w, queryError(http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token"))
		return
	}
	c.Region, c.Service = m[1], m[2]
	switch c.Service {
	case "cloudformation":
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			s.t.Errorf("awsdouble: CloudFormation request %s %s with Content-Type %q is not the query protocol", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		c.Params, err = url.ParseQuery(string(body))
		if err != nil {
			s.t.Errorf("awsdouble: form body: %v", err)
		}
		c.Action = c.Params.Get("Action")
		if v := c.Params.Get("Version"); v != "2010-05-15" {
			s.t.Errorf("awsdouble: %s with Version %q, want 2010-05-15", c.Action, v)
		}
	case "s3":
		parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
		c.Bucket = parts[0]
		if len(parts) == 2 {
			c.Key = parts[1]
		}
		switch {
		case r.Method == http.MethodPut && c.Key != "" && (r.URL.RawQuery == "" || r.URL.RawQuery == "x-id=PutObject"):
			c.Action = "PutObject"
		default:
			c.Action = r.Method + " " + r.URL.RequestURI()
		}
		c.Body = body
		if strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
			if c.Body, err = decodeChunked(body); err != nil {
				s.t.Errorf("awsdouble: aws-chunked body: %v", err)
			}
		}
	default:
		c.Action = r.Method + " " + r.URL.Path
	}

	s.mu.Lock()
	req := &Request{Call: c, History: append([]Call(nil), s.calls...)}
	s.calls = append(s.calls, c)
	q := s.queues[c.Name()]
	var respond Responder
	if len(q) > 0 {
		respond, s.queues[c.Name()] = q[0], q[1:]
	}
	names := s.namesLocked()
	s.mu.Unlock()

	if respond == nil {
		s.t.Errorf("awsdouble: unexpected call %s in %s (calls: %v)", c.Name(), c.Region, names)
		if c.Service == "s3" {
			writeResponse(w, S3Error(http.StatusBadRequest, "UnexpectedCall", "the test did not expect this call"))
		} else {
			writeResponse(w, queryError(http.StatusBadRequest, "UnexpectedCall", "the test did not expect "+c.Name()))
		}
		return
	}
	writeResponse(w, respond(req))
}

func writeResponse(w http.ResponseWriter, resp Response) {
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if resp.Body != "" && w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "text/xml")
	}
	w.Header().Set("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, resp.Body)
}

// decodeChunked undoes aws-chunked content encoding: hex sizes (with
// optional chunk signatures), data, and trailers after the last chunk.
func decodeChunked(b []byte) ([]byte, error) {
	var out bytes.Buffer
	for {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			return nil, fmt.Errorf("no chunk header")
		}
		head := string(b[:i])
		if j := strings.IndexByte(head, ';'); j >= 0 {
			head = head[:j]
		}
		n, err := strconv.ParseInt(strings.TrimSpace(head), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("chunk size %q: %v", head, err)
		}
		b = b[i+2:]
		if n == 0 {
			return out.Bytes(), nil
		}
		if int64(len(b)) < n+2 {
			return nil, fmt.Errorf("short chunk")
		}
		out.Write(b[:n])
		b = b[n+2:]
	}
}

// --- CloudFormation responses ---

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// queryResult wraps a result in <ActionResponse><ActionResult>.
func queryResult(action string, result any) Response {
	type envelope struct {
		XMLName xml.Name
		Xmlns   string `xml:"xmlns,attr"`
		Result  any
		Meta    responseMetadata `xml:"ResponseMetadata"`
	}
	type empty struct {
		XMLName xml.Name
	}
	if result == nil {
		result = empty{XMLName: xml.Name{Local: action + "Result"}}
	}
	env := envelope{XMLName: xml.Name{Local: action + "Response"}, Xmlns: Namespace, Result: result, Meta: responseMetadata{RequestID: "req-" + action}}
	b, err := xml.Marshal(env)
	if err != nil {
		panic(err)
	}
	return Response{Body: xml.Header + string(b)}
}

func queryError(status int, code, message string) Response {
	type errorXML struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	type envelope struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Error     errorXML `xml:"Error"`
		RequestID string   `xml:"RequestId"`
	}
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	b, err := xml.Marshal(envelope{Xmlns: Namespace, Error: errorXML{Type: kind, Code: code, Message: message}, RequestID: "req-error"})
	if err != nil {
		panic(err)
	}
	return Response{Status: status, Body: xml.Header + string(b)}
}

// Error answers with a CloudFormation error.
func Error(status int, code, message string) Responder {
	return func(*Request) Response { return queryError(status, code, message) }
}

// StackARN is the ARN the double gives a stack.
func StackARN(region, name string) string {
	return fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/11111111-2222-3333-4444-555555555555", region, Account, name)
}

// ChangeSetARN is the ARN the double gives a change set.
func ChangeSetARN(region, name string) string {
	return fmt.Sprintf("arn:aws:cloudformation:%s:%s:changeSet/%s/66666666-7777-8888-9999-000000000000", region, Account, name)
}

// StackNotFound answers DescribeStacks as CloudFormation does for a stack
// that does not exist.
func StackNotFound() Responder {
	return func(r *Request) Response {
		return queryError(http.StatusBadRequest, "ValidationError", "Stack with id "+r.Params.Get("StackName")+" does not exist")
	}
}

// Stack answers DescribeStacks with one stack in a status. The stack's name
// is the one asked for, or its name in the ARN asked for.
func Stack(status string) Responder {
	return func(r *Request) Response {
		name := r.Params.Get("StackName")
		if strings.HasPrefix(name, "arn:") {
			name = strings.Split(name, "/")[1]
		}
		type stack struct {
			StackName    string `xml:"StackName"`
			StackID      string `xml:"StackId"`
			StackStatus  string `xml:"StackStatus"`
			CreationTime string `xml:"CreationTime"`
		}
		type result struct {
			XMLName xml.Name `xml:"DescribeStacksResult"`
			Stacks  []stack  `xml:"Stacks>member"`
		}
		return queryResult("DescribeStacks", result{Stacks: []stack{{
			StackName: name, StackID: StackARN(r.Region, name), StackStatus: status, CreationTime: "2026-01-01T00:00:00Z",
		}}})
	}
}

// ChangeSetCreated answers CreateChangeSet with the ARNs of the change set
// and stack asked for.
func ChangeSetCreated() Responder {
	return func(r *Request) Response {
		type result struct {
			XMLName xml.Name `xml:"CreateChangeSetResult"`
			ID      string   `xml:"Id"`
			StackID string   `xml:"StackId"`
		}
		return queryResult("CreateChangeSet", result{
			ID:      ChangeSetARN(r.Region, r.Params.Get("ChangeSetName")),
			StackID: StackARN(r.Region, r.Params.Get("StackName")),
		})
	}
}

// Change is one resource change of a change set.
type Change struct {
	Action      string // Add, Modify, Remove
	LogicalID   string
	Type        string
	Replacement string // True, False, Conditional; Modify only
	Details     []Detail
}

// Detail is one changed attribute of a resource change.
type Detail struct {
	Attribute          string // Properties, Tags
	Name               string
	RequiresRecreation string // Never, Conditionally, Always
}

// ChangeSetPage describes a change set: its status, its reason, and one page
// of its changes; next, when not empty, is the NextToken of another page.
func ChangeSetPage(status, reason, next string, changes ...Change) Responder {
	return func(r *Request) Response {
		type target struct {
			Attribute          string `xml:"Attribute,omitempty"`
			Name               string `xml:"Name,omitempty"`
			RequiresRecreation string `xml:"RequiresRecreation,omitempty"`
		}
		type detail struct {
			Target target `xml:"Target"`
		}
		type resourceChange struct {
			Action            string   `xml:"Action"`
			LogicalResourceID string   `xml:"LogicalResourceId"`
			ResourceType      string   `xml:"ResourceType"`
			Replacement       string   `xml:"Replacement,omitempty"`
			Details           []detail `xml:"Details>member"`
		}
		type change struct {
			Type           string         `xml:"Type"`
			ResourceChange resourceChange `xml:"ResourceChange"`
		}
		type result struct {
			XMLName         xml.Name `xml:"DescribeChangeSetResult"`
			ChangeSetName   string   `xml:"ChangeSetName"`
			ChangeSetID     string   `xml:"ChangeSetId"`
			StackName       string   `xml:"StackName"`
			StackID         string   `xml:"StackId"`
			Status          string   `xml:"Status"`
			StatusReason    string   `xml:"StatusReason,omitempty"`
			ExecutionStatus string   `xml:"ExecutionStatus"`
			Capabilities    []string `xml:"Capabilities>member"`
			Changes         []change `xml:"Changes>member"`
			NextToken       string   `xml:"NextToken,omitempty"`
		}
		arn := r.Params.Get("ChangeSetName")
		name := arn
		if strings.HasPrefix(arn, "arn:") {
			name = strings.Split(arn, "/")[1]
		}
		exec := "UNAVAILABLE"
		if status == "CREATE_COMPLETE" {
			exec = "AVAILABLE"
		}
		res := result{
			ChangeSetName: name, ChangeSetID: arn, StackName: r.Params.Get("StackName"),
			StackID: StackARN(r.Region, r.Params.Get("StackName")), Status: status, StatusReason: reason,
			ExecutionStatus: exec, Capabilities: []string{"CAPABILITY_NAMED_IAM"}, NextToken: next,
		}
		for _, c := range changes {
			rc := resourceChange{Action: c.Action, LogicalResourceID: c.LogicalID, ResourceType: c.Type, Replacement: c.Replacement}
			for _, d := range c.Details {
				rc.Details = append(rc.Details, detail{Target: target{Attribute: d.Attribute, Name: d.Name, RequiresRecreation: d.RequiresRecreation}})
			}
			res.Changes = append(res.Changes, change{Type: "Resource", ResourceChange: rc})
		}
		return queryResult("DescribeChangeSet", res)
	}
}

// ChangeSet describes a change set with all its changes on one page.
func ChangeSet(status, reason string, changes ...Change) Responder {
	return ChangeSetPage(status, reason, "", changes...)
}

// OK answers an action whose result is empty (ExecuteChangeSet,
// DeleteChangeSet).
func OK(action string) Responder {
	return func(*Request) Response { return queryResult(action, nil) }
}

// Event is a stack event.
type Event struct {
	ID        string
	LogicalID string
	Type      string
	Status    string
	Reason    string
	Time      time.Time
	// Token is the event's ClientRequestToken. ExecutionToken stands for
	// the token of the latest ExecuteChangeSet call.
	Token string
}

// ExecutionToken in Event.Token is replaced by the ClientRequestToken of the
// latest ExecuteChangeSet call.
const ExecutionToken = "<execution>"

// Events answers DescribeStackEvents with events, which must be newest
// first as CloudFormation lists them; next, when not empty, is the
// NextToken of another page.
func Events(next string, events ...Event) Responder {
	return func(r *Request) Response {
		type event struct {
			StackID              string `xml:"StackId"`
			EventID              string `xml:"EventId"`
			StackName            string `xml:"StackName"`
			LogicalResourceID    string `xml:"LogicalResourceId"`
			PhysicalResourceID   string `xml:"PhysicalResourceId,omitempty"`
			ResourceType         string `xml:"ResourceType"`
			Timestamp            string `xml:"Timestamp"`
			ResourceStatus       string `xml:"ResourceStatus"`
			ResourceStatusReason string `xml:"ResourceStatusReason,omitempty"`
			ClientRequestToken   string `xml:"ClientRequestToken,omitempty"`
		}
		type result struct {
			XMLName     xml.Name `xml:"DescribeStackEventsResult"`
			StackEvents []event  `xml:"StackEvents>member"`
			NextToken   string   `xml:"NextToken,omitempty"`
		}
		stackID := r.Params.Get("StackName")
		name := stackID
		if strings.HasPrefix(stackID, "arn:") {
			name = strings.Split(stackID, "/")[1]
		}
		execToken := ""
		if c, ok := r.Last("ExecuteChangeSet"); ok {
			execToken = c.Params.Get("ClientRequestToken")
		}
		res := result{NextToken: next}
		for _, e := range events {
			token := e.Token
			if token == ExecutionToken {
				token = execToken
			}
			res.StackEvents = append(res.StackEvents, event{
				StackID: stackID, EventID: e.ID, StackName: name, LogicalResourceID: e.LogicalID,
				ResourceType: e.Type, Timestamp: e.Time.UTC().Format(time.RFC3339Nano), ResourceStatus: e.Status,
				ResourceStatusReason: e.Reason, ClientRequestToken: token,
			})
		}
		return queryResult("DescribeStackEvents", res)
	}
}

// --- S3 responses ---

// PutObjectOK answers PutObject.
func PutObjectOK() Responder {
	return func(*Request) Response {
		return Response{Header: http.Header{"Etag": {`"0123456789abcdef"`}}}
	}
}

// S3Error is an S3 error response.
func S3Error(status int, code, message string) Response {
	type errorXML struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string   `xml:"Code"`
		Message   string   `xml:"Message"`
		RequestID string   `xml:"RequestId"`
	}
	b, err := xml.Marshal(errorXML{Code: code, Message: message, RequestID: "req-s3-error"})
	if err != nil {
		panic(err)
	}
	return Response{Status: status, Header: http.Header{"Content-Type": {"application/xml"}}, Body: xml.Header + string(b)}
}

// S3Fails answers an S3 call with an error.
func S3Fails(status int, code, message string) Responder {
	return func(*Request) Response { return S3Error(status, code, message) }
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
