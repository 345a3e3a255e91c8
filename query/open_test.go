package query_test

import (
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage"
)

// TestOpen reads through a Service that owns its connection: the schema
// it finds, the pickers, and no read once it is closed.
func TestOpen(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	tr := querytest.WriteTwoFunctionTrace(t, st)
	cfg := storage.DefaultConfig()
	cfg.DSN, cfg.ReadOnly = dsn, true
	svc, err := query.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	schema, err := svc.Schema(t.Context())
	if err != nil {
		t.Fatalf("Schema: %v", err)
	}
	if schema.Server == "" || schema.Have != storage.LatestVersion() || schema.Want != storage.LatestVersion() {
		t.Errorf("schema = %+v, want server named and version %d held and read", schema, storage.LatestVersion())
	}
	p := svc.Pickers()
	if p == nil {
		t.Fatal("Pickers = nil")
	}
	r := query.TimeRange{Since: tr.Start.Add(-time.Hour), Until: tr.Start.Add(time.Hour)}
	names, err := p.SpanNames(t.Context(), query.PickerQuery{TimeRange: r, FunctionName: "billing"})
	if err != nil || len(names) != 2 {
		t.Errorf("SpanNames(billing) = %v, %v; want charge and UPDATE accounts", names, err)
	}
	if err := svc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := svc.Functions(t.Context(), r); err == nil {
		t.Error("a read after Close succeeded")
	}
	// A Service on a store it was given leaves the store open.
	if err := query.NewService(st).Close(); err != nil {
		t.Fatalf("Close of a Service on a given store: %v", err)
	}
	if _, err := query.NewService(st).Functions(t.Context(), r); err != nil {
		t.Errorf("the given store was closed: %v", err)
	}
}
