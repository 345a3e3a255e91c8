package collector

import (
	"errors"
	"fmt"
	"path/filepath"
)

// DefaultDataDir is data_dir's default, the directory systemd's
// StateDirectory=lambdascope-collector gives the service.
const DefaultDataDir = "/var/lib/lambdascope-collector"

// QuarantineConfig bounds what a batch ClickHouse refuses may cost. A batch
// ClickHouse refuses for its content (a permanent refusal), or refuses
// MaxRefusals times in a row for a reason a retry could help (memory, too
// many parts), is moved out of the way into data_dir/quarantine, counted
// and logged, so that the batches behind it are stored. Failures to reach
// ClickHouse at all are never counted: an outage quarantines nothing.
type QuarantineConfig struct {
	// MaxRefusals is how many retryable refusals in a row a batch may get
	// before it is quarantined.
	MaxRefusals int `yaml:"max_refusals"`
	// MaxBytes caps the quarantine file. When it is full, a refused batch
	// stays where it is (at the head of the WAL, or refused to the sender
	// without one) and /readyz says so: nothing is dropped.
	MaxBytes int64 `yaml:"max_bytes"`
}

func defaultQuarantine() QuarantineConfig {
	return QuarantineConfig{MaxRefusals: 10, MaxBytes: 256 << 20}
}

// FieldLimits caps the strings of every item, in bytes; a longer value is
// cut at a UTF-8 boundary and marked with the suffix "…[truncated N
// bytes]", and counted. Attribute values (of items and resources) have
// their own cap, max_attribute_value_bytes.
type FieldLimits struct {
	// NameBytes caps span, event, metric and scope names.
	NameBytes int `yaml:"name_bytes"`
	// StatusMessageBytes caps span status messages.
	StatusMessageBytes int `yaml:"status_message_bytes"`
	// LogBodyBytes caps log bodies (each string of a structured body).
	LogBodyBytes int `yaml:"log_body_bytes"`
	// OtherBytes caps the remaining strings: trace state, scope version,
	// severity text, metric unit and description, the function's identity.
	OtherBytes int `yaml:"other_bytes"`
}

func defaultFieldLimits() FieldLimits {
	return FieldLimits{NameBytes: 1 << 10, StatusMessageBytes: 4 << 10, LogBodyBytes: 64 << 10, OtherBytes: 1 << 10}
}

// WALDir is where the WAL lives: wal.dir, else data_dir/wal; empty when
// the WAL is off.
func (c Config) WALDir() string {
	switch {
	case !c.WAL.Enabled:
		return ""
	case c.WAL.Dir != "":
		return c.WAL.Dir
	case c.DataDir != "":
		return filepath.Join(c.DataDir, "wal")
	}
	return ""
}

// QuarantineDir is where refused batches are set aside; empty when there
// is no data_dir.
func (c Config) QuarantineDir() string {
	if c.DataDir == "" {
		return ""
	}
	return filepath.Join(c.DataDir, "quarantine")
}

// validateSafety checks data_dir, quarantine and fields.
func (c Config) validateSafety() []error {
	var errs []error
	if c.WAL.Enabled && c.WAL.Dir == "" && c.DataDir == "" {
		errs = append(errs, errors.New("data_dir must be set while the WAL is on (or set wal.dir, or wal.enabled: false to run without one and lose data in a ClickHouse outage)"))
	}
	if c.DataDir != "" && !filepath.IsAbs(c.DataDir) {
		errs = append(errs, fmt.Errorf("data_dir %q must be an absolute path", c.DataDir))
	}
	if c.Quarantine.MaxRefusals <= 0 {
		errs = append(errs, errors.New("quarantine.max_refusals must be positive"))
	}
	if c.Quarantine.MaxBytes < 1<<20 {
		errs = append(errs, errors.New("quarantine.max_bytes must be at least 1 MiB"))
	}
	for _, f := range []struct {
		key string
		v   int
	}{
		{"fields.name_bytes", c.Fields.NameBytes},
		{"fields.status_message_bytes", c.Fields.StatusMessageBytes},
		{"fields.log_body_bytes", c.Fields.LogBodyBytes},
		{"fields.other_bytes", c.Fields.OtherBytes},
	} {
		if f.v < 16 {
			errs = append(errs, fmt.Errorf("%s must be at least 16", f.key))
		}
	}
	return errs
}
