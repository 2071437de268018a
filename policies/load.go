package policies

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/ssm-backup/ssm-backup/diag"
)

// File is one policy file's name (as the user should see it) and contents.
type File struct {
	Name string
	Data []byte
}

// Source records where a policy came from and where each of its fields is,
// so that later stages can report diagnostics at the right line and column.
type Source struct {
	File string
	// Doc is the 0-based index of the YAML document in the file.
	Doc    int
	Range  diag.Range
	values map[string]diag.Range
	keys   map[string]diag.Range
	// failed holds the paths whose value the loader could not read (and
	// reported), so that validation does not report them a second time.
	failed map[string]bool
	// misspelt holds the paths of fields that an unknown key was taken to
	// be a misspelling of ("did you mean"), so that validation does not
	// also report them as missing.
	misspelt map[string]bool
}

// Value returns the range of the value at path (e.g. spec.schedule.expression),
// or of its closest ancestor that exists in the source.
func (s *Source) Value(path string) diag.Range { return s.lookup(s.values, path) }

// Key returns the range of the key at path, or of the closest ancestor.
func (s *Source) Key(path string) diag.Range { return s.lookup(s.keys, path) }

// Has reports whether the field at path was written in the source.
func (s *Source) Has(path string) bool {
	if s == nil {
		return false
	}
	_, ok := s.values[path]
	return ok
}

// isMisspelt reports whether an unknown key was reported as a likely
// misspelling of the field at path.
func (s *Source) isMisspelt(path string) bool { return s != nil && s.misspelt[path] }

// unreadable reports whether the loader failed to read the value at path or
// at one of its ancestors; such a value is zero and already reported.
func (s *Source) unreadable(path string) bool {
	if s == nil || len(s.failed) == 0 {
		return false
	}
	for p := path; ; {
		if s.failed[p] {
			return true
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

func (s *Source) lookup(m map[string]diag.Range, path string) diag.Range {
	if s == nil {
		return diag.Range{}
	}
	for p := path; ; {
		if r, ok := m[p]; ok {
			return r
		}
		if r, ok := s.values[p]; ok {
			return r
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			return s.Range
		}
		p = p[:i]
	}
}

// maxNodes bounds the work done on one document, so that alias bombs
// ("billion laughs") cannot exhaust memory or time.
const maxNodes = 100000

// LoadFiles loads every policy of every file and checks that names are
// unique across the set. Policies are returned in file order; diagnostics
// are sorted. A file that fails to parse contributes diagnostics only.
func LoadFiles(files []File) ([]*Policy, diag.Diagnostics) {
	var all []*Policy
	var ds diag.Diagnostics
	for _, f := range files {
		ps, fds := Load(f.Name, f.Data)
		all = append(all, ps...)
		ds = append(ds, fds...)
	}
	ds = append(ds, checkUniqueNames(all)...)
	return all, ds.Sorted()
}

func checkUniqueNames(ps []*Policy) diag.Diagnostics {
	var ds diag.Diagnostics
	first := map[string]*Policy{}
	for _, p := range ps {
		name := p.Metadata.Name
		if name == "" {
			continue
		}
		if prev, ok := first[name]; ok {
			r := p.Source.Value("metadata.name")
			pr := prev.Source.Value("metadata.name")
			ds = append(ds, diag.Diagnostic{
				Severity: diag.Error,
				Summary:  fmt.Sprintf("policy name %q is already used", name),
				Detail:   fmt.Sprintf("first defined at %s:%d:%d; names must be unique across the set because they name every generated resource", pr.File, pr.Start.Line, pr.Start.Column),
				Range:    r,
				Path:     "metadata.name",
			})
			continue
		}
		first[name] = p
	}
	return ds
}

var yamlLineRE = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// Load parses every YAML document in one file into policies, strictly:
// unknown keys, wrong types, duplicate keys and syntax errors are all
// reported, each with its position.
func Load(file string, data []byte) ([]*Policy, diag.Diagnostics) {
	var ds diag.Diagnostics
	var out []*Policy
	dec := yaml.NewDecoder(bytes.NewReader(data))
	docs := 0
	for i := 0; ; i++ {
		var root yaml.Node
		err := decodeNode(dec, &root)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			ds = append(ds, syntaxDiagnostic(file, err))
			break
		}
		if root.Kind == yaml.DocumentNode && len(root.Content) == 0 {
			continue
		}
		p, pds := loadDocument(file, i, &root)
		ds = append(ds, pds...)
		if p != nil {
			out = append(out, p)
		}
		if p != nil || len(pds) > 0 {
			docs++
		}
	}
	if docs == 0 && len(ds) == 0 {
		ds = append(ds, diag.Diagnostic{
			Severity: diag.Error,
			Summary:  "file contains no policy",
			Detail:   "a policy file holds one or more YAML documents, each starting with \"apiVersion: " + APIVersion + "\" and \"kind: " + Kind + "\"",
			Range:    diag.Range{File: file, Start: diag.Pos{Line: 1, Column: 1}, End: diag.Pos{Line: 1, Column: 1}},
		})
	}
	return out, ds
}

// decodeNode reads the next document. A panic inside the YAML parser (a bug
// there, on input nobody should write) becomes an error, so that a bad file
// is reported like any other.
func decodeNode(dec *yaml.Decoder, root *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: the YAML parser failed on this input: %v", r)
		}
	}()
	return dec.Decode(root)
}

