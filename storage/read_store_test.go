package storage

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func readAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// writeReadFixture stores two traces in which "orders" calls "billing" and
// billing queries a database; the second trace's billing span fails and
// orders was a cold start in the first.
func writeReadFixture(t *testing.T, s *Store, base time.Time) (traces [2][16]byte) {
	t.Helper()
	ns := func(ms int) uint64 { return uint64(base.Add(time.Duration(ms) * time.Millisecond).UnixNano()) }
	for i := range 2 {
		tid := [16]byte{0xaa, byte(i + 1)}
		traces[i] = tid
		off := i * 60_000
		root, client, bill, db := []byte{1, byte(i), 0, 0, 0, 0, 0, 1}, []byte{1, byte(i), 0, 0, 0, 0, 0, 2}, []byte{2, byte(i), 0, 0, 0, 0, 0, 3}, []byte{2, byte(i), 0, 0, 0, 0, 0, 4}
		status := &tracepb.Status{}
		if i == 1 {
			status.Code = tracepb.Status_STATUS_CODE_ERROR
		}
		reqs := []*ingestv1.ExportRequest{{
			BatchId:  []byte(fmt.Sprintf("orders-batch-%04d", i)),
			Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "orders", Version: "3", Architecture: "arm64", MemoryMb: 1024, Runtime: "nodejs22.x"},
			Invocations: []*ingestv1.Invocation{{
				RequestId: fmt.Sprintf("req-orders-%d", i), StartTimeUnixNano: ns(off - 1), DurationMs: 200, BilledDurationMs: 200,
				MemorySizeMb: 1024, MaxMemoryUsedMb: 100, ColdStart: i == 0, InitDurationMs: 250, Status: "success", TraceId: tid[:],
			}},
			ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
				{TraceId: tid[:], SpanId: root, Name: "POST /orders", Kind: tracepb.Span_SPAN_KIND_SERVER, StartTimeUnixNano: ns(off), EndTimeUnixNano: ns(off + 200),
					Attributes: []*commonpb.KeyValue{readAttr("faas.invocation_id", fmt.Sprintf("req-orders-%d", i)), readAttr("tenant", "o'brien"), readAttr("faas.trigger", "http")}},
				{TraceId: tid[:], SpanId: client, ParentSpanId: root, Name: "invoke billing", Kind: tracepb.Span_SPAN_KIND_CLIENT, StartTimeUnixNano: ns(off + 10), EndTimeUnixNano: ns(off + 150)},
			}}}}},
		}, {
			BatchId:  []byte(fmt.Sprintf("billing-batch-%03d", i)),
			Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "billing", Version: "7", Architecture: "x86_64", MemoryMb: 512, Runtime: "python3.13"},
			Invocations: []*ingestv1.Invocation{{
				RequestId: fmt.Sprintf("req-billing-%d", i), StartTimeUnixNano: ns(off + 15), DurationMs: 100, BilledDurationMs: 100,
				MemorySizeMb: 512, MaxMemoryUsedMb: 60, Status: map[bool]string{false: "success", true: "error"}[i == 1], TraceId: tid[:],
			}},
			ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
				{TraceId: tid[:], SpanId: bill, ParentSpanId: client, Name: "charge", Kind: tracepb.Span_SPAN_KIND_SERVER, StartTimeUnixNano: ns(off + 20), EndTimeUnixNano: ns(off + 120), Status: status,
					Attributes: []*commonpb.KeyValue{readAttr("faas.invocation_id", fmt.Sprintf("req-billing-%d", i))}},
				{TraceId: tid[:], SpanId: db, ParentSpanId: bill, Name: "UPDATE accounts", Kind: tracepb.Span_SPAN_KIND_CLIENT, StartTimeUnixNano: ns(off + 30), EndTimeUnixNano: ns(off + 50),
					Attributes: []*commonpb.KeyValue{readAttr("db.system", "postgresql")}},
			}}}}},
		}}
		for _, r := range reqs {
			if _, err := s.WriteExport(t.Context(), r); err != nil {
				t.Fatalf("write export: %v", err)
			}
		}
	}
	return traces
}

