package querybench

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lambdascope/lambdascope/query/querytest"
)

// TestCacheDropperSaysWhatItDropped holds the dropper to the statements
// 18.16 accepts and to saying which caches it dropped: a page cache drop
// the machine refuses is reported as not done, not hidden.
func TestCacheDropperSaysWhatItDropped(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	tests := []struct {
		name     string
		dropOS   bool
		path     string
		external bool
		want     string
		cold     float64
	}{
		{"page cache not asked", false, "", false, "OS page cache kept (not asked)", 0},
		{"page cache refused", true, filepath.Join(t.TempDir(), "missing", "drop_caches"), false, "OS page cache NOT dropped: the machine refused", 0},
		{"external server", true, filepath.Join(t.TempDir(), "drop_caches"), true, "the server is external", 0},
		{"page cache dropped", true, filepath.Join(t.TempDir(), "drop_caches"), false, "OS page cache dropped too", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewCacheDropper(connOf(t, st), tt.dropOS, tt.external)
			if tt.path != "" {
				d.path = tt.path // a file standing in for /proc/sys/vm/drop_caches
			}
			for range 2 {
				if err := d.Drop(t.Context()); err != nil {
					t.Fatalf("drop: %v", err)
				}
			}
			if got := d.State(); !strings.Contains(got, tt.want) || !strings.HasPrefix(got, "ClickHouse mark and uncompressed caches dropped") {
				t.Errorf("state %q, want it to say %q", got, tt.want)
			}
			if d.Cold() != tt.cold {
				t.Errorf("cold %v, want %v", d.Cold(), tt.cold)
			}
		})
	}
}

func TestWithReadTimeout(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"clickhouse://127.0.0.1:9000/db", "clickhouse://127.0.0.1:9000/db?read_timeout=1h"},
		{"clickhouse://127.0.0.1:9000/db?dial_timeout=5s", "clickhouse://127.0.0.1:9000/db?dial_timeout=5s&read_timeout=1h"},
		{"clickhouse://127.0.0.1:9000/db?read_timeout=2h", "clickhouse://127.0.0.1:9000/db?read_timeout=2h"},
	} {
		if got := withReadTimeout(tt.in); got != tt.want {
			t.Errorf("withReadTimeout(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	opts, err := clickhouse.ParseDSN(withReadTimeout("clickhouse://127.0.0.1:9000/db"))
	if err != nil || opts.ReadTimeout != time.Hour {
		t.Errorf("the DSN's read timeout reads as %v (%v), want 1h", opts.ReadTimeout, err)
	}
}
