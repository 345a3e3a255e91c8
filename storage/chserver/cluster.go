package chserver

import (
	"bytes"
	"context"
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
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/lambdascope/lambdascope/internal/freeport"
)

// ZooKeeper is a throwaway ZooKeeper server, Debian's zookeeper package run
// on a free loopback port with its own data directory, for cluster tests.
type ZooKeeper struct {
	port     int
	dir      string
	cmd      *exec.Cmd
	waitErr  chan error
	stopOnce sync.Once
}

// zooKeeperJar is where Debian's zookeeper package puts the server; its
// manifest names the libraries it needs.
const zooKeeperJar = "/usr/share/java/zookeeper.jar"

// StartZooKeeper starts a standalone ZooKeeper in a new temporary
// directory and waits until it answers "ruok". It installs the package when
// it is missing and the process may (root).
func StartZooKeeper(ctx context.Context, timeout time.Duration) (*ZooKeeper, error) {
	if _, err := os.Stat(zooKeeperJar); err != nil {
		if os.Geteuid() != 0 {
			return nil, fmt.Errorf("%w: %s missing and not root to apt-get install zookeeper", ErrUnavailable, zooKeeperJar)
		}
		out, err := exec.CommandContext(ctx, "apt-get", "install", "-y", "zookeeper").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("%w: apt-get install zookeeper: %v\n%s", ErrUnavailable, err, tail(string(out)))
		}
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("%w: java not found: %v", ErrUnavailable, err)
	}
	dir, err := os.MkdirTemp("", "lambdascope-zookeeper-")
	if err != nil {
		return nil, fmt.Errorf("create zookeeper directory: %w", err)
	}
	ports, err := freeport.Ports(1)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	z := &ZooKeeper{port: ports[0], dir: dir}
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\n4lw.commands.whitelist=ruok\nmaxClientCnxns=0\n", filepath.Join(dir, "data"), z.port)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("write zookeeper config: %w", err)
	}
	logFile, err := os.Create(filepath.Join(dir, "zookeeper.log"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("create zookeeper log: %w", err)
	}
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command(java, "-Xmx256m", "-cp", zooKeeperJar, "org.apache.zookeeper.server.ZooKeeperServerMain", cfgPath)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Its stderr is read through a pipe: a child it left would hold that
	// open, and Wait would not return.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start zookeeper: %w", err)
	}
	z.cmd = cmd
	z.waitErr = make(chan error, 1)
	go func() { z.waitErr <- cmd.Wait() }()
	if err := z.waitReady(ctx, timeout); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "zookeeper.log"))
		_ = z.Stop()
		return nil, fmt.Errorf("zookeeper did not start: %w\n%s", err, tail(string(log)))
	}
	return z, nil
}

func (z *ZooKeeper) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		select {
		case err := <-z.waitErr:
			return fmt.Errorf("zookeeper exited: %v", err)
		default:
		}
		if conn, err := net.DialTimeout("tcp", z.Addr(), time.Second); err == nil {
			_ = conn.SetDeadline(time.Now().Add(time.Second))
			_, _ = conn.Write([]byte("ruok"))
			answer, _ := io.ReadAll(conn)
			_ = conn.Close()
			if string(answer) == "imok" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer on %s within %s", z.Addr(), timeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Addr is the client address, 127.0.0.1:port.
func (z *ZooKeeper) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(z.port)) }

// Port is the client port.
func (z *ZooKeeper) Port() int { return z.port }

// Freeze stops the server's processes (SIGSTOP) for d, as a long pause of
// a starved machine does, and lets them run again; its clients' requests
// time out meanwhile. It returns once they run again, early when ctx ends.
func (z *ZooKeeper) Freeze(ctx context.Context, d time.Duration) error {
	if err := syscall.Kill(-z.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("freeze zookeeper: %w", err)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	if err := syscall.Kill(-z.cmd.Process.Pid, syscall.SIGCONT); err != nil {
		return fmt.Errorf("thaw zookeeper: %w", err)
	}
	return nil
}

// Stop kills the server and removes its directory. It is safe to call more
// than once.
func (z *ZooKeeper) Stop() error {
	z.stopOnce.Do(func() {
		_ = syscall.Kill(-z.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-z.waitErr:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-z.cmd.Process.Pid, syscall.SIGKILL)
			<-z.waitErr
		}
		_ = os.RemoveAll(z.dir)
	})
	return nil
}

// ClusterOptions says how to start a cluster of throwaway servers.
type ClusterOptions struct {
	// Name is the cluster's name in remote_servers; default "lambdascope".
	Name string
	// Shards is the number of servers, one replica each; default 2.
	Shards int
	// ZooKeeper is host:port of the ZooKeeper the servers share
	// (replication and ON CLUSTER DDL). Required.
	ZooKeeper string
	// StartTimeout bounds the wait for each server (default 60s).
	StartTimeout time.Duration
	// Logger receives progress lines (default: discard).
	Logger *slog.Logger
}

// Cluster is several throwaway servers that know each other as one
// ClickHouse cluster: each has the cluster in remote_servers, the shared
// ZooKeeper, the distributed DDL queue and macros shard=NN, replica=r1.
type Cluster struct {
	Name    string
	Servers []*Server
}

var clusterNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// StartCluster starts opts.Shards servers forming one cluster. The
// single-server launcher is unchanged: each server gets its usual config
// plus a config.d/cluster.xml, which ClickHouse merges in.
func StartCluster(ctx context.Context, opts ClusterOptions) (*Cluster, error) {
	if opts.Name == "" {
		opts.Name = "lambdascope"
	}
	if !clusterNamePattern.MatchString(opts.Name) {
		return nil, fmt.Errorf("cluster name %q must match %s", opts.Name, clusterNamePattern)
	}
	if opts.Shards <= 0 {
		opts.Shards = 2
	}
	zkHost, zkPort, err := net.SplitHostPort(opts.ZooKeeper)
	if err != nil {
		return nil, fmt.Errorf("zookeeper address %q: %w", opts.ZooKeeper, err)
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	bin, err := EnsureInstalled(ctx, log)
	if err != nil {
		return nil, err
	}
	ports, err := freeport.Ports(3 * opts.Shards)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Name: opts.Name}
	var tcpPorts []int
	for i := range opts.Shards {
		tcpPorts = append(tcpPorts, ports[3*i])
	}
	for i := range opts.Shards {
		s, err := startClusterMember(ctx, bin, ports[3*i:3*i+3], clusterConfig{
			Name: opts.Name, TCPPorts: tcpPorts, ZooKeeperHost: zkHost, ZooKeeperPort: zkPort,
			Shard: fmt.Sprintf("%02d", i+1),
		}, opts.StartTimeout)
		if err != nil {
			return nil, errors.Join(err, c.Stop())
		}
		if err := s.waitZooKeeper(ctx, opts.StartTimeout); err != nil {
			return nil, errors.Join(err, s.Stop(), c.Stop())
		}
		log.Info("cluster member ready", "cluster", opts.Name, "shard", i+1, "dsn", s.DSN())
		c.Servers = append(c.Servers, s)
	}
	// A DDL worker whose first ZooKeeper connection failed retries five
	// seconds later and, until then, crashes the server on ON CLUSTER DDL
	// (18.16). Now that every server holds a session, one retry period is
	// enough.
	for _, s := range c.Servers {
		if strings.Contains(s.readLog("error.log"), "DDLWorker") {
			log.Info("waiting for the distributed DDL worker to retry", "dsn", s.DSN())
			select {
			case <-ctx.Done():
				return nil, errors.Join(ctx.Err(), c.Stop())
			case <-time.After(ddlWorkerRetry):
			}
			break
		}
	}
	return c, nil
}

// ddlWorkerRetry is a little more than ClickHouse's DDL worker waits before
// retrying its ZooKeeper initialisation.
const ddlWorkerRetry = 6 * time.Second

// Stop stops every server.
func (c *Cluster) Stop() error {
	var errs []error
	for _, s := range c.Servers {
		errs = append(errs, s.Stop())
	}
	return errors.Join(errs...)
}

type clusterConfig struct {
	Name                         string
	TCPPorts                     []int
	ZooKeeperHost, ZooKeeperPort string
	Shard                        string
}

var clusterTmpl = template.Must(template.New("cluster").Parse(`<?xml version="1.0"?>
<yandex>
    <remote_servers>
        <{{.Name}}>
{{- range .TCPPorts}}
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>{{.}}</port></replica>
            </shard>
{{- end}}
        </{{.Name}}>
    </remote_servers>
    <zookeeper>
        <node><host>{{.ZooKeeperHost}}</host><port>{{.ZooKeeperPort}}</port></node>
        <session_timeout_ms>30000</session_timeout_ms>
    </zookeeper>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
    <macros>
        <shard>{{.Shard}}</shard>
        <replica>r1</replica>
    </macros>
</yandex>
`))

func startClusterMember(ctx context.Context, bin string, ports []int, cc clusterConfig, timeout time.Duration) (*Server, error) {
	dir, err := os.MkdirTemp("", "lambdascope-clickhouse-")
	if err != nil {
		return nil, fmt.Errorf("create clickhouse data directory: %w", err)
	}
	s := &Server{host: "127.0.0.1", dir: dir, ownDir: true, tcpPort: ports[0], httpPort: ports[1]}
	cfgPath, err := writeConfig(dir, ports)
	if err != nil {
		s.removeDir()
		return nil, err
	}
	var b bytes.Buffer
	if err := clusterTmpl.Execute(&b, cc); err != nil {
		s.removeDir()
		return nil, fmt.Errorf("render cluster config: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "config.d"), 0o755); err != nil {
		s.removeDir()
		return nil, fmt.Errorf("create config.d: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.d", "cluster.xml"), b.Bytes(), 0o644); err != nil {
		s.removeDir()
		return nil, fmt.Errorf("write cluster config: %w", err)
	}
	s.dsn = fmt.Sprintf("clickhouse://%s/default", net.JoinHostPort(s.host, strconv.Itoa(s.tcpPort)))
	cmd := exec.Command(bin, "--config-file="+cfgPath)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.removeDir()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s.cmd = cmd
	s.waitErr = make(chan error, 1)
	go func() { s.waitErr <- cmd.Wait() }()
	if err := s.waitReady(ctx, timeout); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("clickhouse shard %s did not start: %w\n%s%s", cc.Shard, err, tail(stderr.String()), tail(s.readLog("error.log")))
	}
	return s, nil
}

// waitZooKeeper waits until the server answers a query on system.zookeeper,
// which proves it holds a ZooKeeper session. ClickHouse 18.16 can crash on
// ON CLUSTER DDL sent before its first session is up.
func (s *Server) waitZooKeeper(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	q := url.Values{"query": {"SELECT count() FROM system.zookeeper WHERE path = '/'"}}
	u := fmt.Sprintf("http://%s/?%s", net.JoinHostPort(s.host, strconv.Itoa(s.httpPort)), q.Encode())
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("clickhouse at %s reached no zookeeper within %s", s.Addr(), timeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
