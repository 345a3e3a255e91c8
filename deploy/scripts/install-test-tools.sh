#!/usr/bin/env bash
# Installs the test tools that come from the Go module proxy, pinned, into
# .tools/bin of the repository (gitignored): AWS's Lambda Runtime Interface
# Emulator (aws-lambda-rie), which the tests in deploy/rie run the layer
# under. A tool already there at the pinned version is left alone.
set -euo pipefail
cd "$(dirname "$0")/../.."

RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d

bin="$PWD/.tools/bin"
mkdir -p "$bin"

installed() { # binary module version
  [ -x "$bin/$1" ] && go version -m "$bin/$1" 2>/dev/null | awk '$1 == "mod" {print $2, $3}' | grep -qx "$2 $3"
}

if ! installed aws-lambda-rie "$RIE_MODULE" "$RIE_VERSION"; then
  echo "Installing aws-lambda-rie $RIE_VERSION into .tools/bin ..."
  GOBIN="$bin" CGO_ENABLED=0 go install "$RIE_MODULE/cmd/aws-lambda-rie@$RIE_VERSION"
fi
