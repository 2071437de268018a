package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// CloudFormation's limits on the size of a template.
const (
	// InlineLimit is the largest TemplateBody a request may carry.
	InlineLimit = 51200
	// URLLimit is the largest template CloudFormation reads from S3
	// (TemplateURL): 1 MB.
	URLLimit = 1 << 20
)

// CloudFormation's limits on what one template may declare.
const (
	MaxResources = 500
	MaxOutputs   = 200
)

// CheckTemplateCounts tells whether CloudFormation accepts the number of
// resources and outputs in the template. Each policy adds about ten
// resources, so a set of more than about forty-five policies has to be split
// into several stacks; saying so before anything is sent spares a change set
// that fails to create.
func CheckTemplateCounts(template []byte) error {
	var t struct {
		Resources map[string]json.RawMessage
		Outputs   map[string]json.RawMessage
	}
	if err := json.Unmarshal(template, &t); err != nil {
		return fmt.Errorf("the template is not valid JSON: %w", err)
	}
	const split = "deploy the policies as several stacks: one deploy, with its own --stack name, per directory of policies"
	if n := len(t.Resources); n > MaxResources {
		return errorf(KindTemplate, split, "the template declares %d resources, more than the %d CloudFormation allows in one stack", n, MaxResources)
	}
	if n := len(t.Outputs); n > MaxOutputs {
		return errorf(KindTemplate, split, "the template declares %d outputs, more than the %d CloudFormation allows in one stack", n, MaxOutputs)
	}
	return nil
}

// RegionPlaceholder in a bucket name is replaced by the region deployed to,
// so that each region reads its template from a bucket of its own.
const RegionPlaceholder = "{region}"

// CompactTemplate removes the indentation of a JSON template: the same
// template in fewer bytes, further from CloudFormation's limits.
func CompactTemplate(template []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, template); err != nil {
		return nil, fmt.Errorf("the template is not valid JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// CheckTemplateSize tells whether a template of size bytes can be sent:
// inline up to InlineLimit, through a bucket up to URLLimit.
func CheckTemplateSize(size int, haveBucket bool) error {
	switch {
	case size > URLLimit:
		return errorf(KindTemplate, "deploy the policies as several stacks (one deploy per directory of policies)",
			"the template is %d bytes, more than the %d bytes (1 MB) CloudFormation reads from S3", size, URLLimit)
	case size > InlineLimit && !haveBucket:
		return errorf(KindTemplate, "pass --s3-bucket BUCKET (and optionally --s3-prefix) to upload it to S3 and deploy it from there",
			"the template is %d bytes, more than the %d bytes CloudFormation accepts inline", size, InlineLimit)
	}
	return nil
}

// TemplateBucket is where templates too large to send inline are staged.
type TemplateBucket struct {
	// Bucket may contain RegionPlaceholder.
	Bucket string
	// Prefix is put before the object name as it is: "ssm-backup/" makes a
	// folder.
	Prefix string
}

// BucketFor is the bucket of one region.
func (b TemplateBucket) BucketFor(region string) string {
	return strings.ReplaceAll(b.Bucket, RegionPlaceholder, region)
}

// Key is the object key of a template: named by its SHA-256, so the same
// template is the same object, and a changed one never overwrites what a
// running change set reads.
func (b TemplateBucket) Key(template []byte) string {
	sum := sha256.Sum256(template)
	return b.Prefix + hex.EncodeToString(sum[:]) + ".json"
}

// upload puts the template into the region's bucket and returns its URL.
func (b TemplateBucket) upload(ctx context.Context, c *Clients, template []byte) (s3url, templateURL string, err error) {
	bucket, key := b.BucketFor(c.Region), b.Key(template)
	s3url = "s3://" + bucket + "/" + key
	_, err = c.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(bucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader(template),
		ContentType: aws.String("application/json"),
	})
	if err != nil {
		return s3url, "", Explain(err)
	}
	templateURL, err = c.ObjectURL(ctx, bucket, key)
	return s3url, templateURL, err
}
