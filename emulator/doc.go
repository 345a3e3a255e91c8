// Package emulator runs AWS Lambda functions and their external extensions as
// local processes behind the Lambda Runtime API, Extensions API and Telemetry
// API, so that tests and demos exercise real function binaries and the real
// Lambdascope extension exactly as Lambda would.
//
// Each function has a pool of execution environments. An environment is an
// HTTP server on a loopback port serving the three Lambda APIs, the function's
// runtime process (a custom-runtime "bootstrap") and its extension processes.
// Invocations follow the documented lifecycle: INIT (extensions start and
// register, then the runtime starts; the phase ends when everyone is waiting
// on "next"), INVOKE (the response is returned to the caller as soon as the
// runtime posts it; the invocation ends when the runtime and every extension
// are back on "next"), and SHUTDOWN (SHUTDOWN event, SIGTERM, a 2000 ms
// deadline, then SIGKILL). Platform, function and extension telemetry is
// pushed to subscribers with the Telemetry API's 2022-12-13 event shapes and
// the subscription's buffering. With Config.Freeze set, an idle environment's
// processes are stopped with SIGSTOP between invocations, as Lambda freezes
// them, and resumed with SIGCONT.
//
// Liberties taken, because every environment shares the host's network
// namespace while real sandboxes each have their own:
//
//   - The APIs listen on 127.0.0.1:<port> rather than 127.0.0.1:9001, and a
//     telemetry destination on "sandbox.localdomain" or "sandbox" is reached
//     on 127.0.0.1.
//   - Two free loopback ports are allocated per environment and passed to the
//     runtime and the extensions as LAMBDASCOPE_OTLP_GRPC_ADDR,
//     LAMBDASCOPE_OTLP_HTTP_ADDR and OTEL_EXPORTER_OTLP_ENDPOINT (unless the
//     function's environment sets them), standing in for the standard OTLP
//     ports 4317 and 4318 that each real sandbox has to itself.
//   - AWS_ENDPOINT_URL_LAMBDA points at the emulator's Invoke API so one
//     function can invoke another the way an AWS SDK would.
//
// Extensions receive what Lambda passes to extensions: the function's
// environment variables and the platform's (region, function name, version,
// memory, log group and stream, initialization type, AWS_LAMBDA_RUNTIME_API),
// without the runtime-only variables (_HANDLER, AWS_EXECUTION_ENV,
// LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR) or any variable starting with "_".
// No AWS credentials are set.
package emulator
