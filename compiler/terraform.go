package compiler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ssm-backup/ssm-backup/documents"
)

// The Terraform output holds the resources of the CloudFormation template,
// written in Terraform's JSON configuration syntax for the hashicorp/aws
// provider, version 5 or later. Each resource is named after its template
// logical id in snake case (WebFleetWindow → web_fleet_window), so the two
// outputs read side by side.
//
// In Terraform's JSON syntax every string value, and every key of an object
// value such as tags, is a string template: "${" starts an interpolation
// and "%{" a directive. Literal text (document content, descriptions, tag
// values) is therefore escaped by doubling the sigil ("$${", "%%{"), which
// Terraform reads back as the literal characters; the only interpolations
// the file holds are the ones written here on purpose: references to its own
// resources and to three data sources that stand in for CloudFormation's
// pseudo parameters.

// TerraformPath is the Terraform configuration, relative to the output
// directory.
const TerraformPath = "terraform/ssm-backup.tf.json"

// terraformAWSProvider is the provider version the configuration is written
// for. It uses arguments provider 5 has and provider 6 keeps; a role's
// inline and managed policies are resources of their own
// (aws_iam_role_policy, aws_iam_role_policy_attachment), because the
// aws_iam_role arguments that could hold them, inline_policy and
// managed_policy_arns, are deprecated in provider 5.
const terraformAWSProvider = ">= 5.0"

// tfPseudoParameters maps the CloudFormation pseudo parameters the IAM
// documents use to the Terraform data sources that answer the same
// question. The region is read as data.aws_region.current.id: "name" is
// deprecated from provider 6, "region" does not exist in provider 5, and
// "id" holds the region's name in both.
var tfPseudoParameters = map[string]string{
	"${AWS::Partition}": "${data.aws_partition.current.partition}",
	"${AWS::Region}":    "${data.aws_region.current.id}",
	"${AWS::AccountId}": "${data.aws_caller_identity.current.account_id}",
}

// tfLiteralEscaper doubles the sigils of Terraform's template syntax. A
// run of sigils ("$${") comes out right: Terraform reads "$$${" as "$"
// followed by the escape "$${".
var tfLiteralEscaper = strings.NewReplacer("${", "$${", "%{", "%%{")

// tfLiteral escapes s so that Terraform reads it as exactly s.
func tfLiteral(s string) string { return tfLiteralEscaper.Replace(s) }

// tfWithPseudoParameters escapes s like tfLiteral, except that each
// CloudFormation pseudo parameter becomes the interpolation of the data
// source that stands in for it. Any other ${AWS::...} would be resolved by
// CloudFormation and not by Terraform, so it is an error; so is a "$" right
// before a pseudo parameter, which Terraform would read as the escape "$${".
func tfWithPseudoParameters(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for i := 0; i < len(s); {
		rest := s[i:]
		if strings.HasPrefix(rest, "${AWS::") {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated pseudo parameter in %q", s)
			}
			interp, ok := tfPseudoParameters[rest[:end+1]]
			if !ok {
				return "", fmt.Errorf("pseudo parameter %s has no Terraform equivalent", rest[:end+1])
			}
			if i > 0 && s[i-1] == '$' {
				return "", fmt.Errorf("%q: a \"$\" right before %s cannot be written in Terraform's syntax", s, rest[:end+1])
			}
			b.WriteString(interp)
			i += end + 1
			continue
		}
		if (rest[0] == '$' || rest[0] == '%') && len(rest) > 1 && rest[1] == '{' {
			b.WriteByte(rest[0])
		}
		b.WriteByte(rest[0])
		i++
	}
	return b.String(), nil
}

// tfName is the Terraform name of the resource whose template logical id
// is logicalID: an underscore before each upper-case letter but the first,
// then lower case. Upper-case letters in logical ids only start a word of
// the policy name or a suffix, so distinct ids keep distinct names. A name
// may not start with a digit in Terraform; such a name gets a leading
// underscore, which no other name has.
func tfName(logicalID string) string {
	var b strings.Builder
	for i, r := range logicalID {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	name := b.String()
	if name != "" && name[0] >= '0' && name[0] <= '9' {
		name = "_" + name
	}
	return name
}

// tfRef is an interpolation of an attribute of a resource.
func tfRef(resourceType, name, attribute string) string {
	return "${" + resourceType + "." + name + "." + attribute + "}"
}

// Resource types, as the hashicorp/aws provider names them.
const (
	tfTypeDocument        = "aws_ssm_document"
	tfTypePolicy          = "aws_iam_policy"
	tfTypeRole            = "aws_iam_role"
	tfTypeRolePolicy      = "aws_iam_role_policy"
	tfTypeRoleAttachment  = "aws_iam_role_policy_attachment"
	tfTypeInstanceProfile = "aws_iam_instance_profile"
	tfTypeWindow          = "aws_ssm_maintenance_window"
	tfTypeWindowTarget    = "aws_ssm_maintenance_window_target"
	tfTypeWindowTask      = "aws_ssm_maintenance_window_task"
	tfTypeRecycleBinRule  = "aws_rbin_rule"
)

// Field order follows the JSON names alphabetically, so that every object
// of the file has its keys sorted, as the maps around them do.

type tfDocument struct {
	Content        string            `json:"content"`
	DependsOn      []string          `json:"depends_on,omitempty"`
	DocumentFormat string            `json:"document_format"`
	DocumentType   string            `json:"document_type"`
	Name           string            `json:"name"`
	Tags           map[string]string `json:"tags"`
}

type tfPolicy struct {
	Description string `json:"description"`
	Name        string `json:"name"`
	Path        string `json:"path"`
	Policy      string `json:"policy"`
}

type tfRole struct {
	AssumeRolePolicy string            `json:"assume_role_policy"`
	Description      string            `json:"description"`
	Name             string            `json:"name"`
	Path             string            `json:"path"`
	Tags             map[string]string `json:"tags"`
}

type tfRolePolicy struct {
	Name   string `json:"name"`
	Policy string `json:"policy"`
	Role   string `json:"role"`
}

type tfRolePolicyAttachment struct {
	PolicyARN string `json:"policy_arn"`
	Role      string `json:"role"`
}

type tfInstanceProfile struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Role string `json:"role"`
}

