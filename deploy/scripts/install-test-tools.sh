#!/usr/bin/env bash
# Installs the test tools that come from the Go module proxy, pinned, into
# .tools/bin of the repository (gitignored); they are programs the tests
# run, not dependencies of the project's module. A tool already there at
# the pinned version is left alone.
#   aws-lambda-rie  AWS's Lambda Runtime Interface Emulator (deploy/rie)
#   telemetrygen    OpenTelemetry's load generator (collector interop test)
set -euo pipefail
cd "$(dirname "$0")/../.."

bin="$PWD/.tools/bin"
mkdir -p "$bin"

# install NAME MODULE PACKAGE VERSION: go install PACKAGE@VERSION as $bin/NAME
# unless $bin/NAME was built from MODULE at VERSION.
install() {
  local name=$1 module=$2 package=$3 version=$4
  if [ -x "$bin/$name" ] && go version -m "$bin/$name" 2>/dev/null | awk '$1 == "mod" {print $2, $3}' | grep -qx "$module $version"; then
    return 0
  fi
  echo "Installing $name ($package@$version) into .tools/bin ..."
  GOBIN="$bin" CGO_ENABLED=0 GOFLAGS=-mod=mod go install "$package@$version"
}

install aws-lambda-rie github.com/aws/aws-lambda-runtime-interface-emulator \
  github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie v0.0.0-20261030222936-bef5c4ba774d
install telemetrygen github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen \
  github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen v0.161.0
