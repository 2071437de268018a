#!/bin/bash
# install-test-deps.sh: installs what the tests need and the machine lacks.
#
# Idempotent: every tool is checked first, and apt-get runs only for the
# packages that are missing (none: no apt-get at all). Needs root (apt-get).
#
#   package shellcheck         lint of the generated bash scripts
#   xfsprogs, e2fsprogs        mkfs.xfs, mkfs.ext4 for the harness's loop file systems
#   util-linux                 losetup, mount, fsfreeze, findmnt, setsid, flock,
#                              runuser (PostgreSQL as the postgres user)
#   coreutils                  mkfifo, timeout (the MySQL session, hook limits)
#   curl                       the scripts' metadata and --aws-sigv4 client
#   mariadb-server/-client     application-consistency tests: a real server
#                              (mariadbd, mariadb-install-db) and client
#   postgresql-15              application-consistency tests: a real
#                              PostgreSQL 15 server under
#                              /usr/lib/postgresql/15/bin, the postgres user
#   postgresql-client-15       psql, which the snapshot script runs
#   npm (tools/psparse)        tree-sitter + tree-sitter-powershell@0.26.4, the
#                              parser of the generated PowerShell (npm ci)
#   awscli                     only when no aws command exists at all (the
#                              image ships awscli v1 through pyenv; the tests
#                              use whichever aws is on PATH)
set -Eeuo pipefail

# tool → Debian package that provides it
declare -A package_of=(
  [shellcheck]=shellcheck
  [mkfs.xfs]=xfsprogs
  [mkfs.ext4]=e2fsprogs
  [losetup]=util-linux
  [fsfreeze]=util-linux
  [findmnt]=util-linux
  [setsid]=util-linux
  [flock]=util-linux
  [runuser]=util-linux
  [mkfifo]=coreutils
  [timeout]=coreutils
  [curl]=curl
  [mysqld]=mariadb-server
  [mariadbd]=mariadb-server
  [mariadb-install-db]=mariadb-server
  [mariadb]=mariadb-client
  [mysql]=mariadb-client
  [psql]=postgresql-client-15
  [/usr/lib/postgresql/15/bin/postgres]=postgresql-15
  [/usr/lib/postgresql/15/bin/initdb]=postgresql-15
  [aws]=awscli
)

have() {
  if [[ $1 == /* ]]; then
    [[ -x $1 ]]
    return
  fi
  command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 || -x /sbin/$1 ]]
}

declare -A wanted=()
for tool in "${!package_of[@]}"; do
  if ! have "$tool"; then
    wanted[${package_of[$tool]}]=1
    echo "install-test-deps: $tool is missing (package ${package_of[$tool]})" >&2
  fi
done

if ((${#wanted[@]} > 0)); then
  if ((EUID != 0)); then
    echo "install-test-deps: run as root to install: ${!wanted[*]}" >&2
    exit 1
  fi
  mapfile -t packages < <(printf '%s\n' "${!wanted[@]}" | sort)
  echo "install-test-deps: installing ${packages[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${packages[@]}"
else
  echo "install-test-deps: all tools present" >&2
fi

# The PowerShell syntax check (documents/powershell_test.go) parses every
# generated .ps1 with the npm packages tree-sitter and tree-sitter-powershell,
# pinned by tools/psparse/package-lock.json.
psparse="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tools/psparse"
if [[ ! -d $psparse/node_modules/tree-sitter-powershell ]]; then
  if command -v npm >/dev/null 2>&1; then
    echo "install-test-deps: installing the PowerShell parser in tools/psparse" >&2
    (cd "$psparse" && npm ci --no-audit --no-fund) || (cd "$psparse" && npm install --no-audit --no-fund)
  else
    echo "install-test-deps: npm is missing: the PowerShell syntax check cannot run" >&2
  fi
fi

status=0
for tool in "${!package_of[@]}"; do
  if ! have "$tool"; then
    echo "install-test-deps: $tool still missing" >&2
    status=1
  fi
done
if ! id postgres >/dev/null 2>&1; then
  echo "install-test-deps: the postgres user is missing (package postgresql-15 creates it)" >&2
  status=1
fi
exit "$status"
