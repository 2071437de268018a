package policies

import (
	"bytes"
	"encoding/json"

	"github.com/invopop/jsonschema"
)

// SchemaID is the $id of the policy JSON Schema.
const SchemaID = "https://github.com/ssm-backup/ssm-backup/schemas/policy.schema.json"

// JSONSchema reflects the policy types into a JSON Schema (draft 2020-12)
// for editors and CI: indented, deterministic, with a trailing newline.
// Unknown keys are rejected, as the loader rejects them. Rules a schema
// cannot say (cross-field rules, schedule syntax) are left to Validate.
func JSONSchema() ([]byte, error) {
	r := &jsonschema.Reflector{
		// Every subschema inline: editors that read older drafts ignore
		// the siblings of a $ref, and would lose descriptions and defaults.
		DoNotReference:             true,
		ExpandedStruct:             true,
		RequiredFromJSONSchemaTags: true,
		AllowAdditionalProperties:  false,
	}
	s := r.Reflect(&Policy{})
	s.ID = SchemaID
	s.Title = "ssm-backup policy"
	s.Description = "A backup policy (" + APIVersion + "): which EC2 instances to snapshot, how consistent the snapshots must be, when, and for how long they are kept."
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil { // Encode ends with a newline
		return nil, err
	}
	return buf.Bytes(), nil
}

// JSONSchemaExtend adds what struct tags cannot say about target tags.
func (Targets) JSONSchemaExtend(s *jsonschema.Schema) {
	if tags, ok := s.Properties.Get("tags"); ok {
		tags.MinProperties = uint64Ptr(1)
		tags.MaxProperties = uint64Ptr(maxTargetTagKeys)
		tags.PropertyNames = &jsonschema.Schema{MinLength: uint64Ptr(1), MaxLength: uint64Ptr(maxTagKeyLength)}
		tags.Examples = []any{map[string]any{"ConsistentSnapshot": "AmazonLinuxMySQL"}}
	}
}

// JSONSchemaExtend adds what struct tags cannot say about snapshot tags.
func (Spec) JSONSchemaExtend(s *jsonschema.Schema) {
	if tags, ok := s.Properties.Get("tags"); ok {
		tags.MaxProperties = uint64Ptr(maxSnapshotTags)
		tags.PropertyNames = &jsonschema.Schema{
			MinLength: uint64Ptr(1),
			MaxLength: uint64Ptr(maxTagKeyLength),
			Pattern:   snapshotTagRE.String(),
		}
		tags.AdditionalProperties = &jsonschema.Schema{
			Type:      "string",
			MaxLength: uint64Ptr(maxTagValueLength),
			Pattern:   snapshotTagRE.String(),
		}
		tags.Examples = []any{map[string]any{"CostCenter": "db"}}
	}
}

// JSONSchemaExtend lets maxConcurrency and maxErrors be written as YAML
// numbers as well as strings, as the loader reads them.
func (Schedule) JSONSchemaExtend(s *jsonschema.Schema) {
	for name, minimum := range map[string]string{"maxConcurrency": "1", "maxErrors": "0"} {
		prop, ok := s.Properties.Get(name)
		if !ok {
			continue
		}
		prop.AnyOf = []*jsonschema.Schema{
			{Type: "string", Pattern: prop.Pattern, MaxLength: prop.MaxLength},
			{Type: "integer", Minimum: json.Number(minimum), Maximum: json.Number("9999999")},
		}
		prop.Type, prop.Pattern, prop.MaxLength = "", "", nil
	}
}
