// Package emulator runs AWS Lambda functions and their external extensions as
// local processes behind the Lambda Runtime API, Extensions API and Telemetry
// API, so that tests and demos exercise real function binaries and the real
// Lambdascope extension exactly as Lambda would.
//
// Each function has a pool of execution environments. An environment is an
// HTTP server on a loopback port serving the three Lambda APIs, the function's
// runtime process and its extension processes. The runtime is either the
// function's own "bootstrap" (an OS-only runtime, provided.al2023) or a
// managed runtime the emulator provides (FunctionConfig.Runtime: Node.js,
// with the node found on PATH), which loads the handler ("index.handler")
// from FunctionConfig.CodeDir and is started as Lambda starts a managed
// runtime: through the program named by AWS_LAMBDA_EXEC_WRAPPER, with the
// runtime's command line as its arguments, when the function's environment
// sets it (a missing wrapper fails INIT, exit 127, as on Lambda). An OS-only
// runtime ignores AWS_LAMBDA_EXEC_WRAPPER, as Lambda does.
// Invocations follow the documented lifecycle: INIT (extensions start and
// register, then the runtime starts; the phase ends when everyone is waiting
// on "next"), INVOKE (the response is returned to the caller as soon as the
// runtime posts it; platform.runtimeDone, with its runtimeOverhead span,
// follows when the runtime calls "next" again; the invocation ends when the
// runtime and every extension are back on "next", or at the function's
// timeout, which resets the environment), and SHUTDOWN (SIGTERM to the
// runtime and 300 ms for it to exit, then the SHUTDOWN event to the
// extensions, SIGKILL for whatever runs at the 2,000 ms deadline shared by
// both). INIT is bounded at 10 s as on Lambda; Config.InitTimeout and
// Config.ShutdownDeadline change the two limits for tests on a loaded
// machine. Platform, function and extension telemetry is pushed to
// subscribers with the subscription's buffering (timeoutMs, maxItems,
// maxBytes, within AWS's limits). Billed duration is the duration rounded
// up to the millisecond, INIT included for on-demand functions.
//
// A reset follows AWS's account of failures during the invoke phase: when
// an invocation times out or the runtime fails (it exits or is killed),
// Lambda resets the environment, which behaves as a shutdown does (the
// runtime is stopped and each external extension gets SHUTDOWN, its
// reason "timeout" or "failure"), and an invocation that later reuses the
// environment runs INIT again, runtime and extensions, as part of it. In
// AWS's words a reset does not empty /tmp before that INIT, in keeping
// with the regular shutdown phase (Lambda developer guide, "Understanding
// the Lambda execution environment lifecycle", failures during the invoke
// phase); AWS's Runtime Interface Emulator likewise restarts the runtime
// in the same container. The emulator models the reused environment as a
// new one (a new ID and log stream, a cold start) that starts in the
// reset one's /tmp: once the reset's SHUTDOWN is over, the directory, with
// what the runtime and the extensions wrote there up to its end (the
// Lambdascope extension's spool above all), is kept for the function's
// next environment, the longest kept taken first. An invocation of an
// on-demand function that finds no idle environment while one is being
// reset waits for the reset (at most the shutdown deadline and a second)
// and so starts in its /tmp. A function keeps at most as many as it has
// had environments at once, the oldest removed with a log line; a failed
// INIT, a spin-down and Shutdown remove an environment's /tmp, and
// Shutdown removes the kept ones too. TmpStats counts them; WaitIdle
// waits until a function's invocations have ended, resets included.
//
// By default an idle environment is frozen as Lambda freezes its sandboxes:
// once the runtime and every extension wait on "next" their processes are
// stopped with SIGSTOP, and resumed with SIGCONT for the next event or for
// SHUTDOWN. An invocation's platform.report is held while the environment
// is frozen, so it reaches the extensions in the next window or at
// SHUTDOWN. Config.DisableFreeze keeps idle environments running and sends
// reports at once.
//
// FunctionConfig.ManagedInstances runs a function as on Lambda Managed
// Instances: extensions may register for SHUTDOWN only, the Telemetry API
// accepts only schema 2025-01-29, environments are not frozen and INIT is
// not billed. One environment runs up to FunctionConfig.MaxConcurrency
// invocations at once (default 8; a new environment starts only when every
// one is full), and the runtime learns that figure from
// AWS_LAMBDA_MAX_CONCURRENCY: a runtime that calls next concurrently, as
// aws-lambda-go then does, gets one invocation per call, and one that calls
// next serially gets the waiting invocations one after another while others
// are in flight. Invocations that arrive while the environment is in INIT
// wait for it. Extensions get no INVOKE; platform.start, runtimeDone and
// report are emitted per invocation, interleaved, each with its requestId.
// An invocation ends when its response is posted (runtimeDone has no
// runtimeOverhead span), and a timeout or crash of one resets the
// environment, failing the others in flight.
//
// Config.Queues are SQS standard queues, served beside the Invoke API with
// the SQS JSON protocol the AWS SDKs speak (SendMessage, SendMessageBatch,
// GetQueueUrl; functions find the endpoint in AWS_ENDPOINT_URL_SQS), each
// with an optional event source mapping: it gathers up to BatchSize
// messages for at most BatchWindow and invokes the consumer with SQS's
// event (package eventsource builds it, and API Gateway's, from AWS's
// published samples), message attributes, sent and first-receive times
// included. Shutdown delivers what the queues hold before the environments
// go. Liberties: one batch at a time per queue (Lambda scales its pollers
// out), and a batch whose invocation fails is dropped and counted in
// QueueStats rather than made visible again for a retry; partial batch
// responses are not read.
//
// Config.Topics are SNS standard topics with Lambda subscriptions (Publish
// in the SNS query protocol, AWS_ENDPOINT_URL_SNS), and Config.Rules
// EventBridge rules with Lambda targets (PutEvents in the EventBridge JSON
// protocol, AWS_ENDPOINT_URL_EVENTBRIDGE). A message invokes each
// subscriber, and an event each target of each rule whose pattern takes
// it, asynchronously, with SNS's or EventBridge's event built from AWS's
// samples; message attributes (a traceparent among them) go in the SNS
// record. When the publisher's call carries an X-Ray trace header
// (X-Amzn-Trace-Id, or an entry's TraceHeader), the invocation continues
// it: its Lambda-Runtime-Trace-Id has the publisher's Root and, as its
// Parent, the publisher's segment, the segments of SNS, EventBridge and
// Lambda themselves not being made. TopicStats and RuleStats count what
// was delivered, and what was not (an invocation refused at Shutdown).
// Liberties: a rule's pattern matches the source and the detail type
// alone, and a failed asynchronous invocation is not retried.
//
// Tests inject faults with SetTimeout, KillRuntimeDuringNextInvoke and
// DropRuntimeDoneOfNextInvoke, and wait for the resets they cause with
// WaitIdle.
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
//   - Each environment gets a directory of its own standing in for the
//     sandbox's /tmp (a reset environment's, as above, or a new one):
//     TMPDIR points at it, and LAMBDASCOPE_SPOOL_DIR (unless the
//     function's environment sets it) places the Lambdascope extension's
//     spool in it, so what was spooled survives a reset and goes with a
//     spun-down environment, as on Lambda.
//   - AWS_ENDPOINT_URL_LAMBDA points at the emulator's Invoke API so one
//     function can invoke another the way an AWS SDK would.
//
// Extensions receive what Lambda passes to extensions: the function's
// environment variables and the platform's (region, function name, version,
// memory, log group and stream, initialization type, AWS_LAMBDA_RUNTIME_API),
// without the runtime-only variables (_HANDLER, AWS_EXECUTION_ENV,
// LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR) or any variable starting with "_".
// No AWS credentials are set.
//
// The error type in platform.runtimeDone and platform.report is the
// runtime's Lambda-Runtime-Function-Error-Type as Lambda takes it (Runtime.X
// or Function.X, otherwise Function.Unknown or Runtime.Unknown); the error
// body goes to the caller unchanged.
//
// AWS's own Runtime Interface Emulator runs the same layer in deploy/rie;
// README.md lists every place where the two differ and which one follows
// Lambda.
package emulator
