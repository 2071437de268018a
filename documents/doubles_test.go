package documents

// Local doubles for the execution harness: instance metadata (IMDSv2) and the
// EC2 Query API, both on 127.0.0.1. The EC2 double records every request,
// checks its SigV4 signature, and can probe whether the harness's file
// systems are frozen while it serves the request.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testInstanceID = "i-0123456789abcdef0"
	testRegion     = "eu-west-1"
	testRoleName   = "ssmb-test-role"
)

// awsCredentials are a key pair and session token as IMDS or the environment hand them out.
type awsCredentials struct{ AccessKeyID, SecretAccessKey, SessionToken string }

var (
	roleCredentials = awsCredentials{
		AccessKeyID:     "ASIAIMDSROLE0000TEST",
		SecretAccessKey: "imdsRoleSecret/0123456789+abcdefghijklmnop",
		SessionToken:    "IQoJb3JpZ2luX2VjEIMDSROLE/TOKEN+0123456789abcdefABCDEF==",
	}
	envCredentials = awsCredentials{
		AccessKeyID:     "ASIAENVIRONMENTTEST0",
		SecretAccessKey: "envSecret/abcdefghijklmnop+0123456789ABCD",
		SessionToken:    "IQoJb3JpZ2luX2VjEENVIRONMENT/TOKEN+abcdef0123456789==",
	}
)

// ---------------------------------------------------------------------------
// Instance metadata.

type imdsRequest struct {
	At       time.Time
	Method   string
	Path     string
	HadToken bool
}

type imdsDouble struct {
	URL string

	mu           sync.Mutex
	token        string
	credentials  *awsCredentials   // nil: the instance has no role
	blockDevices map[string]string // block-device-mapping name → device
	requests     []imdsRequest
}

func newIMDSDouble(t testing.TB) *imdsDouble {
	t.Helper()
	creds := roleCredentials
	d := &imdsDouble{token: "imds-token-" + fmt.Sprint(time.Now().UnixNano()), credentials: &creds, blockDevices: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

func (d *imdsDouble) setCredentials(c *awsCredentials) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.credentials = c
}

func (d *imdsDouble) setBlockDevices(m map[string]string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.blockDevices = m
}

func (d *imdsDouble) requestLog() []imdsRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]imdsRequest(nil), d.requests...)
}

func (d *imdsDouble) serve(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	hadToken := r.Header.Get("X-aws-ec2-metadata-token") == d.token
	d.requests = append(d.requests, imdsRequest{At: time.Now(), Method: r.Method, Path: r.URL.Path, HadToken: hadToken})

	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut || r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			http.Error(w, "token needs PUT with a TTL header", http.StatusBadRequest)
			return
		}
		io.WriteString(w, d.token)
		return
	}
	if r.Method != http.MethodGet || !hadToken {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/latest/meta-data/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch {
	case path == "instance-id":
		io.WriteString(w, testInstanceID)
	case path == "placement/region":
		io.WriteString(w, testRegion)
	case path == "iam/security-credentials/" && d.credentials != nil:
		io.WriteString(w, testRoleName)
	case path == "iam/security-credentials/"+testRoleName && d.credentials != nil:
		fmt.Fprintf(w, `{
  "Code" : "Success",
  "LastUpdated" : "2024-01-01T00:00:00Z",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : %q,
  "SecretAccessKey" : %q,
  "Token" : %q,
  "Expiration" : "2099-01-01T06:00:00Z"
}`, d.credentials.AccessKeyID, d.credentials.SecretAccessKey, d.credentials.SessionToken)
	case path == "block-device-mapping/" && len(d.blockDevices) > 0:
		names := make([]string, 0, len(d.blockDevices))
		for n := range d.blockDevices {
			names = append(names, n)
		}
		sort.Strings(names)
		io.WriteString(w, strings.Join(names, "\n"))
	case strings.HasPrefix(path, "block-device-mapping/") && d.blockDevices[strings.TrimPrefix(path, "block-device-mapping/")] != "":
		io.WriteString(w, d.blockDevices[strings.TrimPrefix(path, "block-device-mapping/")])
	default:
		http.NotFound(w, r)
	}
}

// ---------------------------------------------------------------------------
// EC2 Query API.

type ec2Mode int

const (
	ec2Succeed ec2Mode = iota
	ec2Fail400         // UnauthorizedOperation
	ec2Fail500         // InternalError
	ec2Hang            // never answers (until the client goes away or the test ends)
)

