package policies

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

const schemaFile = "../schemas/policy.schema.json"

// TestSchemaUpToDate fails when the committed schema differs from the one
// the types reflect; go test ./policies -update rewrites it.
func TestSchemaUpToDate(t *testing.T) {
	got, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(got, []byte("}\n")) {
		t.Errorf("schema does not end with a newline")
	}
	again, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, again) {
		t.Errorf("JSONSchema is not deterministic")
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (run go test ./policies -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("schemas/policy.schema.json is stale; run go test ./policies -update (-committed +reflected):\n%s", diff)
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlDocuments reads every document of a YAML file as JSON values, the
// form a JSON Schema validator (and an editor) sees.
func yamlDocuments(t *testing.T, file string) []any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var docs []any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		j, err := toJSON(v)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		// Round-trip through JSON so numbers are json.Number, as the
		// validator expects.
		b, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, inst)
	}
	return docs
}

// toJSON turns decoded YAML into values encoding/json can marshal: YAML
// mappings may have keys of any type, JSON objects only strings.
func toJSON(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			j, err := toJSON(e)
			if err != nil {
				return nil, err
			}
			out[k] = j
		}
		return out, nil
	case map[any]any:
		out := map[string]any{}
		for k, e := range v {
			j, err := toJSON(e)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = j
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			j, err := toJSON(e)
			if err != nil {
				return nil, err
			}
			out[i] = j
		}
		return out, nil
	default:
		return v, nil
	}
}

// TestSchemaAcceptsValidPolicies validates every valid policy against the
// schema, as an editor would.
func TestSchemaAcceptsValidPolicies(t *testing.T) {
	s := compileSchema(t)
	files := corpusFiles(t, "valid")
	// The example repository and the golden cases are policies users copy:
	// they must satisfy the schema their first line points editors to.
	for _, pattern := range []string{"../examples/policies/*.yaml", "../testdata/golden/*/*.yaml"} {
		more, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, more...)
	}
	if len(files) < 15 {
		t.Fatalf("only %d policy files found", len(files))
	}
	for _, file := range files {
		for i, doc := range yamlDocuments(t, file) {
			if err := s.Validate(doc); err != nil {
				t.Errorf("%s, document %d: %v", file, i+1, err)
			}
		}
	}
}

// TestSchemaRejectsInvalidPolicies checks that the mistakes a schema can
// express are flagged by editors too.
func TestSchemaRejectsInvalidPolicies(t *testing.T) {
	s := compileSchema(t)
	for _, name := range []string{
		"unknown-key-top", "unknown-key-nested", "unknown-key-app", // unknown keys
		"bad-enum", "bad-app-type", "api-version-kind", // enums
		"string-for-int", "list-for-map", "map-for-string", "string-for-bool", "float-for-int", // types
		"missing-required", "missing-spec", "null-required", // required fields
		"bad-duration", "bad-max-concurrency", "bad-max-errors-format", "bad-name", // patterns and lengths
		"offset-range", "retention-count-and-maxage", "retention-empty", // ranges and one-of
		"too-many-target-tags", "too-many-snapshot-tags", "non-ascii-tag-value", "copy-invalid-account", "copies-duplicate",
	} {
		file := filepath.Join("..", "testdata", "invalid", name+".yaml")
		rejected := false
		for _, doc := range yamlDocuments(t, file) {
			if s.Validate(doc) != nil {
				rejected = true
			}
		}
		if !rejected {
			t.Errorf("testdata/invalid/%s.yaml passes the JSON Schema", name)
		}
	}
}
