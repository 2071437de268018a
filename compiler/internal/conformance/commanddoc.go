package conformance

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// AWS publishes no JSON Schema for Command documents (SOURCES.md, "Not
// found"). These rules come from the documented 2.2 format:
//
//   - "SSM document syntax" / "Data elements and parameters" (Systems
//     Manager User Guide): top-level schemaVersion, description, parameters,
//     mainSteps; parameter fields type (String, StringList, Integer,
//     Boolean, MapList, StringMap), description, default, allowedValues,
//     allowedPattern (RE2 syntax), displayType (textfield, textarea),
//     minItems, maxItems, minChars, maxChars, interpolationType (ENV_VAR).
//   - "Command document plugin reference": the plugin names, their shared
//     inputs (finallyStep, onFailure exit|successAndExit, onSuccess exit),
//     and for aws:runShellScript / aws:runPowerShellScript the inputs
//     runCommand (StringList, required), timeoutSeconds (String) and
//     workingDirectory (String); precondition {"StringEquals":
//     ["platformType", "Linux"|"Windows"|"MacOS"]}.
//   - SSM Agent enforces timeoutSeconds between 5 and 172800 seconds and
//     falls back to 3600 outside that range, so an out-of-range timeout is
//     silently ignored on the instance; it is rejected here.
//
// Step names are checked against ^[a-zA-Z0-9_.-]+$, a conservative rule of
// this checker (SSM Agent puts step names into file paths of its
// orchestration directory), and must be unique.

// CommandPlugins are the plugins of the Command document plugin reference.
var CommandPlugins = []string{
	"aws:applications", "aws:cloudWatch", "aws:configureDocker", "aws:configurePackage",
	"aws:domainJoin", "aws:downloadContent", "aws:psModule", "aws:refreshAssociation",
	"aws:runDockerAction", "aws:runDocument", "aws:runPowerShellScript", "aws:runShellScript",
	"aws:softwareInventory", "aws:updateAgent", "aws:updateSsmAgent",
}

// ParameterTypes are the documented parameter types.
var ParameterTypes = []string{"String", "StringList", "Integer", "Boolean", "MapList", "StringMap"}

// Timeout bounds SSM Agent enforces for aws:runShellScript and
// aws:runPowerShellScript.
const (
	MinScriptTimeoutSeconds = 5
	MaxScriptTimeoutSeconds = 172800
)

var (
	stepNamePattern  = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	paramNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	// placeholder is a {{ name }} reference inside a string.
	placeholder = regexp.MustCompile(`\{\{\s*([^{}\s]*)\s*\}\}`)
	digits      = regexp.MustCompile(`^[0-9]+$`)
)

var (
	commandTopLevel = []string{"schemaVersion", "description", "parameters", "mainSteps"}
	parameterFields = []string{"type", "description", "default", "allowedValues", "allowedPattern",
		"displayType", "minItems", "maxItems", "minChars", "maxChars", "interpolationType"}
	stepFields         = []string{"action", "name", "inputs", "precondition"}
	scriptInputs       = []string{"runCommand", "timeoutSeconds", "workingDirectory", "finallyStep", "onFailure", "onSuccess"}
	platformTypes      = []string{"Linux", "Windows", "MacOS"}
	scriptPlatformType = map[string][]string{
		"aws:runShellScript":      {"Linux", "MacOS"},
		"aws:runPowerShellScript": {"Linux", "Windows", "MacOS"},
	}
)

// CommandParameter is a parameter of a Command document, as decoded.
type CommandParameter struct {
	Name           string
	Type           string
	AllowedPattern string
	AllowedValues  []any
	Default        any
	HasDefault     bool
}

// CommandParameters returns the declared parameters of a decoded Command
// document, sorted by name. Malformed entries are skipped; CheckCommandDocument
// reports them.
func CommandParameters(doc any) []CommandParameter {
	top, _ := doc.(map[string]any)
	params, _ := top["parameters"].(map[string]any)
	var out []CommandParameter
	for _, name := range sortedKeys(params) {
		p, ok := params[name].(map[string]any)
		if !ok {
			continue
		}
		cp := CommandParameter{Name: name}
		cp.Type, _ = p["type"].(string)
		cp.AllowedPattern, _ = p["allowedPattern"].(string)
		cp.AllowedValues, _ = p["allowedValues"].([]any)
		cp.Default, cp.HasDefault = p["default"]
		out = append(out, cp)
	}
	return out
}

