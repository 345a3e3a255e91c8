// Package extension holds the Lambdascope Lambda extension: the binary in
// cmd/lambdascope-extension that Lambda starts from /opt/extensions, and its
// private parts under internal/. It imports only the standard library, the
// repository's proto packages, gRPC, protobuf and the OTLP messages, so it
// stays small and starts fast.
package extension
