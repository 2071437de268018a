package review_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/policies"
	"github.com/ssm-backup/ssm-backup/review"
)

// benchPolicies writes n policies; with changed set, every 10th schedule,
// every 7th retention and every 13th target tag set differ, and the last 5
// policies are replaced by 5 others (5 removed, 5 added).
func benchPolicies(n int, changed bool) []policies.File {
	var b strings.Builder
	for i := range n {
		name := fmt.Sprintf("fleet-%04d", i)
		hour, count, tag := i%24, 7, fmt.Sprintf("fleet-%d", i)
		if changed {
			if i%10 == 0 {
				hour = (hour + 3) % 24
			}
			if i%7 == 0 {
				count = 3
			}
			if i%13 == 0 {
				tag += "-new"
			}
			if i >= n-5 {
				name = fmt.Sprintf("added-%04d", i)
			}
		}
		fmt.Fprintf(&b, `---
apiVersion: ssm-backup/v1
kind: BackupPolicy
metadata:
  name: %s
spec:
  platform: linux
  targets:
    tags: {Backup: %s}
  volumes: data
  consistency: filesystem
  schedule:
    expression: cron(15 %d * * ? *)
    timezone: Europe/Berlin
  retention: {count: %d}
  lint: {ignore: [W001]}
`, name, tag, hour, count)
	}
	return []policies.File{{Name: "policies.yaml", Data: []byte(b.String())}}
}

func compileBench(b *testing.B, files []policies.File) (compiler.Files, []review.Warning) {
	b.Helper()
	res := compiler.Compile(files, compiler.Options{Now: goldenNow})
	if res.Diagnostics.HasErrors() {
		b.Fatalf("benchmark policies do not compile: %v", res.Diagnostics.Errors()[0])
	}
	return res.Files, review.WarningsOf(res.Policies, res.Diagnostics)
}

// BenchmarkPlan compares 1 000 policies with a previous set of 1 000 in
// which some schedules, retention rules and targets differ, and renders
// the plan as Markdown and JSON. Compiling the two sets is not timed.
func BenchmarkPlan(b *testing.B) {
	oldFiles, oldWarnings := compileBench(b, benchPolicies(1000, false))
	newFiles, newWarnings := compileBench(b, benchPolicies(1000, true))
	b.ReportAllocs()
	b.ResetTimer()
	var plan *review.Plan
	for b.Loop() {
		plan = review.Compare(review.Input{
			Old: review.Side{Files: oldFiles, Warnings: oldWarnings},
			New: review.Side{Files: newFiles, Warnings: newWarnings},
			Now: goldenNow,
		})
		plan.Markdown()
		if _, err := plan.JSON(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if plan.Counts.Added != 5 || plan.Counts.Removed != 5 || plan.Counts.Changed == 0 {
		b.Fatalf("unexpected plan: %+v", plan.Counts)
	}
	b.ReportMetric(float64(plan.Counts.Changed), "changed-policies")
}
