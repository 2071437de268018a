package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// CloudFormationAPI is the part of the CloudFormation API a deploy uses.
// *cloudformation.Client satisfies it.
type CloudFormationAPI interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	CreateChangeSet(ctx context.Context, in *cloudformation.CreateChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error)
	DescribeChangeSet(ctx context.Context, in *cloudformation.DescribeChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error)
	ExecuteChangeSet(ctx context.Context, in *cloudformation.ExecuteChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error)
	DeleteChangeSet(ctx context.Context, in *cloudformation.DeleteChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DeleteChangeSetOutput, error)
	DescribeStackEvents(ctx context.Context, in *cloudformation.DescribeStackEventsInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error)
}

// S3API is the part of the S3 API a deploy uses to stage a template too
// large to send inline. *s3.Client satisfies it.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Clients are the API clients of one region.
type Clients struct {
	Region         string
	CloudFormation CloudFormationAPI
	S3             S3API
	// ObjectURL is the https URL CloudFormation is given to read an object
	// of S3 (the TemplateURL).
	ObjectURL func(ctx context.Context, bucket, key string) (string, error)
}

// ClientOptions choose the account, the region and how the SDK is set up.
type ClientOptions struct {
	// Region overrides the region of the configuration chain when set.
	Region string
	// Profile names a profile of the shared configuration files.
	Profile string
	// LoadOptions are passed on to config.LoadDefaultConfig after the
	// region and the profile.
	LoadOptions []func(*config.LoadOptions) error
}

// NewClients builds the clients of one region from the standard
// aws-sdk-go-v2 configuration chain: environment, shared config and
// credentials files (with Profile), SSO, web identity, container and
// instance credentials. Endpoints come from the chain too, so
// AWS_ENDPOINT_URL_CLOUDFORMATION, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL and
// a profile's endpoint_url point the clients elsewhere (a local double, a
// VPC endpoint). When S3's endpoint is overridden, S3 is addressed
// path-style, which local S3 implementations expect.
//
// The credentials are retrieved at once, so that a missing or broken
// credential setup is reported before anything is sent.
func NewClients(ctx context.Context, o ClientOptions) (*Clients, error) {
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	opts = append(opts, o.LoadOptions...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		var noProfile config.SharedConfigProfileNotExistError
		if errors.As(err, &noProfile) {
			return nil, &Error{Kind: KindConfig, Message: fmt.Sprintf("AWS profile %q is not defined in the shared config or credentials files", noProfile.Profile), Hint: "check --profile and AWS_PROFILE, or run aws configure --profile " + noProfile.Profile, Err: err}
		}
		return nil, &Error{Kind: KindConfig, Message: "cannot load the AWS configuration: " + err.Error(), Err: err}
	}
	if cfg.Region == "" {
		return nil, &Error{Kind: KindConfig, Message: "no AWS region is configured", Hint: "pass --region, set AWS_REGION, or set region in the profile"}
	}
	if cfg.Credentials == nil {
		return nil, noCredentials(nil)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, noCredentials(err)
	}
	s3c := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if so.BaseEndpoint != nil {
			so.UsePathStyle = true
		}
	})
	return &Clients{
		Region:         cfg.Region,
		CloudFormation: cloudformation.NewFromConfig(cfg),
		S3:             s3c,
		ObjectURL: func(ctx context.Context, bucket, key string) (string, error) {
			return objectURL(ctx, s3c.Options(), bucket, key)
		},
	}, nil
}

// objectURL resolves where an object lives with S3's own endpoint rules, so
// partitions, FIPS, dual-stack, bucket names that cannot be host names and
// overridden endpoints are handled as the SDK handles them.
func objectURL(ctx context.Context, o s3.Options, bucket, key string) (string, error) {
	p := s3.EndpointParameters{
		Bucket:         aws.String(bucket),
		Region:         aws.String(o.Region),
		Endpoint:       o.BaseEndpoint,
		ForcePathStyle: aws.Bool(o.UsePathStyle),
		UseFIPS:        aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		UseDualStack:   aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
	}
	resolver := o.EndpointResolverV2
	if resolver == nil {
		resolver = s3.NewDefaultEndpointResolverV2()
	}
	ep, err := resolver.ResolveEndpoint(ctx, p)
	if err != nil {
		return "", fmt.Errorf("cannot tell the URL of s3://%s/%s: %w", bucket, key, err)
	}
	u := ep.URI
	segments := strings.Split(key, "/")
	for i, s := range segments {
		segments[i] = url.PathEscape(s)
	}
	return strings.TrimSuffix(u.String(), "/") + "/" + strings.Join(segments, "/"), nil
}
