package querybench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// dropCachesFile is where Linux takes the order to drop its page cache.
const dropCachesFile = "/proc/sys/vm/drop_caches"

// CacheDropper empties the caches a read could be served from: ClickHouse's
// mark cache and uncompressed block cache (SYSTEM DROP MARK CACHE and
// SYSTEM DROP UNCOMPRESSED CACHE, both in 18.16), and, when OS is set and
// the machine lets it, the operating system's page cache (sync, then 3
// into /proc/sys/vm/drop_caches, which needs root). State says which of
// them were dropped.
type CacheDropper struct {
	conn clickhouse.Conn
	// OS asks for the page cache to be dropped too; it turns false, with
	// OSRefused set, the first time the machine refuses.
	OS        bool
	OSRefused error
	// External is true when the server runs elsewhere, where this
	// machine's page cache is not the server's.
	External bool
	drops    int
	// path is where the page cache drop is written (dropCachesFile).
	path string
	// cachedBefore and cachedAfter are the page cache (Cached in
	// /proc/meminfo) around the first OS drop, to show that it took.
	cachedBefore, cachedAfter uint64
}

// NewCacheDropper drops the caches of conn's server, the page cache too
// when dropOS is set.
func NewCacheDropper(conn clickhouse.Conn, dropOS, external bool) *CacheDropper {
	return &CacheDropper{conn: conn, OS: dropOS, External: external, path: dropCachesFile}
}

// Drop empties the caches.
func (c *CacheDropper) Drop(ctx context.Context) error {
	for _, q := range []string{"SYSTEM DROP MARK CACHE", "SYSTEM DROP UNCOMPRESSED CACHE"} {
		if err := c.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("drop clickhouse caches (%s): %w", q, err)
		}
	}
	if c.OS {
		first := c.drops == 0
		if first {
			c.cachedBefore = cachedKiB()
		}
		syscall.Sync()
		if err := os.WriteFile(c.path, []byte("3\n"), 0o200); err != nil {
			c.OS, c.OSRefused = false, err
		} else if first {
			c.cachedAfter = cachedKiB()
		}
	}
	c.drops++
	return nil
}

// State is the cache state each read starts from, in words.
func (c *CacheDropper) State() string {
	var b strings.Builder
	b.WriteString("ClickHouse mark and uncompressed caches dropped before each read")
	switch {
	case c.OSRefused != nil:
		fmt.Fprintf(&b, "; OS page cache NOT dropped: the machine refused (%v)", c.OSRefused)
	case !c.OS:
		b.WriteString("; OS page cache kept (not asked)")
	case c.External:
		b.WriteString("; this machine's OS page cache dropped, but the server is external: its page cache is unknown")
	default:
		fmt.Fprintf(&b, "; OS page cache dropped too (sync; echo 3 > %s; page cache %d MiB before the first drop, %d MiB after)",
			c.path, c.cachedBefore/1024, c.cachedAfter/1024)
	}
	return b.String()
}

// Cold is 1 when the OS page cache was dropped before every read on the
// server's machine, 0 otherwise.
func (c *CacheDropper) Cold() float64 {
	if c.OS && c.OSRefused == nil && !c.External {
		return 1
	}
	return 0
}

// cachedKiB is the page cache of this machine, 0 when unknown.
func cachedKiB() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "Cached:" {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			return n
		}
	}
	return 0
}