type tfWindow struct {
	AllowUnassociatedTargets bool              `json:"allow_unassociated_targets"`
	Cutoff                   int               `json:"cutoff"`
	Description              string            `json:"description,omitempty"`
	Duration                 int               `json:"duration"`
	Name                     string            `json:"name"`
	Schedule                 string            `json:"schedule"`
	ScheduleOffset           int               `json:"schedule_offset,omitempty"`
	ScheduleTimezone         string            `json:"schedule_timezone,omitempty"`
	Tags                     map[string]string `json:"tags"`
}

// tfTarget is a targets block; JSON syntax writes repeated blocks as an
// array of objects.
type tfTarget struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
}

type tfWindowTarget struct {
	Description  string     `json:"description,omitempty"`
	Name         string     `json:"name"`
	ResourceType string     `json:"resource_type"`
	Targets      []tfTarget `json:"targets"`
	WindowID     string     `json:"window_id"`
}

type tfWindowTask struct {
	CutoffBehavior           string           `json:"cutoff_behavior"`
	Description              string           `json:"description,omitempty"`
	MaxConcurrency           string           `json:"max_concurrency"`
	MaxErrors                string           `json:"max_errors"`
	Name                     string           `json:"name"`
	Priority                 int              `json:"priority"`
	ServiceRoleARN           string           `json:"service_role_arn"`
	Targets                  []tfTarget       `json:"targets"`
	TaskARN                  string           `json:"task_arn"`
	TaskInvocationParameters tfTaskInvocation `json:"task_invocation_parameters"`
	TaskType                 string           `json:"task_type"`
	WindowID                 string           `json:"window_id"`
}

// tfTaskInvocation and tfAutomationParameters are blocks that occur at most
// once; JSON syntax writes such a block as one object.
type tfTaskInvocation struct {
	AutomationParameters tfAutomationParameters `json:"automation_parameters"`
}

type tfAutomationParameters struct {
	DocumentVersion string            `json:"document_version"`
	Parameter       []tfTaskParameter `json:"parameter"`
}

type tfTaskParameter struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// tfRecycleBinRule is aws_rbin_rule; its retention_period block occurs
// once, its resource_tags blocks up to 50 times.
type tfRecycleBinRule struct {
	Description     string              `json:"description"`
	ResourceTags    []tfRbinResourceTag `json:"resource_tags"`
	ResourceType    string              `json:"resource_type"`
	RetentionPeriod tfRbinRetention     `json:"retention_period"`
	Tags            map[string]string   `json:"tags"`
}

type tfRbinResourceTag struct {
	Key   string `json:"resource_tag_key"`
	Value string `json:"resource_tag_value"`
}

type tfRbinRetention struct {
	Unit  string `json:"retention_period_unit"`
	Value int    `json:"retention_period_value"`
}

type tfOutput struct {
	Description string `json:"description"`
	Value       string `json:"value"`
}

type tfProviderRequirement struct {
	Source  string `json:"source"`
	Version string `json:"version"`
}

type tfSettings struct {
	RequiredProviders map[string]tfProviderRequirement `json:"required_providers"`
}

// tfDataSources are the data sources that stand in for the pseudo
// parameters; their bodies are empty.
type tfDataSources struct {
	CallerIdentity map[string]struct{} `json:"aws_caller_identity"`
	Partition      map[string]struct{} `json:"aws_partition"`
	Region         map[string]struct{} `json:"aws_region"`
}

// renderedTerraform is the configuration with every resource and output
// already rendered, as renderedTemplate is for CloudFormation.
type renderedTerraform struct {
	Data      tfDataSources                         `json:"data"`
	Output    map[string]json.RawMessage            `json:"output,omitempty"`
	Resource  map[string]map[string]json.RawMessage `json:"resource"`
	Terraform tfSettings                            `json:"terraform"`
}

func newRenderedTerraform() *renderedTerraform {
	current := map[string]struct{}{"current": {}}
	return &renderedTerraform{
		Data:     tfDataSources{CallerIdentity: current, Partition: current, Region: current},
		Output:   map[string]json.RawMessage{},
		Resource: map[string]map[string]json.RawMessage{},
		Terraform: tfSettings{RequiredProviders: map[string]tfProviderRequirement{
			"aws": {Source: "hashicorp/aws", Version: terraformAWSProvider},
		}},
	}
}