func TestSearchTraces(t *testing.T) {
	s := openStore(t)
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	traces := writeReadFixture(t, s, base)
	since, until := base.Add(-time.Minute), base.Add(5*time.Minute)
	tests := []struct {
		name string
		f    TraceSearchFilter
		want [][16]byte
	}{
		{"all newest first", TraceSearchFilter{StatusCode: -1}, [][16]byte{traces[1], traces[0]}},
		{"errors", TraceSearchFilter{StatusCode: 2}, [][16]byte{traces[1]}},
		{"function", TraceSearchFilter{StatusCode: -1, FunctionName: "billing", SpanName: "charge"}, [][16]byte{traces[1], traces[0]}},
		{"cold start", TraceSearchFilter{StatusCode: -1, ColdStartOnly: true}, [][16]byte{traces[0]}},
		{"min duration", TraceSearchFilter{StatusCode: -1, MinDuration: 150 * time.Millisecond}, [][16]byte{traces[1], traces[0]}},
		{"max duration excludes all", TraceSearchFilter{StatusCode: -1, MinDuration: 201 * time.Millisecond}, nil},
		{"attribute with quote", TraceSearchFilter{StatusCode: -1, Attributes: map[string]string{"tenant": "o'brien"}}, [][16]byte{traces[1], traces[0]}},
		{"paged", TraceSearchFilter{StatusCode: -1, Offset: 1, Limit: 1}, [][16]byte{traces[0]}},
	}
	for _, v := range hostileValues {
		tests = append(tests,
			struct {
				name string
				f    TraceSearchFilter
				want [][16]byte
			}{"hostile function " + v, TraceSearchFilter{StatusCode: -1, FunctionName: v}, nil},
			struct {
				name string
				f    TraceSearchFilter
				want [][16]byte
			}{"hostile attribute " + v, TraceSearchFilter{StatusCode: -1, Attributes: map[string]string{v: v}}, nil})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.Since, tt.f.Until = since, until
			got, err := s.SearchTraces(t.Context(), tt.f)
			if err != nil {
				t.Fatalf("SearchTraces: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d traces, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if got[i].TraceID != tt.want[i] {
					t.Errorf("trace %d = %x, want %x", i, got[i].TraceID, tt.want[i])
				}
				if got[i].Spans != 4 || got[i].RootName != "POST /orders" || got[i].RootSource != "orders" || !got[i].HasRoot {
					t.Errorf("summary %d = %+v", i, got[i])
				}
			}
		})
	}
}

func TestSpanEdgesAndAggregates(t *testing.T) {
	s := openStore(t)
	// Ten minutes into an hour, so the fixture never straddles an hourly
	// bucket whatever the time of day.
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Hour).Add(10 * time.Minute)
	writeReadFixture(t, s, base)
	since, until := base.Add(-time.Minute), base.Add(5*time.Minute)

	edges, err := s.SpanEdges(t.Context(), SpanEdgeFilter{Since: since, Until: until})
	if err != nil {
		t.Fatalf("SpanEdges: %v", err)
	}
	want := map[string]SpanEdgeRecord{
		"orders>billing":     {Calls: 2, Errors: 1, DurationP50: 100 * time.Millisecond},
		"billing>postgresql": {Calls: 2, Resource: true, DurationP50: 20 * time.Millisecond},
	}
	if len(edges) != len(want) {
		t.Fatalf("edges = %+v", edges)
	}
	for _, e := range edges {
		w, ok := want[e.Caller+">"+e.Callee]
		if !ok || e.Calls != w.Calls || e.Errors != w.Errors || e.Resource != w.Resource || e.DurationP50 != w.DurationP50 {
			t.Errorf("edge %+v, want %+v", e, w)
		}
	}

	f := UsageFilter{Since: since, Until: until}
	buckets, err := s.FunctionBuckets(t.Context(), f, time.Hour)
	if err != nil {
		t.Fatalf("FunctionBuckets: %v", err)
	}
	var billing, orders uint64
	for _, b := range buckets {
		switch b.FunctionName {
		case "billing":
			billing += b.Errors
		case "orders":
			orders += b.ColdStarts
			if b.InitDurationMs != 250 || b.MemoryConfiguredMB != 1024 || b.MaxMemoryUsedMB != 100 {
				t.Errorf("orders bucket = %+v", b)
			}
		}
	}
	if billing != 1 || orders != 1 {
		t.Errorf("billing errors = %d, orders cold starts = %d, want 1 and 1", billing, orders)
	}
	if _, err := s.FunctionBuckets(t.Context(), f, 1500*time.Millisecond); err == nil {
		t.Error("a step of 1.5s was accepted")
	}

	cat, err := s.FunctionCatalog(t.Context(), f)
	if err != nil {
		t.Fatalf("FunctionCatalog: %v", err)
	}
	if len(cat) != 2 || cat[0].FunctionName != "billing" || cat[0].Runtime != "python3.13" || cat[0].Architecture != "x86_64" ||
		cat[1].MemorySizeMB != 1024 || len(cat[1].Versions) != 1 || cat[1].Versions[0] != "3" || cat[0].Errors != 1 {
		t.Errorf("catalog = %+v", cat)
	}

	usage, err := s.Usage(t.Context(), UsageFilter{Since: since, Until: until, FunctionName: "orders"})
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	if len(usage) == 0 || usage[0].FunctionName != "orders" {
		t.Fatalf("usage = %+v", usage)
	}
	var inv, billed uint64
	for _, u := range usage {
		inv, billed = inv+u.Invocations, billed+u.BilledDurationMs
	}
	if inv != 2 || billed != 400 {
		t.Errorf("orders usage: %d invocations, %d ms billed; want 2 and 400", inv, billed)
	}

	for _, v := range hostileValues {
		u, err := s.Usage(t.Context(), UsageFilter{Since: since, Until: until, FunctionName: v, Region: v})
		if err != nil || len(u) != 0 {
			t.Errorf("usage for %q = %v, %v; want nothing", v, u, err)
		}
	}

	triggers, err := s.FunctionTriggers(t.Context(), SpanEdgeFilter{Since: since, Until: until})
	if err != nil {
		t.Fatalf("FunctionTriggers: %v", err)
	}
	if len(triggers) != 1 || len(triggers["orders"]) != 1 || triggers["orders"][0] != "http" {
		t.Errorf("triggers = %v, want orders: [http]", triggers)
	}

	prof, err := s.MemoryProfiles(t.Context(), f)
	if err != nil {
		t.Fatalf("MemoryProfiles: %v", err)
	}
	if len(prof) != 2 || prof[1].FunctionName != "orders" || prof[1].MaxMemoryUsedMB != 100 || prof[1].BilledDurationMs != 400 {
		t.Errorf("profiles = %+v", prof)
	}
}

