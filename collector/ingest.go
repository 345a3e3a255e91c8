package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
)

// BatchWriter stores one batch; *storage.Store is the real one.
type BatchWriter interface {
	WriteExport(ctx context.Context, req *ingestv1.ExportRequest) (storage.WriteCounts, error)
}

var _ BatchWriter = (*storage.Store)(nil)

// Stats counts what the collector did since it started.
type Stats struct {
	Batches, DuplicateBatches, RejectedBatches, FailedBatches uint64
	Spans, Logs, MetricPoints, Invocations, RejectedItems     uint64
}

type counters struct {
	batches, duplicates, rejected, failed      atomic.Uint64
	spans, logs, points, invocations, rejItems atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Batches: c.batches.Load(), DuplicateBatches: c.duplicates.Load(),
		RejectedBatches: c.rejected.Load(), FailedBatches: c.failed.Load(),
		Spans: c.spans.Load(), Logs: c.logs.Load(), MetricPoints: c.points.Load(),
		Invocations: c.invocations.Load(), RejectedItems: c.rejItems.Load(),
	}
}

// ingestService implements the Ingest API.
type ingestService struct {
	ingestv1.UnimplementedIngestServiceServer
	cfg    Config
	writer BatchWriter
	dedup  *dedup
	log    *slog.Logger
	stats  *counters
}

// errInvalidBatch marks a batch that will never be accepted.
var errInvalidBatch = errors.New("invalid batch")

func validateBatch(req *ingestv1.ExportRequest) error {
	if n := len(req.GetBatchId()); n != 16 {
		return fmt.Errorf("%w: batch_id must be 16 bytes, got %d", errInvalidBatch, n)
	}
	if req.GetFunction().GetName() == "" {
		return fmt.Errorf("%w: function.name is required", errInvalidBatch)
	}
	return nil
}

func (s *ingestService) Export(ctx context.Context, req *ingestv1.ExportRequest) (*ingestv1.ExportResponse, error) {
	s.stats.batches.Add(1)
	if err := validateBatch(req); err != nil {
		s.stats.rejected.Add(1)
		s.log.Warn("rejected batch", "function", req.GetFunction().GetName(), "err", err)
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	var id [16]byte
	copy(id[:], req.GetBatchId())
	switch s.dedup.claim(id) {
	case alreadyStored:
		s.stats.duplicates.Add(1)
		return &ingestv1.ExportResponse{Duplicate: true}, nil
	case inFlight:
		return nil, status.Error(codes.Unavailable, "a batch with this batch_id is being written; retry later")
	}
	// A write, once started, runs to the end even if the caller gives up:
	// cutting it off half-way would leave part of the batch stored, and the
	// caller's retry is answered from dedup once it is.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.WriteTimeout)
	defer cancel()
	counts, err := s.writer.WriteExport(wctx, req)
	s.dedup.finish(id, err == nil)
	if err != nil {
		s.stats.failed.Add(1)
		s.log.Error("store batch failed; the sender will retry", "function", req.GetFunction().GetName(), "batch_id", fmt.Sprintf("%x", id), "err", err)
		return nil, status.Errorf(codes.Unavailable, "store batch: %v", err)
	}
	s.stats.spans.Add(uint64(counts.Spans))
	s.stats.logs.Add(uint64(counts.Logs))
	s.stats.points.Add(uint64(counts.MetricPoints))
	s.stats.invocations.Add(uint64(counts.Invocations))
	s.stats.rejItems.Add(uint64(counts.Rejected))
	if counts.Rejected > 0 {
		s.log.Warn("rejected items in batch", "function", req.GetFunction().GetName(), "rejected", counts.Rejected)
	}
	return &ingestv1.ExportResponse{
		AcceptedSpans:        uint64(counts.Spans),
		AcceptedLogs:         uint64(counts.Logs),
		AcceptedMetricPoints: uint64(counts.MetricPoints),
		AcceptedInvocations:  uint64(counts.Invocations),
		RejectedItems:        uint64(counts.Rejected),
	}, nil
}