// terraformFragment is the part of the configuration one policy (or the
// shared document) contributes, rendered by the worker that renders the
// policy's other files.
type terraformFragment struct {
	resources map[string]map[string]json.RawMessage
	outputs   map[string]json.RawMessage
	err       error
}

func (f *terraformFragment) resource(resourceType, name string, body any) {
	if f.err != nil {
		return
	}
	if f.resources == nil {
		f.resources = map[string]map[string]json.RawMessage{}
	}
	b, err := tfMarshal(body)
	if err != nil {
		f.err = fmt.Errorf("terraform %s.%s: %w", resourceType, name, err)
		return
	}
	byName := f.resources[resourceType]
	if byName == nil {
		byName = map[string]json.RawMessage{}
		f.resources[resourceType] = byName
	}
	if _, dup := byName[name]; dup {
		f.err = fmt.Errorf("terraform %s.%s is declared twice", resourceType, name)
		return
	}
	byName[name] = b
}

func (f *terraformFragment) output(name string, o tfOutput) {
	if f.err != nil {
		return
	}
	if f.outputs == nil {
		f.outputs = map[string]json.RawMessage{}
	}
	b, err := tfMarshal(o)
	if err != nil {
		f.err = fmt.Errorf("terraform output %s: %w", name, err)
		return
	}
	f.outputs[name] = b
}

// add merges a fragment; a name declared twice is an error rather than a
// resource silently lost.
func (t *renderedTerraform) add(f terraformFragment) error {
	if f.err != nil {
		return f.err
	}
	for typ, byName := range f.resources {
		dst := t.Resource[typ]
		if dst == nil {
			dst = map[string]json.RawMessage{}
			t.Resource[typ] = dst
		}
		for name, b := range byName {
			if _, dup := dst[name]; dup {
				return fmt.Errorf("terraform %s.%s is declared twice", typ, name)
			}
			dst[name] = b
		}
	}
	for name, b := range f.outputs {
		if _, dup := t.Output[name]; dup {
			return fmt.Errorf("terraform output %s is declared twice", name)
		}
		t.Output[name] = b
	}
	return nil
}

// tfMarshal is compactJSON without the detour through indentation: it
// writes compact JSON straight away, scripts' < > & unescaped.
func tfMarshal(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// render writes the configuration exactly as documents.MarshalIndent would,
// but into one buffer sized up front, as writeTemplate does for the
// template: the resources are rendered already, and re-indenting the whole
// file through the encoder cost more than rendering them.
func (t *renderedTerraform) render() ([]byte, error) {
	size := 1024
	for _, byName := range t.Resource {
		for k, v := range byName {
			size += len(k) + 3*len(v) + 16 // indentation roughly triples compact JSON
		}
	}
	for k, v := range t.Output {
		size += len(k) + 2*len(v) + 16
	}
	var buf bytes.Buffer
	buf.Grow(size)
	data, err := tfMarshal(t.Data)
	if err != nil {
		return nil, err
	}
	settings, err := tfMarshal(t.Terraform)
	if err != nil {
		return nil, err
	}
	buf.WriteString("{\n")
	if err := tfWriteMember(&buf, 1, "data", data); err != nil {
		return nil, err
	}
	if len(t.Output) > 0 {
		buf.WriteString(",\n")
		if err := tfWriteRawMap(&buf, 1, "output", t.Output); err != nil {
			return nil, err
		}
	}
	buf.WriteString(",\n")
	tfWriteKey(&buf, 1, "resource")
	if len(t.Resource) == 0 {
		buf.WriteString("{}")
	} else {
		buf.WriteString("{\n")
		for i, typ := range slices.Sorted(maps.Keys(t.Resource)) {
			if i > 0 {
				buf.WriteString(",\n")
			}
			if err := tfWriteRawMap(&buf, 2, typ, t.Resource[typ]); err != nil {
				return nil, err
			}
		}
		buf.WriteString("\n  }")
	}
	buf.WriteString(",\n")
	if err := tfWriteMember(&buf, 1, "terraform", settings); err != nil {
		return nil, err
	}
	buf.WriteString("\n}\n")
	return buf.Bytes(), nil
}

// tfWriteKey writes an object member's key at the given depth.
func tfWriteKey(buf *bytes.Buffer, depth int, key string) {
	for range depth {
		buf.WriteString("  ")
	}
	b, _ := tfMarshal(key) // a string always marshals
	buf.Write(b)
	buf.WriteString(": ")
}

// tfWriteMember writes key and a rendered value at the given depth.
func tfWriteMember(buf *bytes.Buffer, depth int, key string, value json.RawMessage) error {
	tfWriteKey(buf, depth, key)
	return json.Indent(buf, value, strings.Repeat("  ", depth), "  ")
}

// tfWriteRawMap writes key and an object of rendered values, keys sorted.
func tfWriteRawMap(buf *bytes.Buffer, depth int, key string, m map[string]json.RawMessage) error {
	tfWriteKey(buf, depth, key)
	if len(m) == 0 {
		buf.WriteString("{}")
		return nil
	}
	buf.WriteString("{\n")
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			buf.WriteString(",\n")
		}
		if err := tfWriteMember(buf, depth+1, k, m[k]); err != nil {
			return err
		}
	}
	buf.WriteString("\n" + strings.Repeat("  ", depth) + "}")
	return nil
}

