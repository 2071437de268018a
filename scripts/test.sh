#!/usr/bin/env bash
# Runs every test of ssm-backup, installing what the tests need when it is
# missing (shellcheck, xfsprogs, MariaDB, ...). Run as root: the script
# tests freeze real loop-mounted file systems. Under CI=true a missing tool
# fails the run instead of skipping a test.
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/install-test-deps.sh

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test"
go test -count=1 ./... "$@"