// Placeholders returns the names of the {{ name }} references in s.
func Placeholders(s string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// RunCommandPlaceholders returns, per parameter name, how often it is
// referenced from a runCommand line of any step.
func RunCommandPlaceholders(doc any) map[string]int {
	out := map[string]int{}
	top, _ := doc.(map[string]any)
	steps, _ := top["mainSteps"].([]any)
	for _, s := range steps {
		step, _ := s.(map[string]any)
		inputs, _ := step["inputs"].(map[string]any)
		switch rc := inputs["runCommand"].(type) {
		case []any:
			for _, line := range rc {
				if str, ok := line.(string); ok {
					for _, n := range Placeholders(str) {
						out[n]++
					}
				}
			}
		case string:
			for _, n := range Placeholders(rc) {
				out[n]++
			}
		}
	}
	return out
}

// CheckCommandDocument checks a decoded Command document against the
// documented schemaVersion 2.2 format and its parameter references: every
// {{ name }} in mainSteps is a declared parameter and every declared
// parameter is referenced.
func CheckCommandDocument(doc any) []Problem {
	var out []Problem
	add := func(path, format string, args ...any) {
		out = append(out, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	top, ok := doc.(map[string]any)
	if !ok {
		add("(root)", "a document must be an object, got %s", jsonKind(doc))
		return out
	}
	for _, k := range sortedKeys(top) {
		if !contains(commandTopLevel, k) {
			add(k, "unknown top-level element %q of a schemaVersion 2.2 document (known: %s)", k, strings.Join(commandTopLevel, ", "))
		}
	}
	if v, ok := top["schemaVersion"].(string); !ok || v != "2.2" {
		add("schemaVersion", "must be the string \"2.2\", got %v", top["schemaVersion"])
	}
	if d, ok := top["description"]; ok {
		if _, isStr := d.(string); !isStr {
			add("description", "must be a string, got %s", jsonKind(d))
		}
	}
	declared := map[string]bool{}
	if raw, ok := top["parameters"]; ok {
		params, ok := raw.(map[string]any)
		if !ok {
			add("parameters", "must be an object, got %s", jsonKind(raw))
		}
		for _, name := range sortedKeys(params) {
			declared[name] = true
			checkParameter(add, "parameters."+name, name, params[name])
		}
	}
	steps, ok := top["mainSteps"].([]any)
	if !ok || len(steps) == 0 {
		add("mainSteps", "must be a non-empty array of steps")
	}
	names := map[string]int{}
	used := map[string]bool{}
	for i, s := range steps {
		path := fmt.Sprintf("mainSteps[%d]", i)
		step, ok := s.(map[string]any)
		if !ok {
			add(path, "a step must be an object, got %s", jsonKind(s))
			continue
		}
		checkStep(add, path, step, names)
		walkStrings(step, func(p, str string) {
			for _, n := range Placeholders(str) {
				used[n] = true
				if !declared[n] {
					add(path+p, "{{ %s }} is not a declared parameter", n)
				}
			}
		}, "")
	}
	for _, name := range sortedKeys(declared) {
		if !used[name] {
			add("parameters."+name, "declared but never referenced from mainSteps")
		}
	}
	return out
}

func checkParameter(add func(string, string, ...any), path, name string, raw any) {
	if !paramNamePattern.MatchString(name) {
		add(path, "parameter name %q must match %s", name, paramNamePattern)
	}
	p, ok := raw.(map[string]any)
	if !ok {
		add(path, "a parameter must be an object, got %s", jsonKind(raw))
		return
	}
	for _, k := range sortedKeys(p) {
		if !contains(parameterFields, k) {
			add(path+"."+k, "unknown parameter field %q (known: %s)", k, strings.Join(parameterFields, ", "))
		}
	}
	typ, _ := p["type"].(string)
	if !contains(ParameterTypes, typ) {
		add(path+".type", "must be one of %s, got %v", strings.Join(ParameterTypes, ", "), p["type"])
	}
	if d, ok := p["description"]; ok {
		if _, isStr := d.(string); !isStr {
			add(path+".description", "must be a string")
		}
	}
	var re *regexp.Regexp
	if raw, ok := p["allowedPattern"]; ok {
		pat, isStr := raw.(string)
		if !isStr {
			add(path+".allowedPattern", "must be a string")
		} else if typ != "String" && typ != "StringList" {
			add(path+".allowedPattern", "applies to String and StringList parameters, not %s", typ)
		} else if compiled, err := regexp.Compile(pat); err != nil {
			// The documentation: allowedPattern uses RE2 syntax.
			add(path+".allowedPattern", "is not RE2 syntax: %v", err)
		} else {
			re = compiled
		}
	}
	var allowed []any
	if raw, ok := p["allowedValues"]; ok {
		list, isList := raw.([]any)
		if !isList || len(list) == 0 {
			add(path+".allowedValues", "must be a non-empty array")
		}
		for i, v := range list {
			if !valueHasType(typ, v, true) {
				add(fmt.Sprintf("%s.allowedValues[%d]", path, i), "%v is not a %s value", v, typ)
			}
		}
		allowed = list
	}
	if d, ok := p["default"]; ok {
		if !valueHasType(typ, d, false) {
			add(path+".default", "%v is not a %s value", d, typ)
		}
		for _, s := range stringsOf(d) {
			if re != nil && !re.MatchString(s) {
				add(path+".default", "%q does not match the parameter's own allowedPattern", s)
			}
			if allowed != nil && !containsValue(allowed, s) {
				add(path+".default", "%q is not among the parameter's allowedValues", s)
			}
		}
	}
	if v, ok := p["displayType"]; ok && v != "textfield" && v != "textarea" {
		add(path+".displayType", "must be textfield or textarea, got %v", v)
	}
	if v, ok := p["interpolationType"]; ok && v != "ENV_VAR" {
		add(path+".interpolationType", "must be ENV_VAR, got %v", v)
	}
	for _, k := range []string{"minItems", "maxItems", "minChars", "maxChars"} {
		if v, ok := p[k]; ok {
			if n, isNum := number(v); !isNum || !n.IsInt() || n.Sign() < 0 {
				add(path+"."+k, "must be a non-negative integer, got %v", v)
			}
		}
	}
}

func valueHasType(typ string, v any, element bool) bool {
	switch typ {
	case "String":
		_, ok := v.(string)
		return ok
	case "StringList":
		if element {
			_, ok := v.(string)
			return ok
		}
		list, ok := v.([]any)
		if !ok {
			return false
		}
		for _, x := range list {
			if _, ok := x.(string); !ok {
				return false
			}
		}
		return true
	case "Integer":
		n, ok := number(v)
		return ok && n.IsInt()
	case "Boolean":
		_, ok := v.(bool)
		return ok
	case "StringMap":
		_, ok := v.(map[string]any)
		return ok
	case "MapList":
		if element {
			_, ok := v.(map[string]any)
			return ok
		}
		list, ok := v.([]any)
		if !ok {
			return false
		}
		for _, x := range list {
			if _, ok := x.(map[string]any); !ok {
				return false
			}
		}
		return true
	}
	return false
}

func stringsOf(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func containsValue(list []any, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func checkStep(add func(string, string, ...any), path string, step map[string]any, names map[string]int) {
	for _, k := range sortedKeys(step) {
		if !contains(stepFields, k) {
			add(path+"."+k, "unknown step field %q (known: %s)", k, strings.Join(stepFields, ", "))
		}
	}
	name, _ := step["name"].(string)
	switch {
	case name == "":
		add(path+".name", "a step needs a non-empty name")
	case !stepNamePattern.MatchString(name):
		add(path+".name", "step name %q must match %s", name, stepNamePattern)
	}
	if name != "" {
		names[name]++
		if names[name] == 2 {
			add(path+".name", "step name %q is not unique", name)
		}
	}
	action, _ := step["action"].(string)
	if !contains(CommandPlugins, action) {
		add(path+".action", "%v is not a Command document plugin (known: %s)", step["action"], strings.Join(CommandPlugins, ", "))
	}
	inputs, ok := step["inputs"].(map[string]any)
	if !ok {
		add(path+".inputs", "a step needs an inputs object")
	}
	if _, isScript := scriptPlatformType[action]; isScript && inputs != nil {
		checkScriptInputs(add, path+".inputs", inputs)
	}
	if raw, ok := step["precondition"]; ok {
		checkPrecondition(add, path+".precondition", action, raw)
	}
}

func checkScriptInputs(add func(string, string, ...any), path string, inputs map[string]any) {
	for _, k := range sortedKeys(inputs) {
		if !contains(scriptInputs, k) {
			add(path+"."+k, "unknown input %q (known: %s)", k, strings.Join(scriptInputs, ", "))
		}
	}
	switch rc := inputs["runCommand"].(type) {
	case []any:
		if len(rc) == 0 {
			add(path+".runCommand", "must not be empty")
		}
		for i, line := range rc {
			if _, ok := line.(string); !ok {
				add(fmt.Sprintf("%s.runCommand[%d]", path, i), "must be a string, got %s", jsonKind(line))
			}
		}
	default:
		add(path+".runCommand", "is required and must be a non-empty list of strings, got %s", jsonKind(rc))
	}
	if raw, ok := inputs["timeoutSeconds"]; ok {
		var n int64
		var valid bool
		switch t := raw.(type) {
		case string:
			if digits.MatchString(t) {
				v, err := strconv.ParseInt(t, 10, 64)
				n, valid = v, err == nil
			}
		case json.Number:
			v, err := t.Int64()
			n, valid = v, err == nil
		case float64:
			n, valid = int64(t), t == float64(int64(t))
		}
		switch {
		case !valid:
			add(path+".timeoutSeconds", "must be a whole number of seconds, got %v", raw)
		case n < MinScriptTimeoutSeconds || n > MaxScriptTimeoutSeconds:
			add(path+".timeoutSeconds", "%d is outside %d..%d; SSM Agent would ignore it and use 3600", n, MinScriptTimeoutSeconds, MaxScriptTimeoutSeconds)
		}
	}
	if v, ok := inputs["workingDirectory"]; ok {
		if _, isStr := v.(string); !isStr {
			add(path+".workingDirectory", "must be a string")
		}
	}
	if v, ok := inputs["onFailure"]; ok && v != "exit" && v != "successAndExit" {
		add(path+".onFailure", "must be exit or successAndExit, got %v", v)
	}
	if v, ok := inputs["onSuccess"]; ok && v != "exit" {
		add(path+".onSuccess", "must be exit, got %v", v)
	}
	if v, ok := inputs["finallyStep"]; ok {
		if _, isBool := v.(bool); !isBool {
			add(path+".finallyStep", "must be a boolean")
		}
	}
}

func checkPrecondition(add func(string, string, ...any), path, action string, raw any) {
	pre, ok := raw.(map[string]any)
	if !ok || len(pre) != 1 {
		add(path, `must be an object with the single operator "StringEquals"`)
		return
	}
	args, ok := pre["StringEquals"].([]any)
	if !ok || len(args) != 2 {
		add(path, `must be {"StringEquals": [operand, value]}`)
		return
	}
	left, _ := args[0].(string)
	right, _ := args[1].(string)
	if left != "platformType" {
		// Parameter references are also documented as operands; these
		// documents only test the platform.
		add(path+".StringEquals[0]", `must be "platformType", got %v`, args[0])
		return
	}
	if !contains(platformTypes, right) {
		add(path+".StringEquals[1]", "must be one of %s, got %v", strings.Join(platformTypes, ", "), args[1])
		return
	}
	if allowed, ok := scriptPlatformType[action]; ok && !contains(allowed, right) {
		add(path+".StringEquals[1]", "%s does not run on %s", action, right)
	}
}

// walkStrings calls f for every string inside v with its path.
func walkStrings(v any, f func(path, s string), path string) {
	switch t := v.(type) {
	case string:
		f(path, t)
	case []any:
		for i, x := range t {
			walkStrings(x, f, fmt.Sprintf("%s[%d]", path, i))
		}
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walkStrings(t[k], f, path+"."+k)
		}
	}
}