func tfTags(tags []APITag) map[string]string {
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[tfLiteral(t.Key)] = tfLiteral(t.Value)
	}
	return out
}

// tfIAMDocument renders an IAM document as the JSON string Terraform
// expects, its pseudo parameters interpolated.
func tfIAMDocument(doc PolicyDocument) (string, error) {
	b, err := tfMarshal(doc)
	if err != nil {
		return "", err
	}
	return tfWithPseudoParameters(string(b))
}

// terraformShared is the shared Command document, as the template declares
// it in addSharedResources.
func terraformShared(linuxName string, linux documents.CommandDocument) terraformFragment {
	var f terraformFragment
	content, err := compactJSON(linux)
	if err != nil {
		f.err = fmt.Errorf("terraform %s: %w", linuxName, err)
		return f
	}
	f.resource(tfTypeDocument, tfName(LinuxSnapshotLogicalID), tfDocument{
		Content:        tfLiteral(string(content)),
		DocumentFormat: "JSON",
		DocumentType:   "Command",
		Name:           tfLiteral(linuxName),
		Tags:           map[string]string{"ssm-backup:shared": "linux-snapshot"},
	})
	return f
}

// terraformPolicy is one policy's resources, as the template declares them
// in addPolicyResources. Where the template nests (inline policies and
// managed policy ARNs in a role), Terraform has resources of their own: an
// inline policy is an aws_iam_role_policy named after its role, and each
// managed policy an aws_iam_role_policy_attachment.
func terraformPolicy(p *PolicyPlan, a *policyArtifacts) terraformFragment {
	var f terraformFragment
	n := p.Names
	l := n.Logical
	roles := a.roles
	tags := tfTags(resourceTags(p))
	name := func(suffix string) string { return tfName(l + suffix) }

	iam := map[string]string{}
	for _, d := range []struct {
		key string
		doc PolicyDocument
	}{
		{"instance", roles.InstancePolicy}, {"instance-trust", roles.InstanceTrust},
		{"automation", roles.AutomationPolicy}, {"automation-trust", roles.AutomationTrust},
		{"window", roles.WindowPolicy}, {"window-trust", roles.WindowTrust},
	} {
		s, err := tfIAMDocument(d.doc)
		if err != nil {
			f.err = fmt.Errorf("terraform: policy %s: %s IAM document: %w", n.Policy, d.key, err)
			return f
		}
		iam[d.key] = s
	}

	runbook, instancePolicy := name("Runbook"), name("InstancePolicy")
	instanceRole, instanceProfile := name("InstanceRole"), name("InstanceProfile")
	automationRole, windowRole := name("AutomationRole"), name("WindowRole")
	window, windowTarget, windowTask := name("Window"), name("WindowTarget"), name("WindowTask")

	f.resource(tfTypeDocument, runbook, tfDocument{
		Content: tfLiteral(string(a.runbookJSON)),
		// The runbook runs the shared document by name, which Terraform
		// cannot see in the content.
		DependsOn:      tfRunbookDependsOn(p),
		DocumentFormat: "JSON",
		DocumentType:   "Automation",
		Name:           tfLiteral(n.Runbook),
		Tags:           tags,
	})
	f.resource(tfTypePolicy, instancePolicy, tfPolicy{
		Description: tfLiteral(instancePolicyDescription(p)),
		Name:        tfLiteral(n.InstancePolicy),
		Path:        IAMPath,
		Policy:      iam["instance"],
	})
	f.resource(tfTypeRole, instanceRole, tfRole{
		AssumeRolePolicy: iam["instance-trust"],
		Description:      tfLiteral("Instances of ssm-backup policy " + n.Policy + ": snapshot own volumes, tagged at creation"),
		Name:             tfLiteral(n.InstanceRole),
		Path:             IAMPath,
		Tags:             tags,
	})
	f.resource(tfTypeRoleAttachment, instancePolicy, tfRolePolicyAttachment{
		PolicyARN: tfRef(tfTypePolicy, instancePolicy, "arn"),
		Role:      tfRef(tfTypeRole, instanceRole, "name"),
	})
	for _, m := range roles.InstanceManagedPolicies {
		arn, err := tfWithPseudoParameters(m)
		if err != nil {
			f.err = fmt.Errorf("terraform: policy %s: managed policy %s: %w", n.Policy, m, err)
			return f
		}
		f.resource(tfTypeRoleAttachment, instanceRole+"_"+tfManagedPolicyName(m), tfRolePolicyAttachment{
			PolicyARN: arn,
			Role:      tfRef(tfTypeRole, instanceRole, "name"),
		})
	}
	f.resource(tfTypeInstanceProfile, instanceProfile, tfInstanceProfile{
		Name: tfLiteral(n.InstanceProfile),
		Path: IAMPath,
		Role: tfRef(tfTypeRole, instanceRole, "name"),
	})
	f.resource(tfTypeRole, automationRole, tfRole{
		AssumeRolePolicy: iam["automation-trust"],
		Description:      tfLiteral("Runbook of ssm-backup policy " + n.Policy + ": run the snapshot command on target instances"),
		Name:             tfLiteral(n.AutomationRole),
		Path:             IAMPath,
		Tags:             tags,
	})
	f.resource(tfTypeRolePolicy, automationRole, tfRolePolicy{
		Name:   tfLiteral(n.AutomationPolicy),
		Policy: iam["automation"],
		Role:   tfRef(tfTypeRole, automationRole, "name"),
	})
	f.resource(tfTypeRole, windowRole, tfRole{
		AssumeRolePolicy: iam["window-trust"],
		Description:      tfLiteral("Maintenance window of ssm-backup policy " + n.Policy + ": start the backup runbook"),
		Name:             tfLiteral(n.WindowRole),
		Path:             IAMPath,
		Tags:             tags,
	})
	f.resource(tfTypeRolePolicy, windowRole, tfRolePolicy{
		Name:   tfLiteral(n.WindowPolicy),
		Policy: iam["window"],
		Role:   tfRef(tfTypeRole, windowRole, "name"),
	})

	w := a.window
	cw := w.CreateMaintenanceWindow
	f.resource(tfTypeWindow, window, tfWindow{
		AllowUnassociatedTargets: cw.AllowUnassociatedTargets,
		Cutoff:                   cw.Cutoff,
		Description:              tfLiteral(cw.Description),
		Duration:                 cw.Duration,
		Name:                     tfLiteral(cw.Name),
		Schedule:                 tfLiteral(cw.Schedule),
		ScheduleOffset:           cw.ScheduleOffset,
		ScheduleTimezone:         tfLiteral(cw.ScheduleTimezone),
		Tags:                     tags,
	})
	rt := w.RegisterTargetWithMaintenanceWindow
	var targets []tfTarget
	for _, t := range rt.Targets {
		values := make([]string, len(t.Values))
		for i, v := range t.Values {
			values[i] = tfLiteral(v)
		}
		targets = append(targets, tfTarget{Key: tfLiteral(t.Key), Values: values})
	}
	f.resource(tfTypeWindowTarget, windowTarget, tfWindowTarget{
		Description:  tfLiteral(rt.Description),
		Name:         tfLiteral(rt.Name),
		ResourceType: rt.ResourceType,
		Targets:      targets,
		WindowID:     tfRef(tfTypeWindow, window, "id"),
	})

	rk := w.RegisterTaskWithMaintenanceWindow
	// The window inputs write role ARNs with pseudo parameters; here they
	// are references to the roles, as the template's Fn::GetAtt.
	roleRefs := map[string]string{
		roleARN(n.AutomationRole): tfRef(tfTypeRole, automationRole, "arn"),
		roleARN(n.WindowRole):     tfRef(tfTypeRole, windowRole, "arn"),
	}
	var params []tfTaskParameter
	for _, k := range slices.Sorted(maps.Keys(rk.TaskInvocationParameters.Automation.Parameters)) {
		var values []string
		for _, v := range rk.TaskInvocationParameters.Automation.Parameters[k] {
			if ref, ok := roleRefs[v]; ok {
				values = append(values, ref)
				continue
			}
			if strings.Contains(v, "${AWS::") {
				f.err = fmt.Errorf("terraform: policy %s: task parameter %s: %q is not a role of the policy", n.Policy, k, v)
				return f
			}
			values = append(values, tfLiteral(v))
		}
		params = append(params, tfTaskParameter{Name: tfLiteral(k), Values: values})
	}
	serviceRole, ok := roleRefs[rk.ServiceRoleArn]
	if !ok {
		f.err = fmt.Errorf("terraform: policy %s: task service role %s is not a role of the policy", n.Policy, rk.ServiceRoleArn)
		return f
	}
	f.resource(tfTypeWindowTask, windowTask, tfWindowTask{
		CutoffBehavior: rk.CutoffBehavior,
		Description:    tfLiteral(rk.Description),
		MaxConcurrency: tfLiteral(rk.MaxConcurrency),
		MaxErrors:      tfLiteral(rk.MaxErrors),
		Name:           tfLiteral(rk.Name),
		Priority:       rk.Priority,
		ServiceRoleARN: serviceRole,
		Targets:        []tfTarget{{Key: "WindowTargetIds", Values: []string{tfRef(tfTypeWindowTarget, windowTarget, "id")}}},
		// The template refers to the runbook by name (Ref); so does this.
		TaskARN: tfRef(tfTypeDocument, runbook, "name"),
		TaskInvocationParameters: tfTaskInvocation{AutomationParameters: tfAutomationParameters{
			DocumentVersion: tfLiteral(rk.TaskInvocationParameters.Automation.DocumentVersion),
			Parameter:       params,
		}},
		TaskType: rk.TaskType,
		WindowID: tfRef(tfTypeWindow, window, "id"),
	})

	terraformLifecycle(&f, p)

	// The template's outputs, with the value each Ref returns.
	f.output(instanceProfile, tfOutput{
		Description: tfLiteral("Attach this instance profile to the instances of policy " + n.Policy),
		Value:       tfRef(tfTypeInstanceProfile, instanceProfile, "name"),
	})
	f.output(instancePolicy, tfOutput{
		Description: tfLiteral("Or attach this managed policy to the role the instances of policy " + n.Policy + " already have"),
		Value:       tfRef(tfTypePolicy, instancePolicy, "arn"),
	})
	f.output(window, tfOutput{
		Description: tfLiteral("Maintenance window of policy " + n.Policy),
		Value:       tfRef(tfTypeWindow, window, "id"),
	})
	return f
}

