#!/usr/bin/env bash
# Installs the test tools the Go tests run as programs, pinned, from the Go
# module proxy into .tools/bin (gitignored); they are not dependencies of
# the project's module. Only a tool missing or at another version is
# installed. Today: OpenTelemetry's telemetrygen (collector interop test).
set -euo pipefail
cd "$(dirname "$0")/../.."

bin="$PWD/.tools/bin"
mkdir -p "$bin"

# install NAME MODULE VERSION: go install MODULE@VERSION as $bin/NAME.
install() {
  local name=$1 module=$2 version=$3
  if [ -x "$bin/$name" ] && go version -m "$bin/$name" 2>/dev/null | grep -qE "^[[:space:]]+mod[[:space:]]+$module[[:space:]]+$version([[:space:]]|$)"; then
    return 0
  fi
  echo "Installing $module@$version into .tools/bin ..."
  GOBIN="$bin" GOFLAGS=-mod=mod go install "$module@$version"
}

install telemetrygen github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen v0.161.0
