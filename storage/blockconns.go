package storage

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2"
)

// oldClientRevision is the protocol revision the block writer announces to
// servers older than revision 54420 (ClickHouse 18.x): ch-go sends its
// client information only from 54420 on, while those servers expect it from
// any client above revision 54031, so the two only agree on a client that
// sends none. Blocks, exceptions and progress are the same at this
// revision; query settings are not sent at all below 54429, which is why
// blockConns applies them with SET on each connection.
const oldClientRevision = 54031

// blockConns is the small pool of native-protocol connections (ch-go) that
// the spans and logs blocks are written on: each connection keeps its
// write buffers between inserts, and the blocks are encoded straight from
// dbmodel's columns. It is opened and closed with the Store, from the same
// DSN as its clickhouse-go pool.
type blockConns struct {
	addrs    []string
	opts     ch.Options // without Address
	setup    []string   // statements run on every new connection
	lifetime time.Duration

	slots chan struct{} // one per connection in use

	mu     sync.Mutex
	idle   []blockConn
	closed bool
}

// blockConn is one connection of the pool and when it was opened.
type blockConn struct {
	*ch.Client
	born time.Time
}

// openBlockConns connects once to learn the server's protocol revision,
// then opens the first connection of the pool at the revision the server
// takes. Settings of the DSN and, on a cluster, insert_distributed_sync=1
// (as the clickhouse-go inserts get) are set on every connection.
func openBlockConns(ctx context.Context, opts *clickhouse.Options, database, cluster string, maxConns int) (*blockConns, error) {
	p := &blockConns{
		addrs: opts.Addr,
		opts: ch.Options{
			Database:    database,
			User:        opts.Auth.Username,
			Password:    opts.Auth.Password,
			ClientName:  "lambdascope",
			TLS:         opts.TLS,
			DialTimeout: opts.DialTimeout,
			ReadTimeout: opts.ReadTimeout,
		},
		lifetime: opts.ConnMaxLifetime,
		slots:    make(chan struct{}, maxConns),
	}
	if p.opts.User == "" {
		p.opts.User = "default"
	}
	if p.opts.ReadTimeout == 0 {
		p.opts.ReadTimeout = 5 * time.Minute // clickhouse-go's default
	}
	if p.lifetime == 0 {
		p.lifetime = time.Hour
	}
	if opts.Compression != nil {
		switch opts.Compression.Method {
		case clickhouse.CompressionLZ4:
			p.opts.Compression = ch.CompressionLZ4
		case clickhouse.CompressionLZ4HC:
			p.opts.Compression = ch.CompressionLZ4HC
		case clickhouse.CompressionZSTD:
			p.opts.Compression = ch.CompressionZSTD
		}
	}
	setup, err := settingStatements(opts.Settings)
	if err != nil {
		return nil, err
	}
	if cluster != "" {
		// Wait for the shards to hold the rows, as prepareInsert does.
		setup = append(setup, setSQL("insert_distributed_sync", "1"))
	}

	// The first connection only learns the server's revision: no query
	// can be sent on it before the revision the pool announces is known.
	probe, err := p.dial(ctx)
	if err != nil {
		return nil, err
	}
	if probe.ServerInfo().Revision < proto.FeatureClientWriteInfo.Version() {
		p.opts.ProtocolVersion = oldClientRevision
	}
	_ = probe.Close()
	p.setup = setup
	c, err := p.dial(ctx)
	if err != nil {
		return nil, err
	}
	p.idle = append(p.idle, c)
	return p, nil
}

// settingStatements renders the DSN's query settings as SET statements.
func settingStatements(settings clickhouse.Settings) ([]string, error) {
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		if !identifierPattern.MatchString(k) {
			return nil, fmt.Errorf("dsn setting %q is not a setting name", k)
		}
		var v string
		switch x := settings[k].(type) {
		case string:
			v = quoteString(x)
		case int:
			v = strconv.Itoa(x)
		case bool:
			v = "0"
			if x {
				v = "1"
			}
		case clickhouse.CustomSetting:
			v = quoteString(x.Value)
		default:
			v = quoteString(fmt.Sprint(x))
		}
		out = append(out, setSQL(k, v))
	}
	return out, nil
}

// quoteString is s as a ClickHouse string literal.
func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// dial connects to the first address that answers and applies the setup
// statements.
func (p *blockConns) dial(ctx context.Context) (blockConn, error) {
	var errs []error
	for _, addr := range p.addrs {
		opts := p.opts
		opts.Address = addr
		c, err := ch.Dial(ctx, opts)
		if err != nil {
			errs = append(errs, fmt.Errorf("connect to %s: %w", addr, err))
			continue
		}
		for _, stmt := range p.setup {
			if err := c.Do(ctx, ch.Query{Body: stmt}); err != nil {
				return blockConn{}, errors.Join(fmt.Errorf("%s on %s: %w", stmt, addr, err), c.Close())
			}
		}
		return blockConn{Client: c, born: time.Now()}, nil
	}
	if len(errs) == 0 {
		return blockConn{}, errors.New("dsn names no address")
	}
	return blockConn{}, errors.Join(errs...)
}

// errBlockConnsClosed is returned by acquire after close.
var errBlockConnsClosed = errors.New("store is closed")

// acquire returns a connection for one insert, an idle one when there is
// one (reused is then true), else a new one.
func (p *blockConns) acquire(ctx context.Context) (c blockConn, reused bool, err error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return blockConn{}, false, ctx.Err()
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return blockConn{}, false, errBlockConnsClosed
	}
	for len(p.idle) > 0 {
		c = p.idle[len(p.idle)-1]
		p.idle[len(p.idle)-1] = blockConn{}
		p.idle = p.idle[:len(p.idle)-1]
		if c.IsClosed() || time.Since(c.born) > p.lifetime {
			_ = c.Close()
			continue
		}
		p.mu.Unlock()
		return c, true, nil
	}
	p.mu.Unlock()
	if c, err = p.dial(ctx); err != nil {
		<-p.slots
		return blockConn{}, false, err
	}
	return c, false, nil
}

// release returns a connection after an insert; one that failed is closed,
// since its stream may be anywhere in a packet.
func (p *blockConns) release(c blockConn, ok bool) {
	defer func() { <-p.slots }()
	p.mu.Lock()
	if ok && !p.closed && !c.IsClosed() {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	_ = c.Close()
}

// close closes the idle connections; those in use are closed when they are
// released.
func (p *blockConns) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var errs []error
	for _, c := range p.idle {
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	p.idle = nil
	return errors.Join(errs...)
}