// terraformLifecycle adds the counterparts of the lifecycle's template
// resources and outputs (lifecycle_cfn.go, lifecycle_drill.go), converted
// from the template's own, so the two are written once. A template resource
// of a type not converted here is left out rather than failing the whole
// compile; TestTerraform's parity check fails on it.
func terraformLifecycle(f *terraformFragment, p *PolicyPlan) {
	if f.err != nil {
		return
	}
	lc := &Template{Resources: map[string]Resource{}, Outputs: map[string]Output{}}
	addLifecycleResources(lc, p)
	c := tfLifecycleConverter{f: f, p: p, types: map[string]string{}}
	// The lifecycle's resources refer to each other and to the policy's
	// roles (the drill window task runs as the policy's window role).
	for _, suffix := range []string{"InstanceRole", "AutomationRole", "WindowRole"} {
		c.types[p.Names.Logical+suffix] = "AWS::IAM::Role"
	}
	for id, r := range lc.Resources {
		c.types[id] = r.Type
	}
	for _, id := range slices.Sorted(maps.Keys(lc.Resources)) {
		if err := c.resource(id, lc.Resources[id]); err != nil {
			f.err = fmt.Errorf("terraform: policy %s: %s: %w", p.Names.Policy, id, err)
			return
		}
	}
	for _, id := range slices.Sorted(maps.Keys(lc.Outputs)) {
		o := lc.Outputs[id]
		value, err := c.value(o.Value)
		if err != nil {
			f.err = fmt.Errorf("terraform: policy %s: output %s: %w", p.Names.Policy, id, err)
			return
		}
		f.output(tfName(id), tfOutput{Description: tfLiteral(o.Description), Value: value})
	}
}

