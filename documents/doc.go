// Package documents models AWS Systems Manager documents — Command documents
// (schema 2.2) that run on an instance and Automation runbooks (schema 0.3)
// that orchestrate — together with the scripts they carry.
//
// It knows nothing of backup policies or YAML: callers describe what a
// document must do with plain Go values, and get back a document that
// marshals to deterministic JSON. Scripts are real files under scripts/,
// embedded at build time, linted and executed by the tests.
package documents
