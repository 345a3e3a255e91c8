// Command lambdascope-launcher is what Lambda starts from
// /opt/extensions/lambdascope. It binds the extension's ports, registers,
// subscribes to the Telemetry API and sends the first /event/next, so that
// the function's init never waits for the agent's start, then starts the
// agent (/opt/lambdascope/lambdascope-extension) as its child and watches
// it: when the agent ends unexpectedly it takes over, so that the function
// runs on; see package launch.
//
// With LAMBDASCOPE_STRICT=true (or an unreadable value of it) it becomes
// the agent at once, which then does all of this itself and can fail the
// init when its configuration is bad.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lambdascope/lambdascope/extension"
	"github.com/lambdascope/lambdascope/extension/internal/handoff"
	"github.com/lambdascope/lambdascope/extension/internal/launch"
)

// name is the extension's name: the file name under /opt/extensions.
const name = "lambdascope"

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// usage is printed for any argument: Lambda starts extensions without.
const usage = `lambdascope: the Lambdascope extension's launcher.

Lambda starts it from /opt/extensions/lambdascope. It binds the extension's
ports, registers, subscribes to the Telemetry API and asks for the first
event, then starts the agent, /opt/lambdascope/lambdascope-extension, and
stands in for it should it fail. Settings are LAMBDASCOPE_* environment variables; the
Lambdascope README lists them.
`

func main() {
	if len(os.Args) > 1 {
		_, _ = os.Stdout.WriteString(usage + "version: " + version + "\n")
		os.Exit(0)
	}
	started := time.Now()
	args := os.Args[1:]
	if !fastStart() {
		agent, err := findAgent()
		if err != nil {
			logError("the layer is incomplete: the agent is missing, so the extension cannot start", err)
			os.Exit(1)
		}
		execAgent(agent, args, os.Environ())
	}
	l, err := launch.Start(launch.Options{
		RuntimeAPI:   os.Getenv("AWS_LAMBDA_RUNTIME_API"),
		Name:         name,
		Managed:      strings.EqualFold(strings.TrimSpace(os.Getenv("AWS_LAMBDA_INITIALIZATION_TYPE")), "lambda-managed-instances"),
		OTLPHTTPAddr: handoff.OTLPAddr(os.Getenv("LAMBDASCOPE_OTLP_HTTP_ADDR"), handoff.DefaultOTLPHTTPAddr),
		OTLPGRPCAddr: handoff.OTLPAddr(os.Getenv("LAMBDASCOPE_OTLP_GRPC_ADDR"), handoff.DefaultOTLPGRPCAddr),
		HostsFile:    os.Getenv(extension.HostsFileEnv),
		RuntimeProxy: runtimeProxy(),
		AnnounceFile: announceFile(),
		Started:      started,
	})
	// The agent is looked for only now: nothing Lambda waits for depends
	// on it.
	agent, agentErr := findAgent()
	env := os.Environ()
	if errors.Is(err, launch.ErrNotRegistered) && agentErr == nil {
		// Nothing is owed to Lambda yet: the agent starts the slow way and
		// reports the problem itself.
		execAgent(agent, args, env)
	}
	if err != nil {
		logError("extension start failed", err)
		os.Exit(1)
	}
	if agentErr == nil {
		// Started only once needed (with the INVOKE, where there is
		// one), or after a few milliseconds: a function's first exports,
		// answered by the launcher meanwhile, and its init then do not
		// share the CPU with the agent's start.
		l.AwaitNeed(l.Hold())
		var child *launch.Child
		if child, agentErr = l.Spawn(agent, args, env); agentErr == nil {
			os.Exit(watch(l, child))
		}
	}
	// Still here: the agent could not be started. Stay registered, relay
	// the Runtime API proxy's port (the runtime may be pointed at it) and
	// answer events, so the function runs on without telemetry.
	lost, lostBytes := l.StopEarly()
	logLine("ERROR", "the agent could not be started (is the layer complete?); the function runs on without telemetry", agentErr,
		"early_exports_lost="+strconv.FormatInt(lost, 10)+" early_bytes_lost="+strconv.FormatInt(lostBytes, 10))
	if err := l.RelayProxy(); err != nil {
		logError("the runtime API proxy's port cannot be relayed; a runtime that uses it fails", err)
	}
	if err := l.Idle(); err != nil {
		logError("event loop failed", err)
		os.Exit(1)
	}
}

