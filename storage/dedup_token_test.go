package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func TestInsertDeduplicationTokenGatedByVersionAndCluster(t *testing.T) {
	id := []byte{0xba, 0x7c, 0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}
	one := []*ingestv1.ExportRequest{{BatchId: id}}
	two := []*ingestv1.ExportRequest{{BatchId: id}, {BatchId: id}}
	tests := []struct {
		name    string
		cluster string
		version Version
		reqs    []*ingestv1.ExportRequest
		want    string
	}{
		{"cluster on 24.8, one batch", "c", Version{Major: 24, Minor: 8}, one, "ba7c400102030405060708090a0b0c0d"},
		{"cluster on 24.7, views deduplicated by the source block's ID but not set", "c", Version{Major: 24, Minor: 7}, one, "ba7c400102030405060708090a0b0c0d"},
		{"cluster on 25.3", "c", Version{Major: 25, Minor: 3}, one, "ba7c400102030405060708090a0b0c0d"},
		{"cluster on 22.2, the first with the setting", "c", Version{Major: 22, Minor: 2}, one, "ba7c400102030405060708090a0b0c0d"},
		{"cluster on 22.1", "c", Version{Major: 22, Minor: 1}, one, ""},
		{"cluster on 18.16", "c", Version{Major: 18, Minor: 16, Patch: 1}, one, ""},
		{"single server on 24.8", "", Version{Major: 24, Minor: 8}, one, ""},
		{"two batches in one write", "c", Version{Major: 24, Minor: 8}, two, ""},
		{"no batch ID (OTLP)", "c", Version{Major: 24, Minor: 8}, []*ingestv1.ExportRequest{{}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{cluster: tt.cluster, caps: Capabilities{Version: tt.version}}
			if got := s.dedupToken(tt.reqs); got != tt.want {
				t.Fatalf("dedupToken = %q, want %q", got, tt.want)
			}
			ctx := context.Background()
			if tt.want != "" {
				ctx = context.WithValue(ctx, dedupTokenKey{}, tt.want)
			}
			settings := s.insertSettings(ctx)
			if tok, _ := settings["insert_deduplication_token"].(string); tok != tt.want {
				t.Errorf("insert settings %v: token %q, want %q", settings, tok, tt.want)
			}
			if (settings["insert_distributed_sync"] == 1) != (tt.cluster != "") {
				t.Errorf("insert settings %v: insert_distributed_sync only on a cluster", settings)
			}
			wantViews := tt.cluster != "" && tt.version.AtLeast(24, 8)
			if (settings["deduplicate_blocks_in_dependent_materialized_views"] == 1) != wantViews {
				t.Errorf("insert settings %v: deduplicate_blocks_in_dependent_materialized_views set %v, want %v", settings,
					settings["deduplicate_blocks_in_dependent_materialized_views"] == 1, wantViews)
			}
		})
	}
}

func TestViewsAtRiskCountedOnClustersWhoseRetrySkipsTheViews(t *testing.T) {
	v18 := Version{Major: 18, Minor: 16, Patch: 1}
	viewFailed := errors.New("insert into invocations: code: 999, message: Cannot allocate block number in ZooKeeper: " +
		"Coordination::Exception: Connection loss: while pushing to view lambdascope.usage_daily_mv")
	unknown := fmt.Errorf("insert into spans (%w): read: connection reset by peer", ErrOutcomeUnknown)
	refused := errors.New("insert into invocations: code: 242, message: Table is in readonly mode")
	tests := []struct {
		name    string
		cluster string
		version Version
		table   string
		err     error
		want    uint64
	}{
		{"cluster on 18.16, a view failed", "c", v18, "invocations", viewFailed, 3},
		{"cluster on 18.16, spans, outcome unknown", "c", v18, "spans", unknown, 3},
		{"cluster on 18.16, logs, a view failed", "c", v18, "logs", viewFailed, 3},
		{"cluster on 24.7, a view failed", "c", Version{Major: 24, Minor: 7}, "invocations", viewFailed, 3},
		{"cluster on 18.16, refused before storing", "c", v18, "invocations", refused, 0},
		{"cluster on 18.16, metric_points (no views)", "c", v18, "metric_points", unknown, 0},
		{"cluster on 24.8, a view failed", "c", Version{Major: 24, Minor: 8}, "invocations", viewFailed, 0},
		{"single server on 18.16, a view failed", "", v18, "invocations", viewFailed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{cluster: tt.cluster, caps: Capabilities{Version: tt.version}, logger: slog.New(slog.DiscardHandler)}
			s.noteViewsAtRisk(tt.table, 3, classify(tt.err))
			if got := s.ViewsAtRisk(); got != tt.want {
				t.Errorf("ViewsAtRisk = %d, want %d", got, tt.want)
			}
		})
	}
}
