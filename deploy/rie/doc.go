// Package rie runs a function, with or without the Lambdascope layer, under
// AWS's open-source Lambda Runtime Interface Emulator (aws-lambda-rie), the
// second platform the extension is tested on beside the project's own
// emulator (package emulator). Where the two disagree, AWS's behaviour is
// the reference; emulator/README.md lists the differences.
//
// A Sandbox lays the function out as Lambda does, inside a private mount
// namespace (unshare -m) so that the machine's own directories are never
// touched and several sandboxes run side by side:
//
//   - the layer zip unpacked over /opt (/opt/extensions/lambdascope, the
//     launcher Lambda starts, and /opt/lambdascope/lambdascope-extension),
//     by a bind mount of a temporary directory;
//   - the function's bootstrap at /var/task/bootstrap (and any other files
//     of its package, Options.TaskFiles, beside it), the working
//     directory, by an overlay over /var whose upper layer is temporary;
//   - an /etc/hosts naming sandbox.localdomain, as Lambda's does, where
//     the extension's Telemetry API listener binds (AWS's emulator in
//     Managed Instances mode only delivers telemetry there);
//   - a /tmp of its own, as every Lambda sandbox has;
//   - the emulator itself at /var/rapid/aws-lambda-rie (where Lambda keeps
//     its own init), started in /var/task.
//
// Every sandbox gets free loopback ports for the Runtime API
// (--runtime-api-address, 9001 in Lambda), for the emulator's invoke
// endpoint (--runtime-interface-emulator-address) and for the extension's
// OTLP receivers (LAMBDASCOPE_OTLP_GRPC_ADDR, LAMBDASCOPE_OTLP_HTTP_ADDR and
// OTEL_EXPORTER_OTLP_ENDPOINT, for 4317 and 4318): the liberty taken
// because sandboxes share the machine's network.
//
// AWS's emulator runs in one of two modes, chosen by its environment:
// classic (one invocation at a time; the Telemetry API answers every
// subscription with 202 and Telemetry.NotSupported, so no platform events
// or function logs reach extensions; the REPORT line it prints to stdout
// is the only billing figure) and Lambda Managed Instances, when
// AWS_LAMBDA_MAX_CONCURRENCY is set (Options.MaxConcurrency): concurrent
// invocations, extensions registered for SHUTDOWN only, and the Telemetry
// API with schema 2025-01-29, whose platform.report carries only
// durationMs; the runtime and the extensions run as uid 993 there, and an
// invocation finds a runtime worker waiting on next or is refused
// (Runtime.Unavailable), so runtimes call next AWS_LAMBDA_MAX_CONCURRENCY
// times at once. In that mode the pinned emulator's Telemetry API
// deadlocks once it drops a batch because the extension had not answered
// the previous one within the buffering window: Start reports a sandbox
// whose start stalled so (ErrTelemetryStalled), Invoke ends a call the
// emulator stalled during (ErrTelemetryStalled, rather than waiting for
// the call's context) and Sandbox.TelemetryStalled tells of a later stall,
// so that a test can say why, and run its scenario again in a new sandbox.
// Shutdown is bounded whatever the emulator does: SIGTERM, SIGKILL after
// 10 s, then every process left in the sandbox's mount namespace is
// killed, and the emulator's output is read at most 5 s after its exit.
// The extension subscribes with a 1,000 ms buffering window in Managed
// Instances (nothing waits on telemetry per invocation there), which makes
// such a stall rare.
//
// The emulator is installed pinned by deploy/scripts/install-test-tools.sh
// (make test-tools) into .tools/bin; Find locates it. The package's tests
// need root (for the mount namespace), Node.js and the emulator; under
// CI=true a missing one fails them.
package rie