func syntaxDiagnostic(file string, err error) diag.Diagnostic {
	msg := err.Error()
	line := 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil {
			line = n
		}
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return diag.Diagnostic{
		Severity: diag.Error,
		Summary:  "YAML syntax error: " + msg,
		Range:    diag.Range{File: file, Start: diag.Pos{Line: line, Column: 1}, End: diag.Pos{Line: line, Column: 1}},
	}
}

func loadDocument(file string, index int, root *yaml.Node) (*Policy, diag.Diagnostics) {
	src := &Source{File: file, Doc: index, values: map[string]diag.Range{}, keys: map[string]diag.Range{}, failed: map[string]bool{}, misspelt: map[string]bool{}}
	d := &decoder{src: src}
	n := root
	if n.Kind == yaml.DocumentNode {
		n = n.Content[0]
	}
	src.Range = d.rangeOf(n)
	n = d.resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		// Nothing of a policy can be read from a list or a scalar; stop here
		// rather than report every required field as missing.
		d.errorAt(n, "", "a policy document must be a mapping with apiVersion, kind, metadata and spec, not %s", describeNode(n))
		return nil, d.diags
	}
	p := &Policy{Source: src}
	d.decode(n, reflect.ValueOf(p).Elem(), "")
	if len(d.diags) > 0 && d.aborted {
		return nil, d.diags
	}
	return p, d.diags
}

// nodeDecoder is implemented by policy value types with their own syntax.
type nodeDecoder interface {
	decodeNode(n *yaml.Node, d *decoder, path string)
}

type decoder struct {
	src     *Source
	diags   diag.Diagnostics
	visited int
	aborted bool
	// typeErrors remembers the nodes already reported as having the wrong
	// type, so that a node reached through many aliases is reported once.
	typeErrors map[typeErrorKey]bool
}

type typeErrorKey struct {
	node  *yaml.Node
	want  string
	field string // the path without list indexes
}

var indexRE = regexp.MustCompile(`\[[0-9]+\]`)

func (d *decoder) rangeOf(n *yaml.Node) diag.Range {
	start := diag.Pos{Line: n.Line, Column: n.Column}
	end := start
	if n.Kind == yaml.ScalarNode && !strings.Contains(n.Value, "\n") {
		// Columns count characters, as the YAML parser does.
		end.Column += utf8.RuneCountInString(n.Value)
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			end.Column += 2
		}
	}
	return diag.Range{File: d.src.File, Start: start, End: end}
}

func (d *decoder) record(n *yaml.Node, path string) { d.src.values[path] = d.rangeOf(n) }

// resolve follows aliases, counting visits so alias bombs stop early.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for depth := 0; n.Kind == yaml.AliasNode && n.Alias != nil && depth < 100; depth++ {
		n = n.Alias
	}
	return n
}

func (d *decoder) errorAt(n *yaml.Node, path, format string, args ...any) {
	d.diags = append(d.diags, diag.Errorf(d.rangeOf(n), path, format, args...))
}

// valueError reports a value that could not be read and remembers its path.
func (d *decoder) valueError(n *yaml.Node, path, format string, args ...any) {
	d.src.failed[path] = true
	d.errorAt(n, path, format, args...)
}

func (d *decoder) typeError(n *yaml.Node, path, want string) {
	key := typeErrorKey{n, want, indexRE.ReplaceAllString(path, "[]")}
	if d.typeErrors[key] {
		d.src.failed[path] = true
		return
	}
	if d.typeErrors == nil {
		d.typeErrors = map[typeErrorKey]bool{}
	}
	d.typeErrors[key] = true
	d.valueError(n, path, "%s must be %s, not %s", fieldName(path), want, describeNode(n))
}

func fieldName(path string) string {
	if path == "" {
		return "the document"
	}
	return path
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "empty (null)"
		case "!!bool":
			return "a boolean (" + n.Value + ")"
		case "!!int":
			return "a number (" + n.Value + ")"
		case "!!float":
			return "a number (" + n.Value + ")"
		default:
			return strconv.Quote(n.Value)
		}
	}
	return "an alias"
}