// writeUsageFixture stores invocations of two functions in several
// configurations over 2026-03-01 to 2026-03-05, some a moment either side of
// midnight, in one batch per day so the view holds several parts.
func writeUsageFixture(t *testing.T, s *Store) {
	t.Helper()
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	offsets := []time.Duration{0, 500 * time.Millisecond, 5*time.Hour + 30*time.Minute, 12 * time.Hour, 24*time.Hour - time.Millisecond}
	type config struct {
		name, version, arch, initType string
		mb, ephemeral                 uint32
	}
	configs := []config{
		{"orders", "3", "arm64", "on-demand", 1024, 512},
		{"orders", "4", "arm64", "provisioned-concurrency", 1024, 512},
		{"billing", "7", "x86_64", "on-demand", 512, 2048},
		{"billing", "7", "x86_64", "on-demand", 1536, 2048},
	}
	n := 0
	for d := range 5 {
		var reqs []*ingestv1.ExportRequest
		for ci, c := range configs {
			req := &ingestv1.ExportRequest{
				BatchId: []byte(fmt.Sprintf("usage-%d-%d", d, ci)),
				Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "eu-west-1", Name: c.name, Version: c.version,
					Architecture: c.arch, MemoryMb: c.mb, EphemeralStorageMb: c.ephemeral, InitializationType: c.initType},
			}
			for oi, off := range offsets {
				n++
				start := day0.AddDate(0, 0, d).Add(off)
				req.Invocations = append(req.Invocations, &ingestv1.Invocation{
					RequestId: fmt.Sprintf("usage-req-%d", n), StartTimeUnixNano: uint64(start.UnixNano()),
					DurationMs: float64(n%97) + 0.25, BilledDurationMs: uint64(n%97 + 1), BilledInitDurationMs: float64(oi%2) * 120.5,
					MemorySizeMb: c.mb, MaxMemoryUsedMb: uint32(40 + n%50), ColdStart: oi%2 == 1, Status: "success",
				})
			}
			reqs = append(reqs, req)
		}
		if _, err := s.WriteExports(t.Context(), reqs); err != nil {
			t.Fatalf("write exports: %v", err)
		}
	}
}

