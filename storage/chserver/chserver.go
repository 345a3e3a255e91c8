// Package chserver starts and stops throwaway ClickHouse servers: Debian's
// clickhouse-server on free loopback ports with its own data directory, used
// by the tests, the demo and CI. It installs the package when it is missing
// and the process may (root), and it hands out an existing server instead
// when LAMBDASCOPE_CLICKHOUSE_DSN points at one.
package chserver

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/lambdascope/lambdascope/internal/freeport"
)

// EnvDSN names the environment variable that points the launcher at an
// existing server instead of starting one.
const EnvDSN = "LAMBDASCOPE_CLICKHOUSE_DSN"

// ErrUnavailable reports that no ClickHouse server can be started here.
var ErrUnavailable = errors.New("clickhouse unavailable")

// Options says how to start a server. The zero value starts a throwaway
// server in a fresh temporary directory that Stop removes.
type Options struct {
	// Dir holds the server's data, logs and config. Empty means a new
	// temporary directory, removed by Stop.
	Dir string
	// StartTimeout bounds the wait for the server to answer (default 60s).
	StartTimeout time.Duration
	// IgnoreEnv starts a server even when LAMBDASCOPE_CLICKHOUSE_DSN is set.
	IgnoreEnv bool
	// Logger receives progress lines (default: discard).
	Logger *slog.Logger
}

// Server is a running ClickHouse, either started here or reached through
// LAMBDASCOPE_CLICKHOUSE_DSN.
type Server struct {
	dsn      string
	host     string
	tcpPort  int
	httpPort int
	dir      string
	ownDir   bool
	cmd      *exec.Cmd
	waitErr  chan error
	stopOnce sync.Once
	stopErr  error
}

// Start returns a running server: the one LAMBDASCOPE_CLICKHOUSE_DSN names,
// or a new throwaway one.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" && !opts.IgnoreEnv {
		u, err := url.Parse(dsn)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%s=%q is not a DSN like clickhouse://127.0.0.1:9000/default", EnvDSN, dsn)
		}
		return &Server{dsn: dsn, host: u.Host}, nil
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	bin, err := EnsureInstalled(ctx, log)
	if err != nil {
		return nil, err
	}
	s := &Server{host: "127.0.0.1", dir: opts.Dir}
	if s.dir == "" {
		if s.dir, err = os.MkdirTemp("", "lambdascope-clickhouse-"); err != nil {
			return nil, fmt.Errorf("create clickhouse data directory: %w", err)
		}
		s.ownDir = true
	}
	ports, err := freeport.Ports(3)
	if err != nil {
		s.removeDir()
		return nil, err
	}
	s.tcpPort, s.httpPort = ports[0], ports[1]
	cfgPath, err := writeConfig(s.dir, ports)
	if err != nil {
		s.removeDir()
		return nil, err
	}
	s.dsn = fmt.Sprintf("clickhouse://%s/default", net.JoinHostPort(s.host, strconv.Itoa(s.tcpPort)))

	cmd := exec.Command(bin, "--config-file="+cfgPath)
	cmd.Dir = s.dir
	var stderr bytes.Buffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	// The server dies with the process that started it, so a crashed test
	// run leaves no server behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Its stderr is read through a pipe: a child it left would hold that
	// open, and Wait would not return.
	cmd.WaitDelay = 5 * time.Second
	log.Info("starting clickhouse", "binary", bin, "dir", s.dir, "tcp_port", s.tcpPort)
	if err := cmd.Start(); err != nil {
		s.removeDir()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s.cmd = cmd
	s.waitErr = make(chan error, 1)
	go func() { s.waitErr <- cmd.Wait() }()

	if err := s.waitReady(ctx, opts.StartTimeout); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("clickhouse did not start: %w\n%s%s", err, tail(stderr.String()), tail(s.readLog("error.log")))
	}
	log.Info("clickhouse ready", "dsn", s.dsn)
	return s, nil
}

// DSN is the native-protocol address of the default database, for
// clickhouse-go: clickhouse://127.0.0.1:PORT/default.
func (s *Server) DSN() string { return s.dsn }

// DSNFor is the DSN of another database on the same server.
func (s *Server) DSNFor(database string) string {
	u, err := url.Parse(s.dsn)
	if err != nil {
		return s.dsn
	}
	u.Path = "/" + database
	return u.String()
}

// Addr is host:port of the native protocol.
func (s *Server) Addr() string {
	if s.cmd == nil {
		return s.host
	}
	return net.JoinHostPort(s.host, strconv.Itoa(s.tcpPort))
}

// HTTPPort is the HTTP interface's port (0 for an external server).
func (s *Server) HTTPPort() int { return s.httpPort }

// External reports whether the server was reached through
// LAMBDASCOPE_CLICKHOUSE_DSN rather than started here.
func (s *Server) External() bool { return s.cmd == nil }