var nodeDecoderType = reflect.TypeOf((*nodeDecoder)(nil)).Elem()

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.aborted {
		return
	}
	d.visited++
	if d.visited > maxNodes {
		d.aborted = true
		d.errorAt(n, path, "document is too large or expands too many aliases (more than %d nodes)", maxNodes)
		return
	}
	n = d.resolve(n)
	if n.Kind == yaml.AliasNode {
		d.valueError(n, path, "alias nests too deeply")
		return
	}
	if path != "" {
		d.record(n, path)
	}
	if v.Kind() == ptrKind {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return // an explicit null is the same as leaving the field out
		}
		// Decode into a fresh value and keep it only when it is well formed,
		// so that validation never sees a half-read value beside the error.
		before := len(d.diags)
		fresh := reflect.New(v.Type().Elem())
		d.decodeValue(n, fresh.Elem(), path)
		if len(d.diags) == before {
			v.Set(fresh)
		} else {
			d.src.failed[path] = true
		}
		return
	}
	d.decodeValue(n, v, path)
}

func (d *decoder) decodeValue(n *yaml.Node, v reflect.Value, path string) {
	if v.CanAddr() && v.Addr().Type().Implements(nodeDecoderType) {
		v.Addr().Interface().(nodeDecoder).decodeNode(n, d, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			d.typeError(n, path, "a string")
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.typeError(n, path, "true or false")
			return
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.typeError(n, path, "a whole number")
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 32)
		if err != nil {
			d.valueError(n, path, "%s: %s is not a whole number in range", fieldName(path), n.Value)
			return
		}
		v.SetInt(i)
	default:
		d.valueError(n, path, "%s cannot be read", fieldName(path))
	}
}

const ptrKind = reflect.Pointer

type structField struct {
	name  string
	index int
}

func yamlFields(t reflect.Type) []structField {
	var out []structField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, structField{name: name, index: i})
	}
	return out
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) checkDuplicate(seen map[string]*yaml.Node, k *yaml.Node, path string) bool {
	if prev, ok := seen[k.Value]; ok {
		d.diags = append(d.diags, diag.Diagnostic{
			Severity: diag.Error,
			Summary:  fmt.Sprintf("duplicate key %q", k.Value),
			Detail:   fmt.Sprintf("first set at line %d, column %d; a key may appear once in a mapping", prev.Line, prev.Column),
			Range:    d.rangeOf(k),
			Path:     joinPath(path, k.Value),
		})
		return true
	}
	seen[k.Value] = k
	return false
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.typeError(n, path, "a mapping of keys to values")
		return
	}
	fields := yamlFields(v.Type())
	byName := map[string]int{}
	var names []string
	for _, f := range fields {
		byName[f.name] = f.index
		names = append(names, f.name)
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := d.resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorAt(k, path, "keys must be plain strings, not %s", describeNode(k))
			continue
		}
		if k.Value == "<<" {
			// The merged fields are not read, so the mapping is incomplete.
			d.valueError(k, path, "YAML merge keys (<<) are not supported in policies; write the fields out")
			continue
		}
		if d.checkDuplicate(seen, k, path) {
			continue
		}
		idx, ok := byName[k.Value]
		if !ok {
			dd := diag.Diagnostic{
				Severity: diag.Error,
				Summary:  fmt.Sprintf("unknown field %q in %s", k.Value, fieldName(path)),
				Range:    d.rangeOf(k),
				Path:     joinPath(path, k.Value),
			}
			if s := Suggest(k.Value, names); s != "" {
				dd.Detail = fmt.Sprintf("did you mean %q?", s)
				d.src.misspelt[joinPath(path, s)] = true
			} else {
				sorted := append([]string(nil), names...)
				sort.Strings(sorted)
				dd.Detail = "known fields: " + strings.Join(sorted, ", ")
			}
			d.diags = append(d.diags, dd)
			continue
		}
		fp := joinPath(path, k.Value)
		d.src.keys[fp] = d.rangeOf(k)
		d.decode(val, v.Field(idx), fp)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.typeError(n, path, "a mapping of keys to values")
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := d.resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			d.errorAt(k, path, "keys of %s must be strings, not %s", fieldName(path), describeNode(k))
			continue
		}
		if k.Value == "<<" {
			d.errorAt(k, path, "YAML merge keys (<<) are not supported in policies; write the fields out")
			continue
		}
		if d.checkDuplicate(seen, k, path) {
			continue
		}
		fp := joinPath(path, k.Value)
		d.src.keys[fp] = d.rangeOf(k)
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, fp)
		v.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.typeError(n, path, "a list")
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, out.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(out)
}

// Suggest returns the candidate closest to s when it is close enough to be a
// likely typo, or "".
func Suggest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		dist := levenshtein(strings.ToLower(s), strings.ToLower(c))
		if bestDist < 0 || dist < bestDist {
			best, bestDist = c, dist
		}
	}
	limit := len(s) / 3
	if limit < 1 {
		limit = 1
	}
	if limit > 3 {
		limit = 3
	}
	if bestDist >= 0 && bestDist <= limit {
		return best
	}
	return ""
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