func TestUsageFromDailyViewMatchesRawRows(t *testing.T) {
	s := openStore(t)
	writeUsageFixture(t, s)
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	filters := []struct {
		name string
		f    UsageFilter
	}{
		{"whole days", UsageFilter{Since: day(1), Until: day(6)}},
		{"partial edges", UsageFilter{Since: day(1).Add(5 * time.Hour), Until: day(5).Add(12*time.Hour + 500*time.Millisecond)}},
		{"sub-second edges", UsageFilter{Since: day(2).Add(time.Millisecond), Until: day(4).Add(24*time.Hour - time.Millisecond)}},
		{"inside one day", UsageFilter{Since: day(3).Add(time.Hour), Until: day(3).Add(13 * time.Hour)}},
		{"ragged hours inside one day", UsageFilter{Since: day(3).Add(90 * time.Minute), Until: day(3).Add(12*time.Hour + time.Second)}},
		{"ragged hours across days", UsageFilter{Since: day(1).Add(5*time.Hour + 29*time.Minute), Until: day(4).Add(12*time.Hour + 30*time.Minute)}},
		{"one whole day", UsageFilter{Since: day(2), Until: day(3)}},
		{"function", UsageFilter{Since: day(1), Until: day(5).Add(time.Hour), FunctionName: "billing"}},
		{"function with older rows", UsageFilter{Since: day(2), Until: day(5), FunctionName: "orders"}},
		{"every filter", UsageFilter{Since: day(1), Until: day(6), FunctionName: "orders", FunctionVersion: "4", AccountID: "111122223333", Region: "eu-west-1"}},
		{"no match", UsageFilter{Since: day(1), Until: day(6), Region: "us-east-1"}},
	}
	check := func(t *testing.T) {
		t.Helper()
		for _, tt := range filters {
			want, err := s.usageRaw(t.Context(), tt.f)
			if err != nil {
				t.Fatalf("%s: raw usage: %v", tt.name, err)
			}
			got, err := s.Usage(t.Context(), tt.f)
			if err != nil {
				t.Fatalf("%s: Usage: %v", tt.name, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: Usage =\n%+v\nraw rows =\n%+v", tt.name, got, want)
			}
		}
	}

	// Every fixture row was written after the view existed: whole days come
	// from the view, and it holds the same rows as the raw table.
	check(t)
	whole := UsageFilter{Since: day(1), Until: day(6)}
	query, args := usageDailySQL(s.database, whole)
	fromView, err := s.scanUsage(t.Context(), query, args)
	if err != nil {
		t.Fatalf("usage from view: %v", err)
	}
	raw, err := s.usageRaw(t.Context(), whole)
	if err != nil {
		t.Fatalf("raw usage: %v", err)
	}
	if len(raw) != 5*4 || !reflect.DeepEqual(fromView, raw) {
		t.Fatalf("view rows =\n%+v\nraw rows (%d) =\n%+v", fromView, len(raw), raw)
	}

	// Rows written while the view is detached, as rows written before its
	// migration are, are not in it: their days are summed from raw rows.
	if err := s.conn.Exec(t.Context(), "DETACH TABLE "+s.database+".usage_daily_mv"); err != nil {
		t.Fatalf("detach view: %v", err)
	}
	late := &ingestv1.ExportRequest{
		BatchId:  []byte("usage-late"),
		Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "eu-west-1", Name: "orders", Version: "3", Architecture: "arm64", MemoryMb: 1024, EphemeralStorageMb: 512, InitializationType: "on-demand"},
		Invocations: []*ingestv1.Invocation{{RequestId: "usage-late-1", StartTimeUnixNano: uint64(day(3).Add(time.Hour).UnixNano()),
			DurationMs: 10, BilledDurationMs: 10, MemorySizeMb: 1024, MaxMemoryUsedMb: 99, Status: "success"}},
	}
	if _, err := s.WriteExport(t.Context(), late); err != nil {
		t.Fatalf("write export: %v", err)
	}
	if err := s.conn.Exec(t.Context(), "ATTACH TABLE "+s.database+".usage_daily_mv"); err != nil {
		t.Fatalf("attach view: %v", err)
	}
	if fromView, err = s.scanUsage(t.Context(), query, args); err != nil {
		t.Fatalf("usage from view: %v", err)
	}
	if raw, err = s.usageRaw(t.Context(), whole); err != nil {
		t.Fatalf("raw usage: %v", err)
	}
	if reflect.DeepEqual(fromView, raw) {
		t.Fatal("the view holds the row written while it was detached")
	}
	// Rows written before a view existed start before the horizon that
	// migration 8 records once the views exist; record it as an upgrade
	// would, so that those days are checked against the raw rows.
	if err := s.conn.Exec(t.Context(), "INSERT INTO "+s.database+".view_horizons (view, horizon_unix_nano) "+
		"SELECT 'usage_daily', max(start_unix_nano) FROM "+s.database+".invocations"); err != nil {
		t.Fatalf("record horizon: %v", err)
	}
	check(t)

	// The same for the hourly view, which a late row written while it is
	// detached leaves behind.
	if err := s.conn.Exec(t.Context(), "DETACH TABLE "+s.database+".usage_hourly_mv"); err != nil {
		t.Fatalf("detach view: %v", err)
	}
	late.BatchId = []byte("usage-late-hourly")
	late.Invocations[0].RequestId, late.Invocations[0].StartTimeUnixNano = "usage-late-2", uint64(day(4).Add(7*time.Hour).UnixNano())
	if _, err := s.WriteExport(t.Context(), late); err != nil {
		t.Fatalf("write export: %v", err)
	}
	if err := s.conn.Exec(t.Context(), "ATTACH TABLE "+s.database+".usage_hourly_mv"); err != nil {
		t.Fatalf("attach view: %v", err)
	}
	if err := s.conn.Exec(t.Context(), "INSERT INTO "+s.database+".view_horizons (view, horizon_unix_nano) "+
		"SELECT 'usage_hourly', max(start_unix_nano) FROM "+s.database+".invocations"); err != nil {
		t.Fatalf("record horizon: %v", err)
	}
	check(t)
}

