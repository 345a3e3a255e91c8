package emulator

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/lambdascope/lambdascope/internal/freeport"
)

const (
	initTimeout      = 10 * time.Second
	shutdownDeadline = 2000 * time.Millisecond
	runtimeSIGTERM   = 300 * time.Millisecond
	maxPayloadBytes  = 6 * 1024 * 1024

	runtimeVersion    = "provided:al2023.v1"
	runtimeVersionArn = "arn:aws:lambda:%s::runtime:lambdascope-emulator"
	executionEnv      = "AWS_Lambda_provided.al2023"
)

// Shutdown reasons of the SHUTDOWN event.
const (
	reasonSpindown = "spindown"
	reasonTimeout  = "timeout"
	reasonFailure  = "failure"
)

var (
	errTimedOut = errors.New("timed out")
	errClosing  = errors.New("environment is shutting down")
)

// extension is one registration with the Extensions API.
type extension struct {
	id      string
	name    string
	events  map[string]bool
	waiting bool // blocked in (or about to call) event/next
	ready   bool // has called event/next at least once
	eventCh chan []byte
	proc    *process
}

// invocation is one request to the function. Fields below mu are written
// by the Runtime API handlers under environment.mu.
type invocation struct {
	id       string
	payload  []byte
	trace    xrayTrace
	spanID   string
	start    time.Time
	timeout  time.Duration
	deadline time.Time
	// killRuntime makes the runtime die by SIGKILL once it has the event.
	killRuntime bool
	// dropDone leaves platform.runtimeDone out of the telemetry.
	dropDone bool

	responded bool
	respStart time.Time
	respEnd   time.Time
	response  []byte
	errorType string
	isError   bool
}

// environment is one execution environment: an API server, a runtime
// process and extension processes.
type environment struct {
	em  *Emulator
	fn  *function
	id  string
	log *slog.Logger

	srv       *http.Server
	apiAddr   string
	otlpGRPC  string
	otlpHTTP  string
	tmpDir    string // stands in for the sandbox's own /tmp; kept for the next environment after a reset
	transport *http.Transport
	client    *http.Client
	logStream string

	closing     chan struct{}
	runtimeNext chan *invocation
	goroutines  sync.WaitGroup

	// postGate is held shared by telemetry posts and exclusively by freeze,
	// so no post is in flight when the processes stop.
	postGate sync.RWMutex

	mu             sync.Mutex
	changed        chan struct{}
	apiClosed      bool
	handlers       sync.WaitGroup
	runtime        *process
	runtimeReady   bool
	runtimeWaiting bool
	runtimeNextAt  time.Time // when the runtime last called next
	extProcs       []*process
	extensions     []*extension
	extByID        map[string]*extension
	subs           map[string]*subscription
	backlog        [][]byte
	pendingReports []heldEvent // platform.report events held while frozen
	initDone       bool
	initDuration   time.Duration
	failure        error
	failureType    string
	inflight       map[string]*invocation // by request ID
	shuttingDown   bool
	frozen         bool
	thawed         chan struct{}

	// slots counts the invocations assigned to the environment, running
	// or waiting for INIT; guarded by fn.mu. initialized is closed when
	// INIT has ended, with initErr its outcome.
	slots       int
	initialized chan struct{}
	initErr     error

	shutdownOnce sync.Once
	shutdownErr  error

	// resetBegun: the environment is being reset, counted in fn.resetting;
	// tmpReleased: its /tmp was kept or removed. Both guarded by fn.mu.
	resetBegun, tmpReleased bool
}

func newEnvironment(fn *function) (*environment, error) {
	em := fn.em
	id := randomHex(16)
	e := &environment{
		em:          em,
		fn:          fn,
		id:          id,
		log:         em.log.With("function", fn.cfg.Name, "environment", id[:8]),
		closing:     make(chan struct{}),
		runtimeNext: make(chan *invocation, fn.cfg.MaxConcurrency),
		inflight:    map[string]*invocation{},
		initialized: make(chan struct{}),
		changed:     make(chan struct{}),
		extByID:     map[string]*extension{},
		subs:        map[string]*subscription{},
		thawed:      make(chan struct{}),
		logStream:   time.Now().UTC().Format("2006/01/02") + "/[" + fn.cfg.Version + "]" + id,
	}
	close(e.thawed)
	e.transport = &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}
	e.client = &http.Client{Transport: e.transport}
	ports, err := freeport.Ports(2)
	if err != nil {
		return nil, err
	}
	e.otlpGRPC = "127.0.0.1:" + strconv.Itoa(ports[0])
	e.otlpHTTP = "127.0.0.1:" + strconv.Itoa(ports[1])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for Lambda APIs: %w", err)
	}
	// The /tmp of an environment a timeout or crash reset, with what its
	// processes wrote there, as Lambda initializes a reset environment
	// again; otherwise an empty one.
	if e.tmpDir = fn.takeTmp(); e.tmpDir != "" {
		e.log.Info("environment starts in the /tmp of a reset environment", "tmp", e.tmpDir)
	} else if e.tmpDir, err = os.MkdirTemp("", "lambda-sandbox-tmp-"); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("create the sandbox's /tmp: %w", err)
	}
	e.apiAddr = ln.Addr().String()
	e.srv = &http.Server{Handler: e.routes(), ReadHeaderTimeout: 10 * time.Second}
	e.goroutines.Go(func() {
		if err := e.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("Lambda API server stopped", "err", err)
		}
	})
	return e, nil
}

// notifyLocked wakes everyone waiting for a state change; e.mu must be held.
func (e *environment) notifyLocked() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// waitFor blocks until pred (called with e.mu held) is true, the timer
// fires, or the environment failed or is shutting down.
func (e *environment) waitFor(timer <-chan time.Time, pred func() bool) error {
	for {
		e.mu.Lock()
		if pred() {
			e.mu.Unlock()
			return nil
		}
		if e.failure != nil {
			err := e.failure
			e.mu.Unlock()
			return err
		}
		if e.shuttingDown {
			e.mu.Unlock()
			return errClosing
		}
		ch := e.changed
		e.mu.Unlock()
		select {
		case <-ch:
		case <-timer:
			return errTimedOut
		}
	}
}

// fail records the first reason the environment cannot go on.
func (e *environment) fail(errorType string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failure == nil && !e.shuttingDown {
		e.failure, e.failureType = err, errorType
		e.log.Warn("environment failed", "error_type", errorType, "err", err)
	}
	e.notifyLocked()
}

// output copies a line to Config.Output with a prefix.
func (e *environment) output(prefix, line string) {
	e.em.writeOutput(prefix, line)
}

func (e *environment) functionARN() string { return e.fn.arn }

// idleLocked reports whether the runtime and every extension wait on next.
func (e *environment) idleLocked() bool {
	if !e.runtimeWaiting {
		return false
	}
	for _, x := range e.extensions {
		if !x.waiting {
			return false
		}
	}
	return true
}

// failureTypeLocked is the error type of the environment's failure;
// e.mu must be held.
func (e *environment) failureTypeLocked() string {
	if e.failureType == "" {
		return "Runtime.Unknown"
	}
	return e.failureType
}