// tfCFNTypes maps the template resource types the lifecycle uses to their
// Terraform types and the attribute that holds what Ref returns.
var tfCFNTypes = map[string]struct{ tfType, refAttr string }{
	"AWS::SSM::Document":                {tfTypeDocument, "name"},
	"AWS::IAM::ManagedPolicy":           {tfTypePolicy, "arn"},
	"AWS::IAM::Role":                    {tfTypeRole, "name"},
	"AWS::IAM::InstanceProfile":         {tfTypeInstanceProfile, "name"},
	"AWS::SSM::MaintenanceWindow":       {tfTypeWindow, "id"},
	"AWS::SSM::MaintenanceWindowTarget": {tfTypeWindowTarget, "id"},
	"AWS::SSM::MaintenanceWindowTask":   {tfTypeWindowTask, "id"},
	"AWS::Rbin::Rule":                   {tfTypeRecycleBinRule, "arn"},
}

// tfLifecycleConverter converts one policy's lifecycle template resources.
// types holds the template type of every logical id they may refer to.
type tfLifecycleConverter struct {
	f     *terraformFragment
	p     *PolicyPlan
	types map[string]string
	// docs are further IAM documents the converted roles may hold (the
	// service role of a backup or dlm policy, engines_terraform.go).
	docs []PolicyDocument
	// stacked are the lifecycle policies deployed as a CloudFormation
	// stack (engines_terraform.go).
	stacked map[string]bool
}

// address is the Terraform address (type.name) of a template logical id.
func (c *tfLifecycleConverter) address(id string) (tfType, name string, err error) {
	to, ok := tfCFNTypes[c.types[id]]
	if !ok {
		return "", "", fmt.Errorf("reference to %s, which is no resource known here", id)
	}
	return to.tfType, tfName(id), nil
}

// value converts a template value that Terraform holds as a string: a
// literal, Ref or Fn::GetAtt Arn.
func (c *tfLifecycleConverter) value(v any) (string, error) {
	switch t := v.(type) {
	case string:
		if strings.Contains(t, "${AWS::") {
			return "", fmt.Errorf("%q: a pseudo parameter outside Fn::Sub", t)
		}
		return tfLiteral(t), nil
	case ref:
		typ, name, err := c.address(t.Ref)
		if err != nil {
			return "", err
		}
		return tfRef(typ, name, tfCFNTypes[c.types[t.Ref]].refAttr), nil
	case getAtt:
		if t.GetAtt[1] != "Arn" {
			return "", fmt.Errorf("Fn::GetAtt %s.%s: only Arn has a Terraform counterpart here", t.GetAtt[0], t.GetAtt[1])
		}
		typ, name, err := c.address(t.GetAtt[0])
		if err != nil {
			return "", err
		}
		return tfRef(typ, name, "arn"), nil
	}
	return "", fmt.Errorf("value %#v has no Terraform counterpart here", v)
}

