package collector

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Signal names used as the "signal" label.
const (
	sigSpans       = "spans"
	sigLogs        = "logs"
	sigMetrics     = "metric_points"
	sigInvocations = "invocations"
)

// metrics are the collector's Prometheus series, on a registry of its own so
// that several collectors can live in one process (tests).
type metrics struct {
	reg       *prometheus.Registry
	received  *prometheus.CounterVec // signal
	written   *prometheus.CounterVec // signal
	rejected  *prometheus.CounterVec // signal, reason: whole requests refused
	dropped   *prometheus.CounterVec // signal, reason: items dropped from accepted requests
	truncated prometheus.Counter
	// values cut to the fields.* caps, by field (name, status_message,
	// log_body, other)
	truncatedFields *prometheus.CounterVec
	batches         *prometheus.CounterVec // result
	walAppends      prometheus.Counter
	// batches set aside in the quarantine, by reason (refused_permanent,
	// refused_repeatedly), and those it could not take (not_quarantined)
	quarantined *prometheus.CounterVec
	insertDur   *prometheus.HistogramVec // path
	// items a failed insert may have stored already, which its retry
	// stores again: reason stored_before_failure (certain) or
	// outcome_unknown (if ClickHouse stored the block before the
	// connection failed)
	dupRisk *prometheus.CounterVec // reason
}

func newMetrics(walDepth func() (int, int64), viewsAtRisk func() uint64) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lambdascope_collector_received_items_total", Help: "Items received in requests that passed authentication.",
		}, []string{"signal"}),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lambdascope_collector_written_items_total", Help: "Items written to ClickHouse.",
		}, []string{"signal"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lambdascope_collector_rejected_items_total", Help: "Items of requests refused whole, by reason; the sender was told.",
		}, []string{"signal", "reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lambdascope_collector_dropped_items_total", Help: "Items or attributes dropped from accepted requests, by reason.",
		}, []string{"signal", "reason"}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lambdascope_collector_truncated_attributes_total", Help: "Attribute values cut to max_attribute_value_bytes.",
		}),
		truncatedFields: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lambdascope_collector_truncated_fields_total", Help: "Values cut to the fields.* caps and marked, by field: name, status_message, log_body, other.",
		}, []string{"field"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lambdascope_collector_requests_total", Help: "Requests by outcome.",
		}, []string{"result"}),
		walAppends: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lambdascope_collector_wal_appends_total", Help: "Batches written to the WAL.",
		}),
		quarantined: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lambdascope_collector_quarantined_batches_total",
			Help: "Batches ClickHouse refused, set aside in data_dir/quarantine: refused_permanent (for their content), refused_repeatedly (quarantine.max_refusals times in a row); not_quarantined: the quarantine could not take one (full), which was kept.",
		}, []string{"reason"}),
		insertDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lambdascope_collector_insert_duration_seconds", Help: "Duration of inserts into ClickHouse.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"path", "result"}),
		dupRisk: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lambdascope_collector_duplicate_risk_items_total",
			Help: "Items a failed insert may already have stored and its retry stores again: stored_before_failure (rows of the tables inserted before the failing one), outcome_unknown (rows of an insert whose answer was lost), loss_record_outcome_unknown (items of an ingest_losses record whose answer was lost, recorded again with the next write).",
		}, []string{"reason"}),
	}
	m.reg.MustRegister(m.received, m.written, m.rejected, m.dropped, m.truncated, m.truncatedFields, m.batches, m.walAppends, m.quarantined, m.insertDur, m.dupRisk,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if viewsAtRisk != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lambdascope_collector_view_rows_at_risk_total",
			Help: "Rows of failed cluster inserts a shard may have stored while its materialized views did not, which the views miss for good on servers before 24.8 (the retry is deduplicated and skips the views).",
		}, func() float64 { return float64(viewsAtRisk()) }))
	}
	if walDepth != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "lambdascope_collector_wal_records", Help: "Batches in the WAL waiting for ClickHouse.",
			}, func() float64 { n, _ := walDepth(); return float64(n) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "lambdascope_collector_wal_bytes", Help: "Bytes in the WAL waiting for ClickHouse.",
			}, func() float64 { _, b := walDepth(); return float64(b) }),
		)
	}
	return m
}

// itemCounts counts the items of one request by signal.
type itemCounts struct{ spans, logs, points, invocations int }

func (c itemCounts) total() int { return c.spans + c.logs + c.points + c.invocations }

func (c itemCounts) each(f func(signal string, n int)) {
	f(sigSpans, c.spans)
	f(sigLogs, c.logs)
	f(sigMetrics, c.points)
	f(sigInvocations, c.invocations)
}

func (m *metrics) addItems(v *prometheus.CounterVec, c itemCounts, extra ...string) {
	c.each(func(sig string, n int) {
		if n > 0 {
			v.WithLabelValues(append([]string{sig}, extra...)...).Add(float64(n))
		}
	})
}
