package collector

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync/atomic"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
)

// BatchWriter stores batches, several in one insert per table;
// *storage.Store is the real one.
type BatchWriter interface {
	WriteExports(ctx context.Context, reqs []*ingestv1.ExportRequest) (storage.WriteCounts, error)
}

var _ BatchWriter = (*storage.Store)(nil)

// Stats counts what the collector did since it started.
type Stats struct {
	Batches, DuplicateBatches, RejectedBatches, FailedBatches uint64
	Spans, Logs, MetricPoints, Invocations, RejectedItems     uint64
	// DuplicateRiskItems counts rows failed inserts may have stored before
	// their retry stored them again (see metric
	// lambdascope_collector_duplicate_risk_items_total).
	DuplicateRiskItems uint64
	// ViewRowsAtRisk counts rows of failed cluster inserts the
	// materialized views may miss for good (storage.Store.ViewsAtRisk;
	// metric lambdascope_collector_view_rows_at_risk_total).
	ViewRowsAtRisk uint64

	// RequestBytesRead counts the request body bytes read (decompressed),
	// on gRPC and OTLP/HTTP; bodies of requests without an accepted key
	// are never read.
	RequestBytesRead uint64
	// InflightBytes is what the requests in flight hold of
	// max_inflight_bytes now; InflightPeakBytes the most they held.
	InflightBytes, InflightPeakBytes int64
	// RefusedConnections counts OTLP/HTTP connections closed at once
	// because their address held http_limits.max_conns_per_ip already.
	RefusedConnections uint64
}

type counters struct {
	batches, duplicates, rejected, failed      atomic.Uint64
	spans, logs, points, invocations, rejItems atomic.Uint64
	dupRisk                                    atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Batches: c.batches.Load(), DuplicateBatches: c.duplicates.Load(),
		RejectedBatches: c.rejected.Load(), FailedBatches: c.failed.Load(),
		Spans: c.spans.Load(), Logs: c.logs.Load(), MetricPoints: c.points.Load(),
		Invocations: c.invocations.Load(), RejectedItems: c.rejItems.Load(),
		DuplicateRiskItems: c.dupRisk.Load(),
	}
}

// ingestService implements the Ingest API and the three OTLP services.
type ingestService struct {
	ingestv1.UnimplementedIngestServiceServer
	p   *pipeline
	log *slog.Logger
}

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
	s.p.stats.batches.Add(1)
	spans := spanDecodeOf(ctx)
	// The spans' columns are done with once the call ends: the write has
	// completed, or the request is in the WAL or refused.
	defer spans.release()
	if err := validateBatch(req); err != nil {
		s.reject(ctx, req, "Ingest API", err)
		return nil, grpcStatus(err)
	}
	dropped := s.dropBadItems(ctx, req, "Ingest API")
	res, err := s.p.submit(ctx, req, spans)
	if err != nil {
		return nil, grpcStatus(err)
	}
	if res.duplicate {
		return &ingestv1.ExportResponse{Duplicate: true}, nil
	}
	return &ingestv1.ExportResponse{
		AcceptedSpans:        uint64(res.counts.Spans),
		AcceptedLogs:         uint64(res.counts.Logs),
		AcceptedMetricPoints: uint64(res.counts.MetricPoints),
		AcceptedInvocations:  uint64(res.counts.Invocations),
		RejectedItems:        uint64(res.counts.Rejected + dropped),
	}, nil
}

// dropBadItems takes out of req the spans storage would refuse (bad trace
// or span IDs), so that the sender learns of them also when the batch is
// acknowledged from the WAL, before it is written. It counts and logs
// them, with the items decoding already left out (strings that are not
// UTF-8), and returns the sum of both.
func (s *ingestService) dropBadItems(ctx context.Context, req *ingestv1.ExportRequest, via string) int {
	fn := req.GetFunction().GetName()
	malformed, problem := dropMalformedSpans(req, func(sp *tracepb.Span) {
		s.p.losses.add(nanoTime(sp.GetStartTimeUnixNano()), fn, sigSpans, storage.StageCollector, "malformed", 1)
	})
	if d := spanDecodeOf(ctx); d != nil {
		malformed += d.malformed
		for _, at := range d.malformedAt {
			s.p.losses.add(nanoTime(at), fn, sigSpans, storage.StageCollector, "malformed", 1)
		}
		if problem == nil {
			problem = d.problem
		}
	}
	if malformed > 0 {
		s.p.stats.rejItems.Add(uint64(malformed))
		s.p.m.dropped.WithLabelValues(sigSpans, "malformed").Add(float64(malformed))
		s.log.Warn("dropped malformed spans; the rest of the request is kept", "via", via, "spans", malformed, "example", problem)
	}
	undecodable := decodeRejected(ctx)
	if undecodable > 0 {
		s.p.stats.rejItems.Add(uint64(undecodable))
		s.p.m.dropped.WithLabelValues("items", "invalid_utf8").Add(float64(undecodable))
		s.log.Warn("dropped items holding strings that are not UTF-8; the rest of the request is kept", "via", via, "items", undecodable)
	}
	return malformed + undecodable
}

