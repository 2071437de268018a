package schedule

import (
	"testing"
	"time"
)

var benchExprs = []string{
	"cron(0 2 ? * SUN *)",
	"cron(0/5 8-17 ? * MON-FRI *)",
	"cron(15 10 ? * 6L *)",
	"cron(24 30 09 ? * * *)",
	"rate(7 days)",
	"at(2026-12-01T10:00:00)",
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, errs := Parse(benchExprs[i%len(benchExprs)]); errs != nil {
			b.Fatal(errs)
		}
	}
}

func BenchmarkNext(b *testing.B) {
	ny, err := LoadLocation("America/New_York")
	if err != nil {
		b.Fatal(err)
	}
	after := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, expr := range []string{"cron(0 2 ? * SUN *)", "cron(0/5 8-17 ? * MON-FRI *)", "cron(0 2 L * ? *)", "cron(0 0 30 2 ? *)"} {
		s := mustParse(b, expr)
		b.Run(expr, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Next(after, ny, 0, 10)
			}
		})
	}
}
