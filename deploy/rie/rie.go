package rie

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lambdascope/lambdascope/internal/freeport"
)

// Module and Version pin AWS's emulator; deploy/scripts/install-test-tools.sh
// installs this version.
const (
	Module  = "github.com/aws/aws-lambda-runtime-interface-emulator"
	Version = "v0.0.0-20261030222936-bef5c4ba774d"
)

// ErrTelemetryStalled is returned by Start when, in Managed Instances mode,
// the emulator dropped a telemetry batch while the sandbox started, and by
// Invoke when it did so before the call was answered: its Telemetry API
// is then deadlocked (see Sandbox.TelemetryStalled), and a new sandbox
// may fare better.
var ErrTelemetryStalled = errors.New("the emulator's Telemetry API stalled")

// ErrNotInstalled is returned by Find when the emulator is not in .tools/bin.
var ErrNotInstalled = errors.New("aws-lambda-rie is not installed: run make test-tools (deploy/scripts/install-test-tools.sh)")

// Find returns the path of the emulator that make test-tools installs
// under repoRoot, or ErrNotInstalled.
func Find(repoRoot string) (string, error) {
	p := filepath.Join(repoRoot, ".tools", "bin", "aws-lambda-rie")
	info, err := os.Stat(p)
	if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		return "", fmt.Errorf("find emulator at %s: %w", p, ErrNotInstalled)
	}
	return p, nil
}

// Options describe one sandbox.
type Options struct {
	// RIE is the path of aws-lambda-rie.
	RIE string
	// WorkDir holds the sandbox's files; it is created when missing.
	WorkDir string
	// Layer is the path of the layer zip unpacked over /opt; empty runs the
	// function without the layer.
	Layer string
	// Bootstrap is the function's executable, copied to /var/task/bootstrap.
	Bootstrap string
	// TaskFiles are more files of the function's package, copied
	// (executable) to /var/task: name there → path here.
	TaskFiles map[string]string
	// FunctionName is AWS_LAMBDA_FUNCTION_NAME (default "function").
	FunctionName string
	// MemoryMB is AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default 256).
	MemoryMB int
	// Timeout is the function's timeout, in whole seconds (default 10 s).
	Timeout time.Duration
	// MaxConcurrency above 0 runs the emulator in Managed Instances mode
	// with that many concurrent invocations (AWS_LAMBDA_MAX_CONCURRENCY).
	MaxConcurrency int
	// Env is added to the emulator's environment, which it passes on to
	// the runtime and the extensions.
	Env map[string]string
	// Output receives the emulator's, the runtime's and the extensions'
	// output (default: WorkDir/output.log).
	Output io.Writer
}

// Report is what the emulator's REPORT line says about one invocation.
type Report struct {
	RequestID        string
	DurationMs       float64
	BilledDurationMs float64
}

// Sandbox is a running emulator with its function.
type Sandbox struct {
	// Addr is the emulator's invoke endpoint, host:port.
	Addr string
	// OTLPHTTPAddr is where the function exports OTLP/HTTP (the layer's
	// receiver).
	OTLPHTTPAddr string

	opts    Options
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	out     *reportWriter
	outFile *os.File
	client  *http.Client
	stopped bool
	// mountNS names the sandbox's mount namespace (/proc/PID/ns/mnt);
	// nsFile holds it open.
	mountNS string
	nsFile  *os.File
}

// outputGrace bounds how long the emulator's output is read after it has
// exited.
const outputGrace = 5 * time.Second

