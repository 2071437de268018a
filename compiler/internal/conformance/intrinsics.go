package conformance

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// TemplateResource is one resource of a CloudFormation template, decoded.
type TemplateResource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
}

// Resolver replaces CloudFormation intrinsic functions ({"Ref": ...},
// {"Fn::GetAtt": ...}, {"Fn::Sub": ...}) with sample values of the kind the
// referenced resource would return, so that literal Properties can be
// validated against a provider schema (SOURCES.md caveat 5: the schemas
// describe resolved values). Any other intrinsic, or a reference to a
// resource or attribute it has no sample for, is an error: nothing is
// silently skipped.
type Resolver struct {
	Resources map[string]TemplateResource
	// Pseudo holds the sample value of each pseudo parameter (AWS::Region).
	Pseudo map[string]string
}

// Sample identifiers, each valid for the API and provider-schema patterns.
const (
	SampleAccountID    = "123456789012"
	SamplePartition    = "aws"
	SampleRegion       = "us-east-1"
	SampleWindowID     = "mw-0123456789abcdef0"
	SampleWindowTarget = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
	// SampleBackupPlanID and SampleLifecyclePolicyID are what Ref returns
	// for an AWS Backup plan (its id) and a DLM lifecycle policy.
	SampleBackupPlanID      = "8a1f2c3d-4e5f-4a6b-9c7d-0e1f2a3b4c5d"
	SampleLifecyclePolicyID = "policy-0123456789abcdef0"
)

// SamplePseudo are the pseudo parameters templates use, with sample values.
func SamplePseudo() map[string]string {
	return map[string]string{
		"AWS::AccountId": SampleAccountID,
		"AWS::Partition": SamplePartition,
		"AWS::Region":    SampleRegion,
		"AWS::StackName": "ssm-backup",
		"AWS::URLSuffix": "amazonaws.com",
	}
}

// SubstitutePseudo replaces ${AWS::...} placeholders with the sample
// values, as Fn::Sub would; an unknown placeholder is an error.
func SubstitutePseudo(s string) (string, error) {
	r := Resolver{Pseudo: SamplePseudo()}
	return r.sub(s, nil)
}

// Resolve returns v with every intrinsic function replaced.
func (r *Resolver) Resolve(v any) (any, error) {
	switch t := v.(type) {
	case []any:
		out := make([]any, len(t))
		for i, item := range t {
			res, err := r.Resolve(item)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = res
		}
		return out, nil
	case map[string]any:
		if len(t) == 1 {
			for k, arg := range t {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return r.intrinsic(k, arg)
				}
			}
		}
		out := make(map[string]any, len(t))
		for _, k := range sortedKeys(t) {
			res, err := r.Resolve(t[k])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = res
		}
		return out, nil
	}
	return v, nil
}

func (r *Resolver) intrinsic(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Ref takes a string, got %s", jsonKind(arg))
		}
		return r.ref(name)
	case "Fn::GetAtt":
		var parts []string
		switch a := arg.(type) {
		case string:
			parts = strings.SplitN(a, ".", 2)
		case []any:
			for _, p := range a {
				s, ok := p.(string)
				if !ok {
					return nil, fmt.Errorf("Fn::GetAtt takes strings, got %s", jsonKind(p))
				}
				parts = append(parts, s)
			}
		}
		if len(parts) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt takes [LogicalId, Attribute], got %v", arg)
		}
		return r.getAtt(parts[0], parts[1])
	case "Fn::Sub":
		switch a := arg.(type) {
		case string:
			return r.sub(a, nil)
		case []any:
			if len(a) != 2 {
				return nil, fmt.Errorf("Fn::Sub takes a string or [string, variables]")
			}
			s, ok1 := a[0].(string)
			vars, ok2 := a[1].(map[string]any)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("Fn::Sub takes [string, variables]")
			}
			resolved := map[string]string{}
			for k, v := range vars {
				rv, err := r.Resolve(v)
				if err != nil {
					return nil, err
				}
				str, ok := rv.(string)
				if !ok {
					return nil, fmt.Errorf("Fn::Sub variable %s is not a string", k)
				}
				resolved[k] = str
			}
			return r.sub(s, resolved)
		}
		return nil, fmt.Errorf("Fn::Sub takes a string or [string, variables], got %s", jsonKind(arg))
	}
	return nil, fmt.Errorf("intrinsic %s has no sample resolution", fn)
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

