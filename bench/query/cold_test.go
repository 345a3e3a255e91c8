package querybench

import (
	"path/filepath"
	"strings"
	"testing"

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
