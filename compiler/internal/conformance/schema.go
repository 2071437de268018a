package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaFile is one JSON Schema document to register with a compiler.
type SchemaFile struct {
	// URI is the name the other schemas use to refer to it ("policy" for
	// cfn-lint's IAM schemas, whose $refs read "policy#/definitions/...").
	URI string
	// Path is the file on disk.
	Path string
}

// CompileSchemas registers every file with one compiler using draft as the
// default dialect and RE2Engine for patterns, then compiles the schema
// registered under root.
//
// When ignoreDeclared is true, a "$schema" keyword in a file is dropped so
// that draft applies to it. That is needed for the CloudFormation provider
// schemas: AWS::IAM::Role declares the provider-definition meta-schema (not
// vendored, not a JSON Schema draft), and SOURCES.md caveat 3 requires
// 2019-09/2020-12 semantics because the schemas put keywords next to $ref.
func CompileSchemas(draft *jsonschema.Draft, ignoreDeclared bool, root string, files ...SchemaFile) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(draft)
	c.UseRegexpEngine(RE2Engine)
	for _, f := range files {
		doc, err := ReadJSON(f.Path)
		if err != nil {
			return nil, err
		}
		if m, ok := doc.(map[string]any); ok && ignoreDeclared {
			delete(m, "$schema")
		}
		if err := c.AddResource(f.URI, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	return c.Compile(root)
}

// ReadJSON reads a file as a JSON value with numbers kept as json.Number,
// which is what jsonschema validates.
func ReadJSON(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := DecodeJSON(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// DecodeJSON decodes one JSON value, numbers as json.Number, and rejects
// trailing data.
func DecodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// ToJSONValue turns any Go value into the generic form DecodeJSON returns
// (maps, slices, json.Number), through encoding/json.
func ToJSONValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return DecodeJSON(b)
}

// Finding is one leaf of a JSON Schema validation error: the deepest
// reason the instance was rejected.
type Finding struct {
	// Pointer is the JSON pointer of the offending value in the instance.
	Pointer string
	// Keyword is the JSON pointer of the failing keyword inside its
	// schema, e.g. "/properties/mainSteps/items/additionalProperties".
	Keyword string
	// Message is the validator's explanation.
	Message string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: %s [schema %s]", displayPointer(f.Pointer), f.Message, f.Keyword)
}

func displayPointer(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}

// Validate validates instance against sch and returns the leaves of the
// error tree, sorted. It returns nil when the instance is valid, and an
// error only when validation could not run.
func Validate(sch *jsonschema.Schema, instance any) ([]Finding, error) {
	err := sch.Validate(instance)
	if err == nil {
		return nil, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil, err
	}
	var out []Finding
	collectLeaves(ve, &out)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pointer != out[j].Pointer {
			return out[i].Pointer < out[j].Pointer
		}
		if out[i].Keyword != out[j].Keyword {
			return out[i].Keyword < out[j].Keyword
		}
		return out[i].Message < out[j].Message
	})
	return dedupe(out), nil
}

func collectLeaves(e *jsonschema.ValidationError, out *[]Finding) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collectLeaves(c, out)
		}
		return
	}
	keyword := ""
	if i := strings.IndexByte(e.SchemaURL, '#'); i >= 0 {
		keyword = e.SchemaURL[i+1:]
	}
	if e.ErrorKind != nil {
		for _, tok := range e.ErrorKind.KeywordPath() {
			keyword += "/" + escapePointer(tok)
		}
	}
	msg := e.Error()
	// A leaf prints as "at '<pointer>': <message>".
	if i := strings.Index(msg, "': "); strings.HasPrefix(msg, "at '") && i >= 0 {
		msg = msg[i+3:]
	}
	*out = append(*out, Finding{Pointer: Pointer(e.InstanceLocation), Keyword: keyword, Message: msg})
}

func dedupe(fs []Finding) []Finding {
	var out []Finding
	for i, f := range fs {
		if i > 0 && f == fs[i-1] {
			continue
		}
		out = append(out, f)
	}
	return out
}

// Pointer renders path tokens as a JSON pointer (RFC 6901).
func Pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapePointer(t))
	}
	return b.String()
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