// writeFiguresFixture stores invocations of two functions over three hours,
// a few seconds apart, with errors, timeouts and cold starts.
func writeFiguresFixture(t *testing.T, s *Store, base time.Time) {
	t.Helper()
	statuses := []string{"success", "success", "error", "success", "timeout", "success", "failure", "", "success"}
	for fi, fn := range []string{"orders", "billing"} {
		req := &ingestv1.ExportRequest{
			BatchId:  []byte("figures-" + fn + base.Format(time.RFC3339)),
			Function: &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "eu-west-1", Name: fn, Version: fmt.Sprint(fi + 1), MemoryMb: 512},
		}
		for i := range 900 {
			at := base.Add(time.Duration(i)*12*time.Second + time.Duration(fi*1700+i%7*100)*time.Millisecond)
			inv := &ingestv1.Invocation{
				RequestId: fmt.Sprintf("figures-%s-%d", fn, i), StartTimeUnixNano: uint64(at.UnixNano()),
				DurationMs: float64(10 + (i*37)%200), BilledDurationMs: uint64(11 + (i*37)%200),
				MemorySizeMb: uint32(512 + 512*(i%2)), MaxMemoryUsedMb: uint32(60 + i%90), Status: statuses[i%len(statuses)],
			}
			if i%11 == 0 {
				inv.ColdStart, inv.InitDurationMs = true, 150+float64(i%13)
			}
			req.Invocations = append(req.Invocations, inv)
		}
		if _, err := s.WriteExport(t.Context(), req); err != nil {
			t.Fatalf("write export: %v", err)
		}
	}
}

func TestFunctionBucketsFromViewMatchRawRows(t *testing.T) {
	s := openStore(t)
	base := time.Date(2026, 4, 7, 9, 0, 0, 0, time.UTC)
	writeFiguresFixture(t, s, base)
	tests := []struct {
		name string
		f    UsageFilter
		step time.Duration
		view bool // whether some buckets come from the view
	}{
		{"minutes", UsageFilter{Since: base, Until: base.Add(3 * time.Hour)}, time.Minute, true},
		{"five minutes, ragged edges", UsageFilter{Since: base.Add(7*time.Minute + 300*time.Millisecond), Until: base.Add(2*time.Hour + 3*time.Second)}, 5 * time.Minute, true},
		{"hours, one function", UsageFilter{Since: base.Add(-time.Hour), Until: base.Add(4 * time.Hour), FunctionName: "billing"}, time.Hour, true},
		{"every filter", UsageFilter{Since: base, Until: base.Add(3 * time.Hour), FunctionName: "orders", FunctionVersion: "1", AccountID: "111122223333", Region: "eu-west-1"}, 10 * time.Minute, true},
		{"seconds steps read raw rows", UsageFilter{Since: base, Until: base.Add(time.Hour)}, 30 * time.Second, false},
		{"range inside one bucket", UsageFilter{Since: base.Add(10 * time.Second), Until: base.Add(50 * time.Second)}, time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := s.functionBuckets(t.Context(), tt.f, tt.step, functionBucketsSQL)
			if err != nil {
				t.Fatalf("raw buckets: %v", err)
			}
			got, err := s.FunctionBuckets(t.Context(), tt.f, tt.step)
			if err != nil {
				t.Fatalf("FunctionBuckets: %v", err)
			}
			lo, hi, err := s.figuresViewRange(t.Context(), tt.f, tt.step)
			if err != nil {
				t.Fatalf("view range: %v", err)
			}
			if lo.Before(hi) != tt.view {
				t.Errorf("view range [%s, %s), want the view used: %t", lo, hi, tt.view)
			}
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("%d buckets, raw rows give %d", len(got), len(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				// The view keeps t-digests; the raw read is exact at this size.
				for _, q := range [][2]float64{{g.DurationMsP50, w.DurationMsP50}, {g.DurationMsP95, w.DurationMsP95}, {g.DurationMsP99, w.DurationMsP99}} {
					if math.Abs(q[0]-q[1]) > 0.15*w.DurationMsP99+1 {
						t.Errorf("bucket %s %s: quantiles %v/%v/%v, raw %v/%v/%v", w.Start, w.FunctionName,
							g.DurationMsP50, g.DurationMsP95, g.DurationMsP99, w.DurationMsP50, w.DurationMsP95, w.DurationMsP99)
						break
					}
				}
				if math.Abs(g.InitDurationMs-w.InitDurationMs) > 1e-9 || math.Abs(g.DurationMsSum-w.DurationMsSum) > 1e-6 {
					t.Errorf("bucket %s %s: init %v sum %v, raw %v %v", w.Start, w.FunctionName, g.InitDurationMs, g.DurationMsSum, w.InitDurationMs, w.DurationMsSum)
				}
				g.DurationMsP50, g.DurationMsP95, g.DurationMsP99, g.InitDurationMs, g.DurationMsSum = 0, 0, 0, 0, 0
				w.DurationMsP50, w.DurationMsP95, w.DurationMsP99, w.InitDurationMs, w.DurationMsSum = 0, 0, 0, 0, 0
				if g != w {
					t.Errorf("bucket %d: view-backed %+v, raw %+v", i, g, w)
				}
			}
		})
	}
}

