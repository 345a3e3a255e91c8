package emulator

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"time"
)

// Defaults and limits, as Lambda documents them.
const (
	DefaultRegion       = "us-east-1"
	DefaultAccountID    = "123456789012"
	DefaultVersion      = "$LATEST"
	DefaultMemoryMB     = 128
	DefaultTimeout      = 3 * time.Second
	DefaultArchitecture = "x86_64"
	DefaultListenAddr   = "127.0.0.1:0"

	minMemoryMB = 128
	maxMemoryMB = 10240
	maxTimeout  = 900 * time.Second

	// DefaultManagedConcurrency is how many invocations one Managed
	// Instances environment runs at once unless MaxConcurrency says
	// otherwise; maxConcurrency is the most the emulator accepts.
	DefaultManagedConcurrency = 8
	maxConcurrency            = 64
)

// FunctionConfig describes one function the emulator runs.
type FunctionConfig struct {
	// Name is the function name (letters, digits, hyphens and underscores).
	Name string
	// Version defaults to "$LATEST".
	Version string
	// Handler is the path of the runtime executable, a custom-runtime
	// "bootstrap", for an OS-only runtime (Runtime empty); for a managed
	// runtime it is Lambda's handler setting, "file.export" (e.g.
	// "index.handler"), the file relative to CodeDir.
	Handler string
	// Runtime names a managed runtime the emulator provides ("nodejs18.x",
	// "nodejs20.x", "nodejs22.x", run with the node found on PATH); empty
	// for an OS-only runtime. A managed runtime is started as Lambda starts
	// one: through the program named by AWS_LAMBDA_EXEC_WRAPPER in Env when
	// that is set, which gets the runtime's command line as its arguments.
	Runtime string
	// CodeDir is the function's code (LAMBDA_TASK_ROOT) for a managed
	// runtime.
	CodeDir string
	// Extensions are the paths of external extension executables, as if they
	// were under /opt/extensions/. An extension's name is its file name.
	Extensions []string
	// MemoryMB defaults to 128; Lambda allows 128 to 10240.
	MemoryMB int
	// Timeout defaults to 3s; Lambda allows up to 900s.
	Timeout time.Duration
	// Architecture is "x86_64" (default) or "arm64".
	Architecture string
	// Env holds the function's environment variables.
	Env map[string]string
	// ManagedInstances runs the function as on Lambda Managed Instances:
	// extensions may register only for SHUTDOWN, the Telemetry API accepts
	// only schema 2025-01-29, AWS_LAMBDA_INITIALIZATION_TYPE is
	// "lambda-managed-instances", an environment is never frozen, and
	// billed duration leaves the INIT phase out. One environment serves
	// up to MaxConcurrency invocations at once.
	ManagedInstances bool
	// MaxConcurrency is how many invocations one environment runs at once:
	// 1 (the default) for on-demand functions, which allow no other value;
	// 1 to 64 for Managed Instances, default 8. The runtime learns it from
	// AWS_LAMBDA_MAX_CONCURRENCY.
	MaxConcurrency int
	// RefuseTelemetry is a fault: the Telemetry API answers every
	// subscription of the function's extensions with 500 ServiceException
	// and sends them nothing, as when the platform cannot serve the
	// subscription. The function runs as usual; an extension learns of
	// its invocations only from the Extensions API (no INVOKE on Managed
	// Instances) and what it sees itself.
	RefuseTelemetry bool
}

// Config configures an Emulator.
type Config struct {
	// Region defaults to us-east-1, AccountID to 123456789012.
	Region, AccountID string
	Functions         []FunctionConfig
	// Queues are SQS standard queues, served at InvokeURL with the SQS
	// JSON protocol (functions find it in AWS_ENDPOINT_URL_SQS), each with
	// an optional event source mapping to a function.
	Queues []QueueConfig
	// Topics are SNS standard topics with Lambda subscriptions, and Rules
	// EventBridge rules with Lambda targets, served at InvokeURL too
	// (AWS_ENDPOINT_URL_SNS, AWS_ENDPOINT_URL_EVENTBRIDGE): a message or
	// event invokes each subscriber or target asynchronously, continuing
	// the publisher's X-Ray trace when the call carries one.
	Topics []TopicConfig
	Rules  []RuleConfig
	// Logger receives the emulator's own logs; nil discards them.
	Logger *slog.Logger
	// Output, when set, receives every line the runtimes and extensions
	// write to stdout or stderr, prefixed with the function name, and a
	// REPORT line per invocation.
	Output io.Writer
	// ListenAddr is where the Invoke API listens; default 127.0.0.1:0.
	ListenAddr string
	// DisableFreeze keeps idle environments running. By default an idle
	// environment's processes are stopped (SIGSTOP) once the runtime and
	// every extension wait on next, and resumed (SIGCONT) for the next
	// event or for SHUTDOWN, as Lambda freezes its sandboxes; the
	// platform.report of an invocation is then delivered in the next
	// window or at SHUTDOWN.
	DisableFreeze bool
	// InitTimeout bounds an environment's INIT phase (default 10 s, as
	// Lambda's) and ShutdownDeadline its SHUTDOWN phase (default
	// 2000 ms, Lambda's with external extensions). Tests on a loaded
	// machine widen them; the platform's own values are the defaults.
	InitTimeout, ShutdownDeadline time.Duration
}

var functionNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// withDefaults returns a copy of cfg with every unset field at its default.
func (c Config) withDefaults() Config {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.AccountID == "" {
		c.AccountID = DefaultAccountID
	}
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if c.InitTimeout <= 0 {
		c.InitTimeout = initTimeout
	}
	if c.ShutdownDeadline <= 0 {
		c.ShutdownDeadline = shutdownDeadline
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	fns := make([]FunctionConfig, len(c.Functions))
	for i, f := range c.Functions {
		if f.Version == "" {
			f.Version = DefaultVersion
		}
		if f.MemoryMB == 0 {
			f.MemoryMB = DefaultMemoryMB
		}
		if f.Timeout == 0 {
			f.Timeout = DefaultTimeout
		}
		if f.Architecture == "" {
			f.Architecture = DefaultArchitecture
		}
		if f.MaxConcurrency == 0 {
			f.MaxConcurrency = 1
			if f.ManagedInstances {
				f.MaxConcurrency = DefaultManagedConcurrency
			}
		}
		fns[i] = f
	}
	c.Functions = fns
	qs := make([]QueueConfig, len(c.Queues))
	for i, q := range c.Queues {
		qs[i] = q.withDefaults()
	}
	c.Queues = qs
	rs := make([]RuleConfig, len(c.Rules))
	for i, r := range c.Rules {
		rs[i] = r.withDefaults()
	}
	c.Rules = rs
	return c
}

// Validate reports every invalid field, naming its key.
func (c Config) Validate() error {
	var errs []error
	if !regexp.MustCompile(`^[0-9]{12}$`).MatchString(c.AccountID) {
		errs = append(errs, errors.New("account_id must be 12 digits"))
	}
	if c.Region == "" {
		errs = append(errs, errors.New("region must not be empty"))
	}
	if len(c.Functions) == 0 {
		errs = append(errs, errors.New("functions must not be empty"))
	}
	seen := map[string]bool{}
	for i, f := range c.Functions {
		key := fmt.Sprintf("functions[%d]", i)
		if !functionNameRE.MatchString(f.Name) {
			errs = append(errs, fmt.Errorf("%s.name %q must be 1-64 letters, digits, hyphens or underscores", key, f.Name))
		}
		if seen[f.Name] {
			errs = append(errs, fmt.Errorf("%s.name %q is used twice", key, f.Name))
		}
		seen[f.Name] = true
		switch {
		case f.Handler == "":
			errs = append(errs, fmt.Errorf("%s.handler must not be empty", key))
		case f.Runtime != "" && !handlerRE.MatchString(f.Handler):
			errs = append(errs, fmt.Errorf("%s.handler %q must be file.export for a managed runtime", key, f.Handler))
		}
		if f.Runtime != "" {
			if _, ok := managedRuntimes[f.Runtime]; !ok {
				errs = append(errs, fmt.Errorf("%s.runtime %q is not one the emulator provides (nodejs18.x, nodejs20.x, nodejs22.x)", key, f.Runtime))
			}
			if f.CodeDir == "" {
				errs = append(errs, fmt.Errorf("%s.code_dir must not be empty for a managed runtime", key))
			}
		}
		if f.MemoryMB < minMemoryMB || f.MemoryMB > maxMemoryMB {
			errs = append(errs, fmt.Errorf("%s.memory_mb must be between %d and %d", key, minMemoryMB, maxMemoryMB))
		}
		if f.Timeout <= 0 || f.Timeout > maxTimeout {
			errs = append(errs, fmt.Errorf("%s.timeout must be positive and at most %s", key, maxTimeout))
		}
		if f.Architecture != "x86_64" && f.Architecture != "arm64" {
			errs = append(errs, fmt.Errorf("%s.architecture must be x86_64 or arm64", key))
		}
		switch {
		case f.MaxConcurrency < 1 || f.MaxConcurrency > maxConcurrency:
			errs = append(errs, fmt.Errorf("%s.max_concurrency must be between 1 and %d", key, maxConcurrency))
		case f.MaxConcurrency > 1 && !f.ManagedInstances:
			errs = append(errs, fmt.Errorf("%s.max_concurrency above 1 needs managed_instances", key))
		}
		extNames := map[string]bool{}
		for j, p := range f.Extensions {
			name := filepath.Base(p)
			if p == "" || extNames[name] {
				errs = append(errs, fmt.Errorf("%s.extensions[%d] must be a path with a unique file name", key, j))
			}
			extNames[name] = true
		}
	}
	errs = append(errs, validateQueues(c.Queues, seen)...)
	errs = append(errs, validateTopics(c.Topics, seen)...)
	errs = append(errs, validateRules(c.Rules, seen)...)
	return errors.Join(errs...)
}
