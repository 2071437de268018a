package compiler

import (
	"bytes"
	"encoding/json"
	"sort"
)

// writeTemplate renders the template exactly as documents.MarshalIndent
// would, but straight into one buffer sized up front: templates of large
// policy sets run to tens of megabytes, and re-indenting them through the
// encoder's growing buffers cost more than everything else Emit does.
func writeTemplate(t *renderedTemplate) ([]byte, error) {
	size := 256
	for _, m := range []map[string]json.RawMessage{t.Resources, t.Outputs} {
		for k, v := range m {
			// Indentation roughly triples compact JSON.
			size += len(k) + 3*len(v) + 16
		}
	}
	var buf bytes.Buffer
	buf.Grow(size)
	buf.WriteString("{\n")
	writeField(&buf, "AWSTemplateFormatVersion", t.AWSTemplateFormatVersion)
	buf.WriteString(",\n")
	writeField(&buf, "Description", t.Description)
	buf.WriteString(",\n")
	if err := writeObject(&buf, "Resources", t.Resources); err != nil {
		return nil, err
	}
	if len(t.Outputs) > 0 {
		buf.WriteString(",\n")
		if err := writeObject(&buf, "Outputs", t.Outputs); err != nil {
			return nil, err
		}
	}
	buf.WriteString("\n}\n")
	return buf.Bytes(), nil
}

func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // a string always encodes
	buf.Truncate(buf.Len() - 1) // Encode's newline
}

func writeField(buf *bytes.Buffer, key, value string) {
	buf.WriteString("  ")
	writeString(buf, key)
	buf.WriteString(": ")
	writeString(buf, value)
}

func writeObject(buf *bytes.Buffer, key string, m map[string]json.RawMessage) error {
	buf.WriteString("  ")
	writeString(buf, key)
	if len(m) == 0 {
		buf.WriteString(": {}")
		return nil
	}
	buf.WriteString(": {\n")
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			buf.WriteString(",\n")
		}
		buf.WriteString("    ")
		writeString(buf, k)
		buf.WriteString(": ")
		if err := json.Indent(buf, m[k], "    ", "  "); err != nil {
			return err
		}
	}
	buf.WriteString("\n  }")
	return nil
}