func (r *Resolver) sub(s string, vars map[string]string) (string, error) {
	var firstErr error
	out := subVar.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}" // ${!Literal} is written as ${Literal}
		}
		if v, ok := vars[name]; ok {
			return v
		}
		var res any
		var err error
		if strings.Contains(name, ".") && !strings.HasPrefix(name, "AWS::") {
			parts := strings.SplitN(name, ".", 2)
			res, err = r.getAtt(parts[0], parts[1])
		} else {
			res, err = r.ref(name)
		}
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("Fn::Sub %q: %w", s, err)
			}
			return m
		}
		return fmt.Sprint(res)
	})
	return out, firstErr
}

func (r *Resolver) ref(name string) (any, error) {
	if v, ok := r.Pseudo[name]; ok {
		return v, nil
	}
	res, ok := r.Resources[name]
	if !ok {
		return nil, fmt.Errorf("Ref %q: no such resource or pseudo parameter", name)
	}
	p := res.Properties
	switch res.Type {
	case "AWS::SSM::MaintenanceWindow":
		return SampleWindowID, nil
	case "AWS::SSM::MaintenanceWindowTarget":
		return SampleWindowTarget, nil
	case "AWS::SSM::Document":
		return literal(name, p, "Name")
	case "AWS::IAM::Role":
		return literal(name, p, "RoleName")
	case "AWS::IAM::InstanceProfile":
		return literal(name, p, "InstanceProfileName")
	case "AWS::Backup::BackupVault":
		return literal(name, p, "BackupVaultName")
	case "AWS::Backup::BackupPlan":
		return SampleBackupPlanID, nil
	case "AWS::DLM::LifecyclePolicy":
		return SampleLifecyclePolicyID, nil
	case "AWS::IAM::ManagedPolicy":
		n, err := literal(name, p, "ManagedPolicyName")
		if err != nil {
			return nil, err
		}
		return r.iamARN("policy", p, n), nil
	}
	return nil, fmt.Errorf("Ref %q: no sample value for a %s", name, res.Type)
}

func (r *Resolver) getAtt(name, attr string) (any, error) {
	res, ok := r.Resources[name]
	if !ok {
		return nil, fmt.Errorf("Fn::GetAtt %s.%s: no such resource", name, attr)
	}
	p := res.Properties
	switch res.Type + "." + attr {
	case "AWS::IAM::Role.Arn":
		n, err := literal(name, p, "RoleName")
		if err != nil {
			return nil, err
		}
		return r.iamARN("role", p, n), nil
	case "AWS::IAM::InstanceProfile.Arn":
		n, err := literal(name, p, "InstanceProfileName")
		if err != nil {
			return nil, err
		}
		return r.iamARN("instance-profile", p, n), nil
	case "AWS::IAM::ManagedPolicy.PolicyArn":
		n, err := literal(name, p, "ManagedPolicyName")
		if err != nil {
			return nil, err
		}
		return r.iamARN("policy", p, n), nil
	}
	return nil, fmt.Errorf("Fn::GetAtt %s.%s: no sample value for attribute %s of a %s", name, attr, attr, res.Type)
}

func (r *Resolver) iamARN(kind string, props map[string]any, name string) string {
	path := "/"
	if p, ok := props["Path"].(string); ok {
		path = p
	}
	partition, account := SamplePartition, SampleAccountID
	if v, ok := r.Pseudo["AWS::Partition"]; ok {
		partition = v
	}
	if v, ok := r.Pseudo["AWS::AccountId"]; ok {
		account = v
	}
	return "arn:" + partition + ":iam::" + account + ":" + kind + path + name
}

func literal(logical string, props map[string]any, key string) (string, error) {
	s, ok := props[key].(string)
	if !ok || s == "" {
		return "", fmt.Errorf("%s has no literal %s to sample a reference from", logical, key)
	}
	return s, nil
}

// Intrinsics lists the intrinsic functions used anywhere in v, sorted, so
// a test can prove that the resolver saw them.
func Intrinsics(v any) []string {
	seen := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case []any:
			for _, x := range t {
				walk(x)
			}
		case map[string]any:
			if len(t) == 1 {
				for k := range t {
					if k == "Ref" || strings.HasPrefix(k, "Fn::") {
						seen[k] = true
					}
				}
			}
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(v)
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