// Start lays the function out and starts the emulator; it returns once the
// emulator accepts invocations.
func Start(ctx context.Context, opts Options) (_ *Sandbox, err error) {
	if opts.FunctionName == "" {
		opts.FunctionName = "function"
	}
	if opts.MemoryMB == 0 {
		opts.MemoryMB = 256
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Timeout%time.Second != 0 {
		return nil, fmt.Errorf("start sandbox: timeout %v is not a whole number of seconds", opts.Timeout)
	}
	dirs := map[string]string{}
	for _, d := range []string{"opt", "var-upper/task", "var-upper/rapid", "var-work", "tmp"} {
		dirs[d] = filepath.Join(opts.WorkDir, filepath.FromSlash(d))
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			return nil, fmt.Errorf("start sandbox: %w", err)
		}
	}
	dirs["var-upper"] = filepath.Dir(dirs["var-upper/task"])
	// The sandbox's /tmp, writable by the user the emulator runs functions
	// as in Managed Instances mode (993, as on Lambda).
	if err := os.Chmod(dirs["tmp"], 0o1777); err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	if opts.Layer != "" {
		if err := unzip(opts.Layer, dirs["opt"]); err != nil {
			return nil, fmt.Errorf("start sandbox: unpack layer: %w", err)
		}
	}
	if err := copyFile(opts.Bootstrap, filepath.Join(dirs["var-upper/task"], "bootstrap"), 0o755); err != nil {
		return nil, fmt.Errorf("start sandbox: install bootstrap: %w", err)
	}
	for name, path := range opts.TaskFiles {
		if err := copyFile(path, filepath.Join(dirs["var-upper/task"], filepath.Base(name)), 0o755); err != nil {
			return nil, fmt.Errorf("start sandbox: install %s: %w", name, err)
		}
	}
	// The emulator runs from /var/rapid, where Lambda keeps its own init,
	// so that it is still reachable once the sandbox's /tmp is mounted.
	if err := copyFile(opts.RIE, filepath.Join(dirs["var-upper/rapid"], "aws-lambda-rie"), 0o755); err != nil {
		return nil, fmt.Errorf("start sandbox: install emulator: %w", err)
	}
	hosts := filepath.Join(opts.WorkDir, "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1\tlocalhost\n127.0.0.1\tsandbox.localdomain sandbox\n"), 0o644); err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	ports, err := freeport.Ports(4)
	if err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	s := &Sandbox{
		Addr:         fmt.Sprintf("127.0.0.1:%d", ports[0]),
		OTLPHTTPAddr: fmt.Sprintf("127.0.0.1:%d", ports[3]),
		opts:         opts,
		done:         make(chan struct{}),
		client:       &http.Client{},
	}
	out := opts.Output
	if out == nil {
		if s.outFile, err = os.Create(filepath.Join(opts.WorkDir, "output.log")); err != nil {
			return nil, fmt.Errorf("start sandbox: %w", err)
		}
		out = s.outFile
	}
	s.out = &reportWriter{w: out, reports: map[string]Report{}, stall: make(chan struct{})}

	env := map[string]string{
		"PATH":                            "/usr/local/bin:/usr/bin:/bin",
		"AWS_REGION":                      "us-east-1",
		"AWS_LAMBDA_FUNCTION_NAME":        opts.FunctionName,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(opts.MemoryMB),
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(int(opts.Timeout / time.Second)),
		"LAMBDASCOPE_OTLP_GRPC_ADDR":      fmt.Sprintf("127.0.0.1:%d", ports[2]),
		"LAMBDASCOPE_OTLP_HTTP_ADDR":      s.OTLPHTTPAddr,
		"OTEL_EXPORTER_OTLP_ENDPOINT":     "http://" + s.OTLPHTTPAddr,
	}
	if opts.MaxConcurrency > 0 {
		env["AWS_LAMBDA_MAX_CONCURRENCY"] = strconv.Itoa(opts.MaxConcurrency)
	}
	maps.Copy(env, opts.Env)

	// The script runs in the new mount namespace, as root: overlay /var
	// (so /var/task and /var/rapid exist without touching the machine's
	// /var), bind the layer over /opt, the hosts file over /etc/hosts and
	// the sandbox's own directory over /tmp, then become the emulator in
	// /var/task, which finds /var/task/bootstrap itself.
	const script = `set -e
mount -t overlay overlay -o "lowerdir=/var,upperdir=$1,workdir=$2" /var
mount --bind "$3" /opt
mount --bind "$4" /etc/hosts
mount --bind "$5" /tmp
cd /var/task
exec /var/rapid/aws-lambda-rie --runtime-api-address "$6" --runtime-interface-emulator-address "$7"`
	s.cmd = exec.Command("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh",
		dirs["var-upper"], dirs["var-work"], dirs["opt"], hosts, dirs["tmp"],
		fmt.Sprintf("127.0.0.1:%d", ports[1]), s.Addr)
	s.cmd.Env = nil
	for _, k := range slices.Sorted(maps.Keys(env)) {
		s.cmd.Env = append(s.cmd.Env, k+"="+env[k])
	}
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// The runtime and the extensions write into the same pipe: one the
	// emulator left running would hold it open, and Wait would wait for
	// it for ever; once the emulator has exited, Wait gives its output
	// this long, then closes the pipe.
	s.cmd.WaitDelay = outputGrace
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	defer func() {
		if err != nil {
			// A stalled emulator does not end on SIGTERM: give it little time.
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = s.Shutdown(sctx)
			cancel()
		}
	}()
	if err := s.waitListening(ctx); err != nil {
		return nil, err
	}
	// The emulator now runs in the sandbox's own mount namespace, which
	// everything it starts shares: Shutdown finds what is left by it. The
	// namespace is held open until then, so that its name cannot pass to
	// another sandbox's once this one's processes are gone.
	nsPath := fmt.Sprintf("/proc/%d/ns/mnt", s.cmd.Process.Pid)
	if f, err := os.Open(nsPath); err == nil {
		if name, err := os.Readlink(nsPath); err == nil {
			s.mountNS, s.nsFile = name, f
		} else {
			_ = f.Close()
		}
	}
	if opts.MaxConcurrency > 0 && opts.Layer != "" {
		if err := s.waitExtension(ctx); err != nil {
			return nil, err
		}
		if s.TelemetryStalled() {
			return nil, fmt.Errorf("start sandbox: %w", ErrTelemetryStalled)
		}
	}
	return s, nil
}