// probeWait is how long a write to a mount point may take before the EC2
// double counts the file system as frozen. An unfrozen loop-mounted file
// system takes about a millisecond for it; the rest is headroom for a busy
// machine.
const probeWait = time.Second

type ec2Request struct {
	At            time.Time
	Form          url.Values
	AccessKeyID   string
	Region        string
	Service       string
	SessionToken  string
	SignedHeaders string
	SignatureErr  error
	UserAgent     string
	// Blocked says, per probed mount point, whether a write to it was still
	// blocked probeWait after the request arrived: the file system was frozen.
	Blocked map[string]bool
	// probes finish when the write does, i.e. once the file system is thawed.
	probes map[string]chan error
	// Responded is when the double began writing its answer (zero for a
	// request left hanging); Served is closed then.
	Responded time.Time
	Served    chan struct{}
}

type ec2Double struct {
	URL string

	mu       sync.Mutex
	mode     ec2Mode
	delay    time.Duration
	probe    []string
	hook     func(*ec2Request)
	secrets  map[string]string // access key id → secret
	requests []*ec2Request
	received chan *ec2Request
	release  chan struct{}
}

func newEC2Double(t testing.TB) *ec2Double {
	t.Helper()
	d := &ec2Double{
		secrets: map[string]string{
			roleCredentials.AccessKeyID: roleCredentials.SecretAccessKey,
			envCredentials.AccessKeyID:  envCredentials.SecretAccessKey,
		},
		received: make(chan *ec2Request, 16),
		release:  make(chan struct{}),
	}
	srv := httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(func() {
		close(d.release)
		srv.CloseClientConnections()
		srv.Close()
	})
	d.URL = srv.URL
	return d
}

func (d *ec2Double) configure(mode ec2Mode, delay time.Duration, probe ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mode, d.delay, d.probe = mode, delay, probe
}

// onRequest sets a function run while each request is served, after the
// freeze probes and before the delay and the answer; nil for none.
func (d *ec2Double) onRequest(hook func(*ec2Request)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hook = hook
}

func (d *ec2Double) requestLog() []*ec2Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*ec2Request(nil), d.requests...)
}

func (d *ec2Double) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests = nil
	for len(d.received) > 0 {
		<-d.received
	}
}

// probeWrite writes a small file into dir; the channel yields the result.
// On a frozen file system the write blocks until the thaw.
func probeWrite(dir string) chan error {
	done := make(chan error, 1)
	go func() {
		name := filepath.Join(dir, fmt.Sprintf(".probe-%d", time.Now().UnixNano()))
		done <- os.WriteFile(name, []byte("probe\n"), 0o600)
	}()
	return done
}