func TestFunctionBucketsSparseViewReadsRawRows(t *testing.T) {
	s := openStore(t)
	base := time.Date(2026, 4, 7, 9, 0, 0, 0, time.UTC)
	// One invocation in each of 30 minutes: the view has a row per
	// invocation, and the raw rows are read instead.
	req := &ingestv1.ExportRequest{BatchId: []byte("figures-sparse"), Function: &ingestv1.FunctionIdentity{Name: "quiet", MemoryMb: 128}}
	for i := range 30 {
		req.Invocations = append(req.Invocations, &ingestv1.Invocation{RequestId: fmt.Sprint("quiet-", i),
			StartTimeUnixNano: uint64(base.Add(time.Duration(i) * time.Minute).UnixNano()), DurationMs: 5, BilledDurationMs: 5,
			MemorySizeMb: 128, Status: "success"})
	}
	if _, err := s.WriteExport(t.Context(), req); err != nil {
		t.Fatalf("write export: %v", err)
	}
	f := UsageFilter{Since: base, Until: base.Add(time.Hour)}
	if lo, hi, err := s.figuresViewRange(t.Context(), f, time.Minute); err != nil || lo.Before(hi) {
		t.Errorf("view range [%s, %s), %v; want none", lo, hi, err)
	}
	got, err := s.FunctionBuckets(t.Context(), f, 10*time.Minute)
	if err != nil || len(got) != 3 || got[0].Invocations != 10 {
		t.Errorf("FunctionBuckets = %+v, %v; want 3 buckets of 10", got, err)
	}
}

func TestFunctionBucketsBeforeHorizonReadRawRows(t *testing.T) {
	s := openStore(t)
	base := time.Date(2026, 4, 7, 9, 0, 0, 0, time.UTC)
	// Rows written while the view is detached, as rows written before its
	// migration are, are not in it; the horizon recorded afterwards, as
	// migration 8 records it, keeps readers off the view for them.
	if err := s.conn.Exec(t.Context(), "DETACH TABLE "+s.database+".function_figures_mv"); err != nil {
		t.Fatalf("detach view: %v", err)
	}
	writeFiguresFixture(t, s, base)
	if err := s.conn.Exec(t.Context(), "ATTACH TABLE "+s.database+".function_figures_mv"); err != nil {
		t.Fatalf("attach view: %v", err)
	}
	if err := s.conn.Exec(t.Context(), "INSERT INTO "+s.database+".view_horizons (view, horizon_unix_nano) "+
		"SELECT 'function_figures', max(start_unix_nano) FROM "+s.database+".invocations"); err != nil {
		t.Fatalf("record horizon: %v", err)
	}
	// Later rows go through the view, which then holds enough invocations
	// per row to be read.
	writeFiguresFixture(t, s, base.Add(5*time.Hour))
	f := UsageFilter{Since: base, Until: base.Add(4 * time.Hour)}
	lo, hi, err := s.figuresViewRange(t.Context(), f, time.Minute)
	if err != nil {
		t.Fatalf("view range: %v", err)
	}
	if want := base.Add(3 * time.Hour); !lo.Equal(want) || !hi.Equal(f.Until) {
		t.Errorf("view range [%s, %s), want [%s, %s) (from the minute after the last row)", lo, hi, want, f.Until)
	}
	got, err := s.FunctionBuckets(t.Context(), f, time.Minute)
	if err != nil {
		t.Fatalf("FunctionBuckets: %v", err)
	}
	want, err := s.functionBuckets(t.Context(), f, time.Minute, functionBucketsSQL)
	if err != nil {
		t.Fatalf("raw buckets: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FunctionBuckets gave %d buckets unlike the raw rows' %d", len(got), len(want))
	}
}