// values converts a list value of a task parameter.
func (c *tfLifecycleConverter) values(v any) ([]string, error) {
	var out []string
	switch t := v.(type) {
	case []string:
		for _, s := range t {
			e, err := c.value(s)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	case []any:
		for _, x := range t {
			e, err := c.value(x)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	default:
		return nil, fmt.Errorf("value %#v is no list", v)
	}
	return out, nil
}

// dependsOn converts a template DependsOn.
func (c *tfLifecycleConverter) dependsOn(ids []string) ([]string, error) {
	var out []string
	for _, id := range ids {
		typ, name, err := c.address(id)
		if err != nil {
			return nil, err
		}
		out = append(out, typ+"."+name)
	}
	return out, nil
}

// iamDocument is the Terraform string of an IAM document of the template,
// which holds it with its pseudo parameters in Fn::Sub (withSub). It is
// rendered from the builder's document the template's was made from, so
// that it reads like the standalone file, keys in the same order.
func (c *tfLifecycleConverter) iamDocument(v any) (string, error) {
	got, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	docs := append([]PolicyDocument(nil), c.docs...)
	if c.p.Drill != nil {
		policy, trust := buildDrillRoles(c.p)
		docs = append(docs, policy, trust)
	}
	for _, d := range docs {
		want, err := json.Marshal(withSub(d))
		if err != nil {
			return "", err
		}
		if bytes.Equal(got, want) {
			return tfIAMDocument(d)
		}
	}
	return "", fmt.Errorf("IAM document is none of the policy's lifecycle documents")
}

// tfTagsOf is tfTags of a template resource's tags.
func tfTagsOf(tags []CFNTag) map[string]string {
	api := make([]APITag, len(tags))
	for i, t := range tags {
		api[i] = APITag(t)
	}
	return tfTags(api)
}

// resource adds the counterpart of one template resource.
func (c *tfLifecycleConverter) resource(id string, r Resource) error {
	f := c.f
	name := tfName(id)
	deps, err := c.dependsOn(r.DependsOn)
	if err != nil {
		return err
	}
	switch props := r.Properties.(type) {
	case rbinRuleProperties:
		var resourceTags []tfRbinResourceTag
		for _, t := range props.ResourceTags {
			resourceTags = append(resourceTags, tfRbinResourceTag{Key: tfLiteral(t.ResourceTagKey), Value: tfLiteral(t.ResourceTagValue)})
		}
		if len(deps) > 0 {
			return fmt.Errorf("DependsOn of %s is not converted", r.Type)
		}
		f.resource(tfTypeRecycleBinRule, name, tfRecycleBinRule{
			Description:  tfLiteral(props.Description),
			ResourceTags: resourceTags,
			ResourceType: props.ResourceType,
			RetentionPeriod: tfRbinRetention{
				Unit:  props.RetentionPeriod.RetentionPeriodUnit,
				Value: props.RetentionPeriod.RetentionPeriodValue,
			},
			Tags: tfTagsOf(props.Tags),
		})
	case documentProperties:
		// Terraform's aws_ssm_document always adds a version and makes it
		// the default, which is UpdateMethod NewVersion.
		if props.UpdateMethod != "NewVersion" {
			return fmt.Errorf("UpdateMethod %s has no Terraform counterpart", props.UpdateMethod)
		}
		content, err := compactJSON(props.Content)
		if err != nil {
			return err
		}
		f.resource(tfTypeDocument, name, tfDocument{
			Content:        tfLiteral(string(content)),
			DependsOn:      deps,
			DocumentFormat: props.DocumentFormat,
			DocumentType:   props.DocumentType,
			Name:           tfLiteral(props.Name),
			Tags:           tfTagsOf(props.Tags),
		})
	case roleProperties:
		if len(deps) > 0 {
			return fmt.Errorf("DependsOn of %s is not converted", r.Type)
		}
		trust, err := c.iamDocument(props.AssumeRolePolicyDocument)
		if err != nil {
			return fmt.Errorf("AssumeRolePolicyDocument: %w", err)
		}
		f.resource(tfTypeRole, name, tfRole{
			AssumeRolePolicy: trust,
			Description:      tfLiteral(props.Description),
			Name:             tfLiteral(props.RoleName),
			Path:             tfLiteral(props.Path),
			Tags:             tfTagsOf(props.Tags),
		})
		// One inline policy is named after its role, as in terraformPolicy;
		// more are told apart by their names.
		for _, ip := range props.Policies {
			doc, err := c.iamDocument(ip.PolicyDocument)
			if err != nil {
				return fmt.Errorf("policy %s: %w", ip.PolicyName, err)
			}
			policyName := name
			if len(props.Policies) > 1 {
				policyName += "_" + tfManagedPolicyName(ip.PolicyName)
			}
			f.resource(tfTypeRolePolicy, policyName, tfRolePolicy{
				Name:   tfLiteral(ip.PolicyName),
				Policy: doc,
				Role:   tfRef(tfTypeRole, name, "name"),
			})
		}
		for _, m := range props.ManagedPolicyArns {
			s, ok := subString(m)
			if !ok {
				return fmt.Errorf("managed policy %s is not converted", fmt.Sprint(m))
			}
			arn, err := tfWithPseudoParameters(s)
			if err != nil {
				return fmt.Errorf("managed policy %s: %w", s, err)
			}
			f.resource(tfTypeRoleAttachment, name+"_"+tfManagedPolicyName(s), tfRolePolicyAttachment{
				PolicyARN: arn,
				Role:      tfRef(tfTypeRole, name, "name"),
			})
		}
	case windowProperties:
		if len(deps) > 0 {
			return fmt.Errorf("DependsOn of %s is not converted", r.Type)
		}
		f.resource(tfTypeWindow, name, tfWindow{
			AllowUnassociatedTargets: props.AllowUnassociatedTargets,
			Cutoff:                   props.Cutoff,
			Description:              tfLiteral(props.Description),
			Duration:                 props.Duration,
			Name:                     tfLiteral(props.Name),
			Schedule:                 tfLiteral(props.Schedule),
			ScheduleOffset:           props.ScheduleOffset,
			ScheduleTimezone:         tfLiteral(props.ScheduleTimezone),
			Tags:                     tfTagsOf(props.Tags),
		})
	case windowTargetProperties:
		if len(deps) > 0 {
			return fmt.Errorf("DependsOn of %s is not converted", r.Type)
		}
		window, err := c.value(props.WindowId)
		if err != nil {
			return err
		}
		var targets []tfTarget
		for _, t := range props.Targets {
			values := make([]string, len(t.Values))
			for i, v := range t.Values {
				values[i] = tfLiteral(v)
			}
			targets = append(targets, tfTarget{Key: tfLiteral(t.Key), Values: values})
		}
		f.resource(tfTypeWindowTarget, name, tfWindowTarget{
			Description:  tfLiteral(props.Description),
			Name:         tfLiteral(props.Name),
			ResourceType: props.ResourceType,
			Targets:      targets,
			WindowID:     window,
		})
	case windowTaskProperties:
		if len(deps) > 0 {
			return fmt.Errorf("DependsOn of %s is not converted", r.Type)
		}
		window, err := c.value(props.WindowId)
		if err != nil {
			return err
		}
		task, err := c.value(props.TaskArn)
		if err != nil {
			return err
		}
		serviceRole, err := c.value(props.ServiceRoleArn)
		if err != nil {
			return err
		}
		var targets []tfTarget
		for _, t := range props.Targets {
			var values []string
			for _, v := range t.Values {
				e, err := c.value(v)
				if err != nil {
					return err
				}
				values = append(values, e)
			}
			targets = append(targets, tfTarget{Key: tfLiteral(t.Key), Values: values})
		}
		auto := props.TaskInvocationParameters.Automation
		var params []tfTaskParameter
		for _, k := range slices.Sorted(maps.Keys(auto.Parameters)) {
			values, err := c.values(auto.Parameters[k])
			if err != nil {
				return fmt.Errorf("task parameter %s: %w", k, err)
			}
			params = append(params, tfTaskParameter{Name: tfLiteral(k), Values: values})
		}
		f.resource(tfTypeWindowTask, name, tfWindowTask{
			CutoffBehavior: props.CutoffBehavior,
			Description:    tfLiteral(props.Description),
			MaxConcurrency: tfLiteral(props.MaxConcurrency),
			MaxErrors:      tfLiteral(props.MaxErrors),
			Name:           tfLiteral(props.Name),
			Priority:       props.Priority,
			ServiceRoleARN: serviceRole,
			Targets:        targets,
			TaskARN:        task,
			TaskInvocationParameters: tfTaskInvocation{AutomationParameters: tfAutomationParameters{
				DocumentVersion: tfLiteral(auto.DocumentVersion),
				Parameter:       params,
			}},
			TaskType: props.TaskType,
			WindowID: window,
		})
	default:
		// The resources of the backup and dlm engines (engines_terraform.go).
		return c.engineResource(id, r, deps)
	}
	return nil
}

// subString is the text of a template string that may hold pseudo
// parameters: a literal, or the Fn::Sub withSub made of one.
func subString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case json.RawMessage:
		var fn sub
		if json.Unmarshal(t, &fn) == nil && fn.Sub != "" {
			return fn.Sub, true
		}
		var s string
		if json.Unmarshal(t, &s) == nil {
			return s, true
		}
	}
	return "", false
}

// tfRunbookDependsOn is runbookDependsOn in Terraform's addresses.
func tfRunbookDependsOn(p *PolicyPlan) []string {
	var out []string
	for _, id := range runbookDependsOn(p) {
		out = append(out, tfTypeDocument+"."+tfName(id))
	}
	return out
}

// tfManagedPolicyName names the attachment of an AWS managed policy after
// the policy: ".../AmazonSSMManagedInstanceCore" → amazon_ssm_managed_instance_core.
// An acronym stays one word: an upper-case letter starts a new word after
// a lower-case letter or a digit, or before a lower-case letter.
func tfManagedPolicyName(arn string) string {
	s := arn[strings.LastIndexByte(arn, '/')+1:]
	var b strings.Builder
	isUpper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	isLower := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isUpper(c):
			if i > 0 && (isLower(s[i-1]) || isUpper(s[i-1]) && i+1 < len(s) && isLower(s[i+1])) {
				b.WriteByte('_')
			}
			b.WriteByte(c + 'a' - 'A')
		case isLower(c):
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