// waitExtension waits (at most 30 s) until the layer's extension serves its
// OTLP/HTTP receiver, that is until its agent runs. In Managed Instances
// mode the emulator starts the environment at once, and its Telemetry API
// deadlocks when a batch falls due while the extension has not yet
// answered the previous one (the subscriber's loop sends
// platform.logsDropped to itself); the agent answers from when it runs, so
// invocations wait for it. See emulator/README.md.
func (s *Sandbox) waitExtension(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.OTLPHTTPAddr+"/v1/traces", strings.NewReader("{}"))
		if err != nil {
			return fmt.Errorf("start sandbox: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		select {
		case <-s.done:
			return fmt.Errorf("start sandbox: the emulator exited (%v); see its output", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("start sandbox: the extension does not serve OTLP/HTTP on %s after 30s: %w", s.OTLPHTTPAddr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitListening waits (at most 30 s) until the emulator accepts connections.
func (s *Sandbox) waitListening(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("start sandbox: the emulator exited (%v); see its output", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("start sandbox: %w", ctx.Err())
		default:
		}
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("start sandbox: the emulator does not listen on %s after 30s: %w", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Invocation is one call of the function.
type Invocation struct {
	// RequestID is the invocation's request ID (X-Amzn-RequestId); empty
	// lets the emulator pick one.
	RequestID string
	// TraceHeader is passed as X-Amzn-Trace-Id (the runtime sees it as
	// Lambda-Runtime-Trace-Id).
	TraceHeader string
	Payload     []byte
}

// Result is the emulator's answer to an invocation.
type Result struct {
	StatusCode int
	Body       []byte
	// Elapsed is the time from sending the invocation to its answer.
	Elapsed time.Duration
}

// Invoke calls the function and waits for its answer.
func (s *Sandbox) Invoke(ctx context.Context, inv Invocation) (Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+s.Addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(inv.Payload))
	if err != nil {
		return Result{}, fmt.Errorf("invoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if inv.RequestID != "" {
		req.Header.Set("X-Amzn-RequestId", inv.RequestID)
	}
	if inv.TraceHeader != "" {
		req.Header.Set("X-Amzn-Trace-Id", inv.TraceHeader)
	}
	// A stalled emulator answers no invocation again: the call ends when
	// it stalls, rather than when ctx does.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.out.stall:
			cancel()
		case <-ctx.Done():
		}
	}()
	req = req.WithContext(ctx)
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		if s.TelemetryStalled() {
			return Result{}, fmt.Errorf("invoke %s: %w (the emulator dropped a telemetry batch because the extension had not answered the previous one; "+
				"its Telemetry API deadlocks after that in Managed Instances mode: see emulator/README.md): %v", inv.RequestID, ErrTelemetryStalled, err)
		}
		return Result{}, fmt.Errorf("invoke %s: %w", inv.RequestID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Result{}, fmt.Errorf("invoke %s: read answer: %w", inv.RequestID, err)
	}
	return Result{StatusCode: resp.StatusCode, Body: body, Elapsed: time.Since(start)}, nil
}

// TelemetryStalled says whether the emulator has dropped a telemetry batch
// because the subscriber had not answered the previous one. In Managed
// Instances mode its Telemetry API is deadlocked from then on (the
// subscriber's loop sends platform.logsDropped to itself through an
// unbuffered channel, holding the relay's lock), and so is every
// invocation: a defect of the pinned emulator, which a batch falls due
// for while the extension takes longer than its buffering window
// (timeoutMs) to answer the previous one.
func (s *Sandbox) TelemetryStalled() bool {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return s.out.stalled
}

// Processes returns the process IDs of what the emulator started (the
// runtime, the extensions and their children), found in /proc; a fault
// test picks the one to kill by its command line.
func (s *Sandbox) Processes() []int {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	return descendants(s.cmd.Process.Pid)
}

// Reports returns the REPORT lines the emulator printed so far, by request
// ID.
func (s *Sandbox) Reports() map[string]Report {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return maps.Clone(s.out.reports)
}

// Shutdown stops the emulator with SIGTERM, which sends SHUTDOWN to the
// extensions and ends the runtime, and waits for it to exit; after 10 s,
// or when ctx ends, it and whatever it started are killed. Safe to call
// more than once.
func (s *Sandbox) Shutdown(ctx context.Context) error {
	if s.stopped || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	s.stopped = true
	defer func() {
		if s.outFile != nil {
			_ = s.outFile.Close()
		}
		if s.nsFile != nil {
			_ = s.nsFile.Close()
		}
	}()
	// Whatever the emulator started, found now: once it has exited, its
	// children would be re-parented and hard to find.
	kids := descendants(s.cmd.Process.Pid)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	var err error
	select {
	case <-s.done:
		if s.waitErr != nil && !errors.Is(s.waitErr, exec.ErrWaitDelay) {
			err = fmt.Errorf("shut down sandbox: the emulator exited with %v", s.waitErr)
		}
	case <-timer.C:
		err = errors.New("shut down sandbox: the emulator did not exit within 10s of SIGTERM and was killed")
	case <-ctx.Done():
		err = fmt.Errorf("shut down sandbox: %w", ctx.Err())
	}
	_ = s.cmd.Process.Kill()
	// What the emulator started is killed before its exit is waited for:
	// the processes found before the signal, and whatever else is still
	// in the sandbox's namespace (started since, or re-parented once the
	// emulator exited).
	for _, pid := range append(kids, s.inNamespace()...) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	select {
	case <-s.done:
		if errors.Is(s.waitErr, exec.ErrWaitDelay) {
			err = errors.Join(err, fmt.Errorf("shut down sandbox: a process the emulator started kept its output open %v after it exited", outputGrace))
		}
	case <-time.After(outputGrace + 5*time.Second):
		err = errors.Join(err, fmt.Errorf("shut down sandbox: the emulator (pid %d) did not end %v after SIGKILL", s.cmd.Process.Pid, outputGrace+5*time.Second))
	}
	s.client.CloseIdleConnections()
	return err
}

// inNamespace lists the processes in the sandbox's mount namespace, from
// /proc; none when it is not known.
func (s *Sandbox) inNamespace() []int {
	if s.mountNS == "" {
		return nil
	}
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/mnt"); err == nil && ns == s.mountNS {
			out = append(out, pid)
		}
	}
	return out
}

// descendants lists the processes under pid, from /proc.
func descendants(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if child, err := strconv.Atoi(f); err == nil {
				out = append(out, child)
				out = append(out, descendants(child)...)
			}
		}
	}
	return out
}