func TestServiceMapEdgesViewAndRawSpans(t *testing.T) {
	s := openStore(t)
	base := time.Now().Add(-3 * time.Hour).Truncate(time.Hour).Add(10 * time.Minute)
	since, until := base.Add(-time.Minute), base.Add(time.Hour+5*time.Minute)
	read := func(t *testing.T) []SpanEdgeRecord {
		t.Helper()
		edges, err := s.ServiceMapEdges(t.Context(), SpanEdgeFilter{Since: since, Until: until})
		if err != nil {
			t.Fatalf("ServiceMapEdges: %v", err)
		}
		return edges
	}
	exec := func(t *testing.T, sql string) {
		t.Helper()
		if err := s.conn.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	// Spans written while the views are detached are not in them, as spans
	// written before migration 10 are not.
	for _, v := range []string{"service_map_minutes_mv", "service_map_hours_mv"} {
		exec(t, "DETACH TABLE "+s.database+"."+v)
	}
	writeReadFixture(t, s, base)
	for _, v := range []string{"service_map_minutes_mv", "service_map_hours_mv"} {
		exec(t, "ATTACH TABLE "+s.database+"."+v)
	}
	if edges := read(t); len(edges) != 0 {
		t.Fatalf("with horizon 0 the views answer, and they lack the spans: edges = %+v", edges)
	}

	// Once the horizon says so, those minutes come from the raw spans, and
	// later ones from the views. Only billing's database call names its
	// callee; orders' call into billing names nothing.
	exec(t, "INSERT INTO "+s.database+".view_horizons (view, horizon_unix_nano) "+
		"SELECT 'service_map', max(start_unix_nano) FROM "+s.database+".spans")
	writeReadFixture(t, s, base.Add(time.Hour))
	edges := read(t)
	want := SpanEdgeRecord{Caller: "billing", Callee: "postgresql", Resource: true, Calls: 4,
		DurationP50: 20 * time.Millisecond, DurationP95: 20 * time.Millisecond, DurationP99: 20 * time.Millisecond}
	if len(edges) != 1 || edges[0] != want {
		t.Fatalf("edges = %+v, want %+v", edges, want)
	}

	if _, err := s.ServiceMapEdges(t.Context(), SpanEdgeFilter{Since: until, Until: since}); err == nil {
		t.Error("a reversed range was accepted")
	}
}

// TestSearchTracesSummariesAcrossHours checks the summary of a found trace
// whose spans start in several hours, some in the margins of the range and
// one beyond them, next to a trace sharing its key in trace_hours: the
// summary read through trace_hours and the one read from every hour of the
// range (before the horizon) both count the spans of the range and its
// margins, and only the found trace's.
func TestSearchTracesSummariesAcrossHours(t *testing.T) {
	s := openStore(t)
	h := time.Now().UTC().Add(-5 * time.Hour).Truncate(time.Hour)
	found := [16]byte{0xbb, 1, 8: 0xcc, 15: 1}
	sameKey := [16]byte{0xbb, 2, 8: 0xcc, 15: 1} // the last 8 bytes of found
	span := func(tid [16]byte, id byte, parent []byte, name string, at time.Duration, failed bool) *tracepb.Span {
		sp := &tracepb.Span{TraceId: tid[:], SpanId: []byte{id, 0, 0, 0, 0, 0, 0, 1}, ParentSpanId: parent, Name: name,
			StartTimeUnixNano: uint64(h.Add(at).UnixNano()), EndTimeUnixNano: uint64(h.Add(at + 20*time.Millisecond).UnixNano())}
		if failed {
			sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}
		}
		return sp
	}
	root := []byte{1, 0, 0, 0, 0, 0, 0, 1}
	for _, spans := range [][]*tracepb.Span{
		{
			span(found, 1, nil, "POST /orders", -10*time.Minute, false),           // in the margin before
			span(found, 2, root, "charge", 5*time.Minute, true),                   // the match
			span(found, 3, root, "ship", 70*time.Minute, false),                   // the next hour
			span(found, 4, root, "late retry", 2*time.Hour+14*time.Minute, false), // in the margin after
			span(found, 5, root, "too early", -20*time.Minute, false),             // beyond the margin
		},
		{span(sameKey, 6, nil, "GET /other", 30*time.Minute, false)},
	} {
		req := &ingestv1.ExportRequest{
			Function:      &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "orders"},
			ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}}}},
		}
		if _, err := s.WriteExport(t.Context(), req); err != nil {
			t.Fatalf("WriteExport: %v", err)
		}
	}
	f := TraceSearchFilter{Since: h, Until: h.Add(2 * time.Hour), StatusCode: 2}
	want := []TraceSummaryRecord{{
		TraceID: found, Start: h.Add(-10 * time.Minute), End: h.Add(2*time.Hour + 14*time.Minute + 20*time.Millisecond),
		Spans: 4, ErrorSpans: 1, RootName: "POST /orders", RootSource: "orders", HasRoot: true, SourceNames: []string{"orders"},
	}}
	got, err := s.SearchTraces(t.Context(), f)
	if err != nil {
		t.Fatalf("SearchTraces: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SearchTraces through trace_hours = %+v, want %+v", got, want)
	}
	if hours, err := s.traceHoursOf(t.Context(), [][16]byte{found}, f.Since.Add(-TraceSearchMargin), f.Until.Add(TraceSearchMargin)); err != nil || len(hours) < 3 {
		t.Fatalf("traceHoursOf = %v, %v; want the three hours of the range and its margins", hours, err)
	}
	// A horizon after the range: the trace is looked for in every hour.
	// (18.16 answers no INSERT ... VALUES sent as a plain query.)
	batch, err := s.conn.PrepareBatch(t.Context(), "INSERT INTO "+s.database+".view_horizons (view, horizon_unix_nano)")
	if err != nil {
		t.Fatalf("prepare a later horizon: %v", err)
	}
	if err := batch.Append("trace_hours", uint64(time.Now().UnixNano())); err != nil {
		t.Fatalf("append a later horizon: %v", err)
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("record a later horizon: %v", err)
	}
	got, err = s.SearchTraces(t.Context(), f)
	if err != nil {
		t.Fatalf("SearchTraces before the horizon: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SearchTraces before the horizon = %+v, want %+v", got, want)
	}
}