// watch waits for the agent to end and returns the launcher's exit code:
// the agent's when it stopped on purpose; otherwise the launcher takes
// over until SHUTDOWN, so that the function runs on without telemetry.
func watch(l *launch.Launch, child *launch.Child) int {
	o := child.Wait()
	if o.Stopping {
		return o.ExitCode()
	}
	t, err := l.TakeOver(child)
	logLine("ERROR", "the agent ended unexpectedly; the launcher takes over: the runtime API proxy is relayed, "+
		"OTLP exports and telemetry are answered and dropped, nothing more is shipped", err,
		"takeovers=1 agent_pid="+strconv.Itoa(child.Pid)+" agent_end="+strconv.Quote(o.String()))
	err = t.Events()
	counts := "takeovers=1 " + t.Counts() + " agent_end=" + strconv.Quote(o.String())
	if err != nil {
		logLine("ERROR", "event loop failed after the takeover", err, counts)
		return 1
	}
	// The counts go to the collector too: the agent, started once more,
	// ships them (and what it had spooled) within the shutdown deadline.
	if agent, err := findAgent(); err != nil {
		counts += " reported=false"
		logLine("ERROR", "the takeover's counts cannot be shipped: the agent is missing", err, counts)
	} else if err := t.Report(agent, os.Environ(), o.String()); err != nil {
		counts += " reported=false"
		logLine("ERROR", "the takeover's counts did not reach the collector; this line is their only record", err, counts)
	} else {
		counts += " reported=true"
	}
	logLine("WARN", "extension shut down without its agent", nil, counts)
	return 0
}

// fastStart reports whether the launcher registers itself: always, unless
// LAMBDASCOPE_STRICT asks (or may ask) for a bad configuration to fail the
// init, which only the agent can judge, or there is no API to talk to.
func fastStart() bool {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") == "" {
		return false
	}
	v := strings.TrimSpace(os.Getenv("LAMBDASCOPE_STRICT"))
	if v == "" {
		return true
	}
	strict, err := strconv.ParseBool(v)
	return err == nil && !strict
}

// runtimeProxy reports whether the Runtime API proxy is served: unless
// LAMBDASCOPE_RUNTIME_PROXY is false. An unreadable value keeps the
// default, as the agent's configuration does (which reports it).
func runtimeProxy() bool {
	on, err := strconv.ParseBool(strings.TrimSpace(os.Getenv("LAMBDASCOPE_RUNTIME_PROXY")))
	return on || err != nil
}

// announceFile is where the proxy is announced to the exec wrapper:
// $TMPDIR (/tmp in Lambda)/lambdascope-runtime-api.
func announceFile() string {
	dir := os.Getenv("TMPDIR")
	if dir == "" {
		dir = "/tmp"
	}
	return filepath.Join(dir, extension.RuntimeAPIFile)
}

// findAgent returns the agent's path beside the launcher.
func findAgent() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the launcher's own path: %w", err)
	}
	return launch.FindAgent(exe)
}

// execAgent replaces the process with the agent, unchanged environment.
func execAgent(agent string, args, env []string) {
	err := syscall.Exec(agent, append([]string{agent}, args...), env)
	logError("cannot start the agent", err)
	os.Exit(1)
}

// logError writes one error line (see logLine).
func logError(msg string, err error) { logLine("ERROR", msg, err, "") }

// logLine writes one line in the agent's log format (log/slog's text
// handler), without linking log/slog; attrs are key=value pairs.
func logLine(level, msg string, err error, attrs string) {
	line := "time=" + time.Now().Format(time.RFC3339Nano) + " level=" + level + " msg=" + strconv.Quote(msg) +
		" extension=" + name
	if err != nil {
		line += " err=" + strconv.Quote(err.Error())
	}
	if attrs != "" {
		line += " " + attrs
	}
	_, _ = os.Stderr.WriteString(line + "\n")
}
