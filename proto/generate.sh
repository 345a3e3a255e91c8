#!/usr/bin/env bash
# Generates the Go code of the Ingest API into the given module root
# (default: the repository root). Uses Debian's protoc and the protoc-gen-go /
# protoc-gen-go-grpc versions pinned as tools in go.mod.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${1:-$root}
command -v protoc >/dev/null || { echo "protoc not found: install Debian's protobuf-compiler (apt-get install -y protobuf-compiler)" >&2; exit 1; }
cd "$root"
gen_go=$(go tool -n protoc-gen-go)
gen_grpc=$(go tool -n protoc-gen-go-grpc)
mkdir -p "$out"
protoc -I proto -I proto/otlpstub \
  --plugin=protoc-gen-go="$gen_go" --plugin=protoc-gen-go-grpc="$gen_grpc" \
  --go_out="$out" --go_opt=module=github.com/lambdascope/lambdascope \
  --go-grpc_out="$out" --go-grpc_opt=module=github.com/lambdascope/lambdascope \
  $(cd proto && find lambdascope -name '*.proto' | sort)
