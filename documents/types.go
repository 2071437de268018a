package documents

import (
	"bytes"
	"encoding/json"
)

// Parameter is a document parameter. User values reach scripts only through
// parameters, and every String parameter a script reads carries an
// AllowedPattern that excludes shell metacharacters.
type Parameter struct {
	Type           string   `json:"type"`
	Description    string   `json:"description,omitempty"`
	Default        any      `json:"default,omitempty"`
	AllowedPattern string   `json:"allowedPattern,omitempty"`
	AllowedValues  []string `json:"allowedValues,omitempty"`
	MinItems       int      `json:"minItems,omitempty"`
	MaxItems       int      `json:"maxItems,omitempty"`
}

// CommandDocument is an SSM Command document, schemaVersion 2.2.
type CommandDocument struct {
	SchemaVersion string               `json:"schemaVersion"`
	Description   string               `json:"description"`
	Parameters    map[string]Parameter `json:"parameters,omitempty"`
	MainSteps     []CommandStep        `json:"mainSteps"`
}

// CommandStep is one plugin invocation in a Command document.
type CommandStep struct {
	Action       string          `json:"action"`
	Name         string          `json:"name"`
	Precondition *Precondition   `json:"precondition,omitempty"`
	Inputs       RunScriptInputs `json:"inputs"`
}

// Precondition restricts a step to a platform, e.g. {"StringEquals": ["platformType", "Linux"]}.
type Precondition struct {
	StringEquals []string `json:"StringEquals"`
}

// RunScriptInputs are the inputs of aws:runShellScript and aws:runPowerShellScript.
type RunScriptInputs struct {
	TimeoutSeconds   string   `json:"timeoutSeconds,omitempty"`
	WorkingDirectory string   `json:"workingDirectory,omitempty"`
	RunCommand       []string `json:"runCommand"`
}

// AutomationDocument is an SSM Automation runbook, schemaVersion 0.3.
type AutomationDocument struct {
	SchemaVersion string               `json:"schemaVersion"`
	Description   string               `json:"description"`
	AssumeRole    string               `json:"assumeRole,omitempty"`
	Parameters    map[string]Parameter `json:"parameters,omitempty"`
	MainSteps     []AutomationStep     `json:"mainSteps"`
	Outputs       []string             `json:"outputs,omitempty"`
}

// AutomationStep is one step of a runbook. Inputs is action-specific; use a
// struct or an ordered type so the JSON is deterministic.
type AutomationStep struct {
	Name           string       `json:"name"`
	Action         string       `json:"action"`
	Description    string       `json:"description,omitempty"`
	MaxAttempts    int          `json:"maxAttempts,omitempty"`
	TimeoutSeconds int          `json:"timeoutSeconds,omitempty"`
	OnFailure      string       `json:"onFailure,omitempty"`
	OnCancel       string       `json:"onCancel,omitempty"`
	IsCritical     *bool        `json:"isCritical,omitempty"`
	IsEnd          bool         `json:"isEnd,omitempty"`
	NextStep       string       `json:"nextStep,omitempty"`
	Inputs         any          `json:"inputs"`
	Outputs        []StepOutput `json:"outputs,omitempty"`
}

// StepOutput names a value a step exposes to later steps.
type StepOutput struct {
	Name     string `json:"Name"`
	Selector string `json:"Selector"`
	Type     string `json:"Type"`
}

// MarshalIndent renders any document as deterministic, indented JSON with a
// trailing newline and without HTML escaping (scripts contain < > &).
func MarshalIndent(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