// reportLine matches the REPORT line of AWS's emulator in classic mode
// (Managed Instances mode prints only the duration).
var reportLine = regexp.MustCompile(`^REPORT RequestId: (\S+)\t(?:Init Duration: [0-9.]+ ms\t)?Duration: ([0-9.]+) ms(?:\tBilled Duration: ([0-9.]+) ms)?`)

// reportWriter passes output on and keeps the REPORT lines it sees.
type reportWriter struct {
	w       io.Writer
	mu      sync.Mutex
	partial []byte
	reports map[string]Report
	stalled bool
	// stall is closed when stalled is first set.
	stall chan struct{}
}

// stalledLine is what the emulator logs when it drops a telemetry batch.
var stalledLine = []byte("previous batch hasn't processed yet")

func (r *reportWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.partial = append(r.partial, p...)
	for {
		i := bytes.IndexByte(r.partial, '\n')
		if i < 0 {
			break
		}
		if bytes.Contains(r.partial[:i], stalledLine) && !r.stalled {
			r.stalled = true
			close(r.stall)
		}
		if m := reportLine.FindSubmatch(r.partial[:i]); m != nil {
			rep := Report{RequestID: string(m[1])}
			rep.DurationMs, _ = strconv.ParseFloat(string(m[2]), 64)
			rep.BilledDurationMs, _ = strconv.ParseFloat(string(m[3]), 64)
			r.reports[rep.RequestID] = rep
		}
		r.partial = r.partial[i+1:]
	}
	if len(r.partial) > 1<<20 {
		r.partial = r.partial[:0]
	}
	return r.w.Write(p)
}

// unzip unpacks the zip at src into dir, keeping the files' modes.
func unzip(src, dir string) error {
	zr, err := zip.OpenReader(src)
	if err != nil {
		return err
	}
	defer zr.Close()
	for _, f := range zr.File {
		name := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(name, filepath.Clean(dir)+string(os.PathSeparator)) {
			return fmt.Errorf("zip entry %q leaves the directory", f.Name)
		}
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(name, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		err = writeFile(name, rc, f.Mode().Perm())
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeFile(dst, f, mode)
}

func writeFile(name string, r io.Reader, mode os.FileMode) error {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, bufio.NewReader(r)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