func (s *ingestService) reject(ctx context.Context, req *ingestv1.ExportRequest, via string, err error) {
	s.p.stats.rejected.Add(1)
	s.p.m.batches.WithLabelValues("rejected").Inc()
	items := countItems(req)
	items.spans += spanDecodeOf(ctx).spanItems()
	items.logs += spanDecodeOf(ctx).logItems()
	s.p.m.addItems(s.p.m.rejected, items, "invalid")
	s.log.Warn("rejected request", "via", via, "function", req.GetFunction().GetName(), "err", err)
}

// otlpBatch wraps an OTLP request as an Ingest API batch with a fresh batch
// ID and no function identity: storage takes the service and function from
// the resource attributes.
func otlpBatch() *ingestv1.ExportRequest {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &ingestv1.ExportRequest{BatchId: id}
}

// exportOTLP submits an OTLP request and returns the rejected item count
// (dropped before the request was submitted, or refused by storage).
func (s *ingestService) exportOTLP(ctx context.Context, req *ingestv1.ExportRequest, via string) (int64, error) {
	s.p.stats.batches.Add(1)
	dropped := s.dropBadItems(ctx, req, via)
	res, err := s.p.submit(ctx, req, nil)
	if err != nil {
		return 0, err
	}
	return int64(res.counts.Rejected + dropped), nil
}

// rejectedMessage is the partial success's error_message.
const rejectedMessage = "items with malformed trace or span IDs, or strings that are not UTF-8, were dropped; the rest was accepted"

type otlpTraces struct {
	coltracepb.UnimplementedTraceServiceServer
	s *ingestService
}

func (o otlpTraces) Export(ctx context.Context, in *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	req := otlpBatch()
	req.ResourceSpans = in.GetResourceSpans()
	rejected, err := o.s.exportOTLP(ctx, req, viaOf(ctx))
	if err != nil {
		return nil, grpcStatus(err)
	}
	out := &coltracepb.ExportTraceServiceResponse{}
	if rejected > 0 {
		out.PartialSuccess = &coltracepb.ExportTracePartialSuccess{RejectedSpans: rejected, ErrorMessage: rejectedMessage}
	}
	return out, nil
}

type otlpLogs struct {
	collogspb.UnimplementedLogsServiceServer
	s *ingestService
}

func (o otlpLogs) Export(ctx context.Context, in *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, error) {
	req := otlpBatch()
	req.ResourceLogs = in.GetResourceLogs()
	rejected, err := o.s.exportOTLP(ctx, req, viaOf(ctx))
	if err != nil {
		return nil, grpcStatus(err)
	}
	out := &collogspb.ExportLogsServiceResponse{}
	if rejected > 0 {
		out.PartialSuccess = &collogspb.ExportLogsPartialSuccess{RejectedLogRecords: rejected, ErrorMessage: rejectedMessage}
	}
	return out, nil
}

type otlpMetrics struct {
	colmetricspb.UnimplementedMetricsServiceServer
	s *ingestService
}

func (o otlpMetrics) Export(ctx context.Context, in *colmetricspb.ExportMetricsServiceRequest) (*colmetricspb.ExportMetricsServiceResponse, error) {
	req := otlpBatch()
	req.ResourceMetrics = in.GetResourceMetrics()
	rejected, err := o.s.exportOTLP(ctx, req, viaOf(ctx))
	if err != nil {
		return nil, grpcStatus(err)
	}
	out := &colmetricspb.ExportMetricsServiceResponse{}
	if rejected > 0 {
		out.PartialSuccess = &colmetricspb.ExportMetricsPartialSuccess{RejectedDataPoints: rejected, ErrorMessage: rejectedMessage}
	}
	return out, nil
}

type viaKey struct{}

// viaOf names the protocol a request came by, for log lines.
func viaOf(ctx context.Context) string {
	if v, ok := ctx.Value(viaKey{}).(string); ok {
		return v
	}
	return "OTLP gRPC"
}
