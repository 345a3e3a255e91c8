package collector

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		name string
		s    string
		max  int
		want string
	}{
		{"fits", "hello", 5, "hello"},
		{"ascii marked", strings.Repeat("a", 200), 100, strings.Repeat("a", 76) + "…[truncated 124 bytes]"},
		{"not inside a character", strings.Repeat("é", 100), 100, strings.Repeat("é", 38) + "…[truncated 124 bytes]"},
		{"odd cut point inside a character", "a" + strings.Repeat("é", 100), 100, "a" + strings.Repeat("é", 37) + "…[truncated 126 bytes]"},
		{"below the mark's size, cut only", "héllo world", 8, "héllo w"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := truncate(tt.s, tt.max)
			if got != tt.want {
				t.Fatalf("truncate(%d bytes, %d) = %q, want %q", len(tt.s), tt.max, got, tt.want)
			}
			if len(got) > tt.max || !utf8.ValidString(got) {
				t.Fatalf("result of %d bytes (cap %d), valid UTF-8 %v", len(got), tt.max, utf8.ValidString(got))
			}
		})
	}
}
