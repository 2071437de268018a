package compiler_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/policies"
)

// policySet builds n distinct valid policies, ten per file.
func policySet(n int) []policies.File {
	var files []policies.File
	var b strings.Builder
	for i := 0; i < n; i++ {
		if b.Len() > 0 {
			b.WriteString("---\n")
		}
		consistency, volumes := "filesystem", "data"
		if i%3 == 0 {
			consistency, volumes = "crash", "all"
		}
		fmt.Fprintf(&b, `apiVersion: ssm-backup/v1
kind: BackupPolicy
metadata:
  name: fleet-%05d
  description: Benchmark fleet %d
spec:
  platform: linux
  targets:
    tags: {Backup: fleet-%d, Environment: [production, staging]}
  volumes: %s
  consistency: %s
  schedule:
    expression: cron(%d %d * * ? *)
    timezone: Europe/Berlin
    window: {duration: 2h, cutoff: 1h}
    maxConcurrency: "10%%"
    maxErrors: "1"
  tags: {CostCenter: "cc-%d"}
`, i, i, i, volumes, consistency, i%60, i%24, i%7)
		if (i+1)%10 == 0 || i == n-1 {
			files = append(files, policies.File{Name: fmt.Sprintf("policies/set-%05d.yaml", i/10), Data: []byte(b.String())})
			b.Reset()
		}
	}
	return files
}

func TestPolicySetCompiles(t *testing.T) {
	res := compiler.Compile(policySet(25), compiler.Options{Now: goldenNow})
	if res.Diagnostics.HasErrors() {
		t.Fatalf("benchmark input is invalid:\n%v", res.Diagnostics)
	}
	if got := len(res.Plan.Policies); got != 25 {
		t.Fatalf("compiled %d policies, want 25", got)
	}
}

// BenchmarkCompile measures the whole pipeline (load, validate, lower,
// emit) for sets of 1 to 10 000 policies.
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 10000} {
		files := policySet(n)
		b.Run(fmt.Sprintf("policies=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res := compiler.Compile(files, compiler.Options{Now: goldenNow})
				if res.Diagnostics.HasErrors() {
					b.Fatal(res.Diagnostics)
				}
			}
		})
	}
}

// engineSet builds n distinct valid policies run by AWS Backup (even) and
// Data Lifecycle Manager (odd, with the pre/post script document), ten per
// file.
func engineSet(n int) []policies.File {
	var files []policies.File
	var b strings.Builder
	for i := 0; i < n; i++ {
		if b.Len() > 0 {
			b.WriteString("---\n")
		}
		engine := "engine: backup\n  consistency: crash\n  schedule: {expression: \"cron(%d %d * * ? *)\", timezone: Europe/Berlin}\n  retention: {maxAge: 35d}\n"
		if i%2 == 1 {
			engine = "engine: dlm\n  volumes: data\n  consistency: filesystem\n  schedule: {expression: \"cron(%d %d * * ? *)\"}\n  retention: {count: 14}\n"
		}
		fmt.Fprintf(&b, "apiVersion: ssm-backup/v1\nkind: BackupPolicy\nmetadata:\n  name: eng-%05d\nspec:\n  platform: linux\n  targets:\n    tags: {Backup: eng-%d}\n  "+engine+"  copies: [{region: us-west-2, retention: {maxAge: 14d}}]\n", i, i, i%60, i%24)
		if (i+1)%10 == 0 || i == n-1 {
			files = append(files, policies.File{Name: fmt.Sprintf("policies/eng-%05d.yaml", i/10), Data: []byte(b.String())})
			b.Reset()
		}
	}
	return files
}

// BenchmarkCompileEngines measures sets of AWS Backup and DLM policies.
func BenchmarkCompileEngines(b *testing.B) {
	for _, n := range []int{100, 1000} {
		files := engineSet(n)
		b.Run(fmt.Sprintf("policies=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res := compiler.Compile(files, compiler.Options{Now: goldenNow})
				if res.Diagnostics.HasErrors() {
					b.Fatal(res.Diagnostics)
				}
			}
		})
	}
}