// Dir is the server's data directory (empty for an external server).
func (s *Server) Dir() string { return s.dir }

// Stop terminates a server started here and removes its temporary
// directory. ClickHouse waits for idle client connections on SIGTERM, so a
// server that has not exited five seconds later is killed: nothing in a
// throwaway server's data needs to survive. It is safe to call more
// than once and does nothing for an external server.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.cmd == nil {
			return
		}
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.waitErr:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.waitErr
		}
		s.removeDir()
	})
	return s.stopErr
}

func (s *Server) removeDir() {
	if s.ownDir {
		_ = os.RemoveAll(s.dir)
	}
}

func (s *Server) readLog(name string) string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log", name))
	return string(b)
}

func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ping := fmt.Sprintf("http://%s/ping", net.JoinHostPort(s.host, strconv.Itoa(s.httpPort)))
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case err := <-s.waitErr:
			return fmt.Errorf("server exited: %v", err)
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ping, nil)
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				conn, err := net.DialTimeout("tcp", net.JoinHostPort(s.host, strconv.Itoa(s.tcpPort)), time.Second)
				if err == nil {
					_ = conn.Close()
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer on %s within %s", ping, timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// EnsureInstalled returns the clickhouse-server binary, installing Debian's
// clickhouse-server and clickhouse-client packages first when it is missing
// and this process runs as root. Concurrent callers (test packages run in
// parallel) install once: the others wait on a lock file.
func EnsureInstalled(ctx context.Context, log *slog.Logger) (string, error) {
	if bin, ok := findServer(); ok {
		return bin, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%w: clickhouse-server is not installed and only root can install it; run `sudo apt-get install -y clickhouse-server clickhouse-client` or set %s", ErrUnavailable, EnvDSN)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", fmt.Errorf("%w: clickhouse-server is not installed and there is no apt-get to install it; set %s to an existing server", ErrUnavailable, EnvDSN)
	}
	unlock, err := lockFile(filepath.Join(os.TempDir(), "lambdascope-clickhouse-install.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if bin, ok := findServer(); ok {
		return bin, nil
	}
	if log != nil {
		log.Info("installing clickhouse-server with apt-get (one time)")
	}
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	for _, args := range [][]string{
		{"update", "-qq"},
		{"install", "-y", "-qq", "clickhouse-server", "clickhouse-client"},
	} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("%w: apt-get %s failed: %v\n%s", ErrUnavailable, strings.Join(args, " "), err, tail(string(out)))
		}
	}
	if bin, ok := findServer(); ok {
		return bin, nil
	}
	return "", fmt.Errorf("%w: apt-get installed clickhouse-server but no server binary was found", ErrUnavailable)
}

func findServer() (string, bool) {
	for _, name := range []string{"clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open install lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("take install lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}

// CompressionConfig is the config.d file that sets how ClickHouse compresses
// the project's tables on disk; the launcher installs it in every server it
// starts, and deploy/ installs the same file on real servers.
//
//go:embed config.d/lambdascope-compression.xml
var CompressionConfig []byte

var configTmpl = template.Must(template.New("config").Parse(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>{{.Dir}}/log/server.log</log>
        <errorlog>{{.Dir}}/log/error.log</errorlog>
        <size>50M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{{.TCP}}</tcp_port>
    <http_port>{{.HTTP}}</http_port>
    <interserver_http_port>{{.Interserver}}</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <path>{{.Dir}}/data/</path>
    <tmp_path>{{.Dir}}/tmp/</tmp_path>
    <user_files_path>{{.Dir}}/user_files/</user_files_path>
    <format_schema_path>{{.Dir}}/format_schemas/</format_schema_path>
    <users_config>{{.Dir}}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <max_connections>1024</max_connections>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mlock_executable>false</mlock_executable>
</yandex>
`))

const usersXML = `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`

func writeConfig(dir string, ports []int) (string, error) {
	for _, sub := range []string{"log", "data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return "", fmt.Errorf("create clickhouse %s directory: %w", sub, err)
		}
	}
	var b bytes.Buffer
	err := configTmpl.Execute(&b, map[string]any{"Dir": dir, "TCP": ports[0], "HTTP": ports[1], "Interserver": ports[2]})
	if err != nil {
		return "", fmt.Errorf("render clickhouse config: %w", err)
	}
	cfg := filepath.Join(dir, "config.xml")
	if err := os.WriteFile(cfg, b.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("write clickhouse config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(usersXML), 0o644); err != nil {
		return "", fmt.Errorf("write clickhouse users: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "config.d"), 0o755); err != nil {
		return "", fmt.Errorf("create config.d: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.d", "lambdascope-compression.xml"), CompressionConfig, 0o644); err != nil {
		return "", fmt.Errorf("write clickhouse compression config: %w", err)
	}
	return cfg, nil
}

func tail(s string) string {
	const max = 2000
	if len(s) > max {
		s = "…" + s[len(s)-max:]
	}
	return s
}
