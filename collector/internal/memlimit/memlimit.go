// Package memlimit derives the Go runtime's soft memory limit (GOMEMLIMIT)
// from the memory limit of the process's cgroup, so that a collector run
// with systemd's MemoryMax= or a container's memory limit collects garbage
// harder before the kernel's OOM killer steps in.
package memlimit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// Ratio is the share of the cgroup's limit given to the Go runtime; the rest
// is left for memory the runtime does not account (thread stacks, the
// binary's pages, the kernel's socket buffers charged to the cgroup).
const Ratio = 0.9

// Cgroup says where to read the process's cgroup membership and the cgroup
// file systems. The zero value is not useful; use Host.
type Cgroup struct {
	// ProcCgroup is /proc/self/cgroup.
	ProcCgroup string
	// Root is where the cgroup file systems are mounted, /sys/fs/cgroup:
	// the unified (v2) hierarchy at the root, or the v1 memory controller
	// in Root/memory.
	Root string
}

// Host is the running process's own cgroup.
var Host = Cgroup{ProcCgroup: "/proc/self/cgroup", Root: "/sys/fs/cgroup"}

// Limit returns the tightest memory limit in bytes on the process's cgroup
// and its ancestors (memory.max on cgroup v2, memory.limit_in_bytes on v1),
// and false when there is none.
func (c Cgroup) Limit() (int64, bool, error) {
	data, err := os.ReadFile(c.ProcCgroup)
	if err != nil {
		return 0, false, fmt.Errorf("read cgroup membership: %w", err)
	}
	var v2, v1 string
	var v1ok, v2ok bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2, v2ok = parts[2], true
		case hasController(parts[1], "memory"):
			v1, v1ok = parts[2], true
		}
	}
	switch {
	case v1ok:
		// A v1 memory controller holds the limits even where a unified
		// hierarchy is mounted beside it (hybrid mode).
		return tightest(filepath.Join(c.Root, "memory"), v1, "memory.limit_in_bytes")
	case v2ok:
		return tightest(c.Root, v2, "memory.max")
	}
	return 0, false, nil
}

func hasController(list, name string) bool {
	for c := range strings.SplitSeq(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// tightest reads file in the cgroup at rel under root and in each of its
// ancestors, and returns the smallest limit. Missing files are skipped:
// inside a cgroup namespace or a container the path in /proc/self/cgroup
// may not exist under root, and the root cgroup has no limit file.
func tightest(root, rel, file string) (int64, bool, error) {
	var limit int64
	found := false
	dir := path.Clean("/" + rel)
	for {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(dir), file))
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return 0, false, fmt.Errorf("read %s: %w", file, err)
		default:
			n, ok, err := parseLimit(string(b))
			if err != nil {
				return 0, false, fmt.Errorf("%s in %s: %w", file, dir, err)
			}
			if ok && (!found || n < limit) {
				limit, found = n, true
			}
		}
		if dir == "/" {
			return limit, found, nil
		}
		dir = path.Dir(dir)
	}
}

// parseLimit reads a limit file: "max" (v2) or a number of bytes; v1 says
// "no limit" with a number near the largest int64 rounded to a page.
func parseLimit(s string) (int64, bool, error) {
	s = strings.TrimSpace(s)
	if s == "max" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("limit %q is neither max nor a number of bytes", s)
	}
	if n >= math.MaxInt64/2 {
		return 0, false, nil
	}
	return int64(n), true, nil
}

// Soft returns the soft limit to give the Go runtime for a cgroup limit.
func Soft(limit int64) int64 {
	return int64(float64(limit) * Ratio)
}

// Apply sets the Go runtime's soft memory limit to Ratio of the cgroup's
// limit, unless GOMEMLIMIT is set (the runtime has then applied it
// already) or the cgroup has no limit. It returns the soft limit it set, 0
// when it set none; a cgroup it cannot read is logged and left alone.
func Apply(c Cgroup, log *slog.Logger) int64 {
	if v, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		log.Info("memory limit from GOMEMLIMIT", "gomemlimit", v)
		return 0
	}
	limit, ok, err := c.Limit()
	if err != nil {
		log.Warn("cannot read the cgroup's memory limit; no soft memory limit set", "err", err)
		return 0
	}
	if !ok {
		log.Debug("no cgroup memory limit; no soft memory limit set")
		return 0
	}
	soft := Soft(limit)
	debug.SetMemoryLimit(soft)
	log.Info("soft memory limit set from the cgroup's", "cgroup_limit_bytes", limit, "soft_limit_bytes", soft)
	return soft
}
