package emulator

import (
	"path/filepath"
	"strconv"
	"strings"
)

// platformEnv holds the variables Lambda sets for the runtime and the
// extensions alike.
func (e *environment) platformEnv() map[string]string {
	cfg, fc := e.em.cfg, e.fn.cfg
	return map[string]string{
		"AWS_REGION":                      cfg.Region,
		"AWS_DEFAULT_REGION":              cfg.Region,
		"AWS_LAMBDA_FUNCTION_NAME":        fc.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     fc.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(fc.MemoryMB),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + fc.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      e.logStream,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  e.initType(),
		"AWS_LAMBDA_RUNTIME_API":          e.apiAddr,
		"TZ":                              ":UTC",
	}
}

// unreservedEnv holds defaults the function's own variables may override.
func (e *environment) unreservedEnv() map[string]string {
	return map[string]string{
		"LANG":                         "en_US.UTF-8",
		"PATH":                         "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH":              "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
		"AWS_ENDPOINT_URL_LAMBDA":      e.em.InvokeURL(),
		"AWS_ENDPOINT_URL_SQS":         e.em.InvokeURL(),
		"AWS_ENDPOINT_URL_SNS":         e.em.InvokeURL(),
		"AWS_ENDPOINT_URL_EVENTBRIDGE": e.em.InvokeURL(),
		"LAMBDASCOPE_OTLP_GRPC_ADDR":   e.otlpGRPC,
		"LAMBDASCOPE_OTLP_HTTP_ADDR":   e.otlpHTTP,
		"OTEL_EXPORTER_OTLP_ENDPOINT":  "http://" + e.otlpHTTP,
		"TMPDIR":                       e.tmpDir,
		"LAMBDASCOPE_SPOOL_DIR":        filepath.Join(e.tmpDir, "lambdascope-spool"),
	}
}

// initType is the initialization type Lambda reports for the function.
func (e *environment) initType() string {
	if e.fn.cfg.ManagedInstances {
		return "lambda-managed-instances"
	}
	return "on-demand"
}

func (e *environment) handlerName() string {
	if e.fn.cfg.managed() {
		return e.fn.cfg.Handler
	}
	return filepath.Base(e.fn.cfg.Handler)
}

// runtimePath is the program started as the runtime: a custom runtime's
// bootstrap, or a managed runtime's.
func (e *environment) runtimePath() string {
	if e.fn.cfg.managed() {
		return filepath.Join(e.runtimeDir(), "bootstrap")
	}
	return e.fn.cfg.Handler
}

// runtimeDir stands in for /var/runtime.
func (e *environment) runtimeDir() string {
	if e.fn.cfg.managed() {
		return filepath.Join(e.em.runtimeDir, managedRuntimes[e.fn.cfg.Runtime])
	}
	return "/var/runtime"
}

// runtimeVersion is what platform.initStart names the runtime.
func (e *environment) runtimeVersion() string {
	if r := e.fn.cfg.Runtime; r != "" {
		return strings.ReplaceAll(strings.TrimSuffix(r, ".x"), "nodejs", "nodejs:") + ".v1"
	}
	return runtimeVersion
}

func (e *environment) runtimeEnv() []string {
	env := e.unreservedEnv()
	for k, v := range e.fn.cfg.Env {
		env[k] = v
	}
	for k, v := range e.platformEnv() {
		env[k] = v
	}
	env["_HANDLER"] = e.handlerName()
	env["AWS_EXECUTION_ENV"] = executionEnv
	env["LAMBDA_TASK_ROOT"] = filepath.Dir(e.fn.cfg.Handler)
	if fc := e.fn.cfg; fc.managed() {
		env["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + fc.Runtime
		env["LAMBDA_TASK_ROOT"] = fc.CodeDir
	}
	env["LAMBDA_RUNTIME_DIR"] = e.runtimeDir()
	if e.fn.cfg.ManagedInstances {
		env["AWS_LAMBDA_MAX_CONCURRENCY"] = strconv.Itoa(e.fn.cfg.MaxConcurrency)
	}
	return envList(env)
}

func (e *environment) extensionEnv() []string {
	env := e.unreservedEnv()
	for k, v := range e.fn.cfg.Env {
		env[k] = v
	}
	for k, v := range e.platformEnv() {
		env[k] = v
	}
	for k := range env {
		if k == "" || k[0] == '_' {
			delete(env, k)
		}
	}
	return envList(env)
}

func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}