// TestSearchTracesNewestHoursFirst checks that searching the newest
// hours of the range first finds the traces a search of the whole range
// finds, for every page: a trace matching in the newest hour whose first
// match is hours earlier must rank by that earlier match.
func TestSearchTracesNewestHoursFirst(t *testing.T) {
	s := openStore(t)
	until := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour)
	root := []byte{1, 0, 0, 0, 0, 0, 0, 1}
	// Each trace: a root span, and failed spans at the given times before until.
	traces := []struct {
		id     [16]byte
		failed []time.Duration
	}{
		{[16]byte{0xdd, 1, 15: 1}, []time.Duration{30 * time.Minute, 10 * time.Hour}}, // newest hour, first match 10 h back
		{[16]byte{0xdd, 2, 15: 2}, []time.Duration{3 * time.Hour}},                    // the four newest hours
		{[16]byte{0xdd, 3, 15: 3}, []time.Duration{20 * time.Minute}},                 // the newest hour only
		{[16]byte{0xdd, 4, 15: 4}, []time.Duration{50 * time.Minute, 2 * time.Hour}},  // both in the four newest hours
		{[16]byte{0xdd, 5, 15: 5}, []time.Duration{12 * time.Hour}},                   // the rest of the day
	}
	for _, tr := range traces {
		first := slices.Max(tr.failed)
		spans := []*tracepb.Span{{TraceId: tr.id[:], SpanId: root, Name: "POST /orders",
			StartTimeUnixNano: uint64(until.Add(-first - time.Minute).UnixNano()), EndTimeUnixNano: uint64(until.Add(-first).UnixNano())}}
		for i, at := range tr.failed {
			spans = append(spans, &tracepb.Span{TraceId: tr.id[:], SpanId: []byte{byte(i + 2), 0, 0, 0, 0, 0, 0, 1}, ParentSpanId: root,
				Name: "charge", StartTimeUnixNano: uint64(until.Add(-at).UnixNano()), EndTimeUnixNano: uint64(until.Add(-at + time.Millisecond).UnixNano()),
				Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}})
		}
		req := &ingestv1.ExportRequest{
			Function:      &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "orders"},
			ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}}}},
		}
		if _, err := s.WriteExport(t.Context(), req); err != nil {
			t.Fatalf("WriteExport: %v", err)
		}
	}
	id := func(i int) [16]byte { return traces[i].id }
	// By first match, newest first: 3 (20 min), 4 (2 h), 2 (3 h), 1 (10 h), 5 (12 h).
	wantAll := [][16]byte{id(2), id(3), id(1), id(0), id(4)}
	for offset := range 3 {
		for limit := 1; limit <= 5; limit++ {
			f := TraceSearchFilter{Since: until.Add(-24 * time.Hour), Until: until, StatusCode: 2, Offset: offset, Limit: limit}
			got, err := s.findTraces(t.Context(), f, true)
			if err != nil {
				t.Fatalf("findTraces: %v", err)
			}
			want := wantAll[min(offset, len(wantAll)):min(offset+limit, len(wantAll))]
			if !slices.Equal(got, want) {
				t.Errorf("offset %d, limit %d: newest hours first found %x, want %x", offset, limit, got, want)
			}
			whole, err := s.findTraces(t.Context(), f, false)
			if err != nil {
				t.Fatalf("findTraces over the whole range: %v", err)
			}
			if !slices.Equal(whole, want) {
				t.Errorf("offset %d, limit %d: the whole range found %x, want %x", offset, limit, whole, want)
			}
		}
	}
}