func (d *ec2Double) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	d.mu.Lock()
	mode, delay, probe, hook := d.mode, d.delay, d.probe, d.hook
	d.mu.Unlock()

	req := &ec2Request{At: at, UserAgent: r.UserAgent(), Blocked: map[string]bool{}, probes: map[string]chan error{}, Served: make(chan struct{})}
	for _, m := range probe {
		req.probes[m] = probeWrite(m)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req.Form, err = url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req.SessionToken = r.Header.Get("X-Amz-Security-Token")
	req.AccessKeyID, req.Region, req.Service, req.SignedHeaders, req.SignatureErr = verifySigV4(r, body, d.secrets)
	if len(probe) > 0 {
		deadline := time.After(probeWait)
		pending := map[string]bool{}
		for _, m := range probe {
			pending[m] = true
		}
	wait:
		for len(pending) > 0 {
			for m := range pending {
				select {
				case err := <-req.probes[m]:
					delete(pending, m)
					req.probes[m] = closedWith(err)
				default:
				}
			}
			select {
			case <-deadline:
				break wait
			case <-time.After(5 * time.Millisecond):
			}
		}
		for _, m := range probe {
			req.Blocked[m] = pending[m]
		}
	}
	d.mu.Lock()
	d.requests = append(d.requests, req)
	d.mu.Unlock()
	d.received <- req

	if hook != nil {
		hook(req)
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	if mode != ec2Hang {
		d.mu.Lock()
		req.Responded = time.Now()
		d.mu.Unlock()
		close(req.Served)
	}
	requestID := fmt.Sprintf("%08x-0000-4000-8000-000000000000", at.UnixNano()&0xffffffff)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	switch mode {
	case ec2Hang:
		select {
		case <-r.Context().Done():
		case <-d.release:
		}
		return
	case ec2Fail400:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>%s</RequestID></Response>`, requestID)
		return
	case ec2Fail500:
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>InternalError</Code><Message>An internal error has occurred.</Message></Error></Errors><RequestID>%s</RequestID></Response>`, requestID)
		return
	}
	var items strings.Builder
	for i, vol := range []string{"vol-0aaaaaaaaaaaaaaa1", "vol-0aaaaaaaaaaaaaaa2"} {
		fmt.Fprintf(&items, `
      <item>
        <description>%s</description>
        <encrypted>false</encrypted>
        <ownerId>111122223333</ownerId>
        <progress></progress>
        <snapshotId>snap-0%015x%d</snapshotId>
        <startTime>2024-01-01T00:00:00.000Z</startTime>
        <state>pending</state>
        <volumeId>%s</volumeId>
        <volumeSize>8</volumeSize>
      </item>`, xmlEscape(req.Form.Get("Description")), at.UnixNano()&0xfffffffffffff, i, vol)
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<CreateSnapshotsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>%s</requestId>
    <snapshotSet>%s
    </snapshotSet>
</CreateSnapshotsResponse>`, requestID, items.String())
}

func closedWith(err error) chan error {
	ch := make(chan error, 1)
	ch <- err
	return ch
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// waitProbes waits, bounded, for the request's probe writes to finish and
// reports the first failure or timeout.
func (r *ec2Request) waitProbes(timeout time.Duration) error {
	deadline := time.After(timeout)
	for m, ch := range r.probes {
		select {
		case err := <-ch:
			if err != nil {
				return fmt.Errorf("write to %s failed: %v", m, err)
			}
			ch <- err // keep the result for a second look
		case <-deadline:
			return fmt.Errorf("write to %s still blocked %v later: file system not thawed", m, timeout)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// SigV4 verification, from the AWS Signature Version 4 specification.

// verifySigV4 checks the request's Authorization header against the secret
// of the access key it names, and returns what the header says.
func verifySigV4(r *http.Request, body []byte, secrets map[string]string) (accessKey, region, service, signedHeaders string, err error) {
	const algorithm = "AWS4-HMAC-SHA256"
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, algorithm+" ")
	if !ok {
		return "", "", "", "", fmt.Errorf("Authorization %q is not %s", auth, algorithm)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return "", "", "", "", fmt.Errorf("credential scope %q", fields["Credential"])
	}
	accessKey, region, service, signedHeaders = scope[0], scope[2], scope[3], fields["SignedHeaders"]
	secret, ok := secrets[accessKey]
	if !ok {
		return accessKey, region, service, signedHeaders, fmt.Errorf("unknown access key %q", accessKey)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if !strings.HasPrefix(amzDate, scope[1]) {
		return accessKey, region, service, signedHeaders, fmt.Errorf("X-Amz-Date %q does not match scope date %q", amzDate, scope[1])
	}
	var canonicalHeaders strings.Builder
	for _, h := range strings.Split(signedHeaders, ";") {
		v := strings.Join(r.Header.Values(h), ",")
		if h == "host" {
			v = r.Host
		}
		canonicalHeaders.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	payloadHash := sha256Hex(body)
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash && h != "UNSIGNED-PAYLOAD" {
		return accessKey, region, service, signedHeaders, fmt.Errorf("X-Amz-Content-Sha256 %q does not match the body", h)
	}
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canonicalRequest := strings.Join([]string{r.Method, path, canonicalQuery(r.URL.Query()), canonicalHeaders.String(), signedHeaders, payloadHash}, "\n")
	stringToSign := strings.Join([]string{algorithm, amzDate, strings.Join(scope[1:], "/"), sha256Hex([]byte(canonicalRequest))}, "\n")
	key := []byte("AWS4" + secret)
	for _, s := range scope[1:] {
		key = hmacSHA256(key, s)
	}
	want := hex.EncodeToString(hmacSHA256(key, stringToSign))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return accessKey, region, service, signedHeaders, fmt.Errorf("signature mismatch (canonical request:\n%s)", canonicalRequest)
	}
	return accessKey, region, service, signedHeaders, nil
}

func canonicalQuery(q url.Values) string {
	var parts []string
	for k, vs := range q {
		for _, v := range vs {
			parts = append(parts, awsEscape(k)+"="+awsEscape(v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "&")
}

func awsEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
