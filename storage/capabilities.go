package storage

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a ClickHouse server version as reported by SELECT version(),
// e.g. 18.16.1 or 24.8.4.13.
type Version struct {
	Major, Minor, Patch, Build int
}

// ParseVersion reads a version string such as "18.16.1" or "24.8.4.13".
// Missing trailing parts are zero; anything after the numbers
// ("-testing", " (official build)") is ignored.
func ParseVersion(s string) (Version, error) {
	s = strings.TrimSpace(s)
	end := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if end >= 0 {
		s = s[:end]
	}
	parts := strings.Split(strings.Trim(s, "."), ".")
	if len(parts) == 0 || parts[0] == "" {
		return Version{}, fmt.Errorf("parse server version %q: no leading number", s)
	}
	var nums [4]int
	for i := 0; i < len(parts) && i < len(nums); i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return Version{}, fmt.Errorf("parse server version %q: %w", s, err)
		}
		nums[i] = n
	}
	return Version{Major: nums[0], Minor: nums[1], Patch: nums[2], Build: nums[3]}, nil
}

// String renders the version as major.minor.patch(.build).
func (v Version) String() string {
	if v.Build != 0 {
		return fmt.Sprintf("%d.%d.%d.%d", v.Major, v.Minor, v.Patch, v.Build)
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// AtLeast reports whether v is major.minor or later.
func (v Version) AtLeast(major, minor int) bool {
	if v.Major != major {
		return v.Major > major
	}
	return v.Minor >= minor
}

// Capabilities says which optional DDL features a server has. The schema is
// written for the baseline (ClickHouse 18.16: plain types, Nested, DateTime,
// MergeTree with PARTITION BY / ORDER BY) and adds the rest only where a
// flag is set.
//
// Thresholds, chosen conservatively (a feature is used only from the first
// release line where it is neither experimental nor missing the variants the
// schema needs):
//   - LowCardinality: from 19.0. 18.12–18.16 accept it behind the session
//     setting allow_experimental_low_cardinality_type=1, but clickhouse-go
//     cannot decode what 18.16 sends back for such columns in every block
//     ("unsupported column type" mid-stream), so 18.x stays on String.
//   - Codecs: from 20.3 (ZSTD, Delta, DoubleDelta, T64 all present; the
//     first 19.x releases had only some of them).
//   - TTL: from 20.3 (column and table TTL arrived in 19.6; 20.3 is the first
//     LTS with ttl_only_drop_parts). Migrations do not use TTL: retention drops
//     partitions, which works on every version.
//   - SkipIndexes: from 20.3 (before 20.1 they needed
//     allow_experimental_data_skipping_indices and bloom_filter was new).
type Capabilities struct {
	Version Version
	// LowCardinality: columns may be LowCardinality(String).
	LowCardinality bool
	Codecs         bool
	TTL            bool
	SkipIndexes    bool
}

// CapabilitiesFor derives the capabilities of a server version.
func CapabilitiesFor(v Version) Capabilities {
	c := Capabilities{Version: v}
	c.LowCardinality = v.AtLeast(19, 0)
	c.Codecs = v.AtLeast(20, 3)
	c.TTL = v.AtLeast(20, 3)
	c.SkipIndexes = v.AtLeast(20, 3)
	return c
}
