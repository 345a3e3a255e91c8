package collector_test

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query"
)

// An invocation that succeeded but whose API Gateway answer was a 5xx
// counts as an error, from the Ingest API to the function figures, the
// function list and the error spikes.
func TestServerErrorAnswersCountAsErrors(t *testing.T) {
	h := start(t)
	now := time.Now().UTC()
	end := now.Truncate(time.Minute)
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	req := &ingestv1.ExportRequest{
		BatchId:  id,
		Function: &ingestv1.FunctionIdentity{Name: "api", Version: "$LATEST", Region: "us-east-1", AccountId: "123456789012", MemoryMb: 256},
	}
	// 30 invocations in the spike window, every third answered 503 by a
	// function that returned without error; 30 in the hour before, all 200.
	for i := range 60 {
		at := end.Add(-4*time.Minute + time.Duration(i%30)*5*time.Second)
		code := uint32(200)
		if i >= 30 {
			at = at.Add(-30 * time.Minute)
		} else if i%3 == 0 {
			code = 503
		}
		req.Invocations = append(req.Invocations, &ingestv1.Invocation{
			RequestId: fmt.Sprint("req-", i), StartTimeUnixNano: uint64(at.UnixNano()), DurationMs: 8, BilledDurationMs: 8,
			MemorySizeMb: 256, MaxMemoryUsedMb: 40, Status: "success", Trigger: "apigateway-http", HttpStatusCode: code, ResponseSize: 12,
		})
	}
	resp, err := h.client.Export(withKey(t.Context(), apiKey), req)
	if err != nil || resp.GetAcceptedInvocations() != 60 {
		t.Fatalf("export: %+v, %v; want 60 invocations accepted", resp, err)
	}

	svc := query.NewService(h.store)
	r := query.TimeRange{Since: end.Add(-2 * time.Hour), Until: end}
	fns, err := svc.Functions(t.Context(), r)
	if err != nil {
		t.Fatalf("Functions: %v", err)
	}
	if len(fns) != 1 || fns[0].Invocations != 60 || fns[0].Errors != 10 {
		t.Errorf("functions = %+v, want api with 60 invocations, 10 errors", fns)
	}
	points, err := svc.FunctionFigures(t.Context(), query.FunctionQuery{TimeRange: r, Step: time.Hour})
	if err != nil {
		t.Fatalf("FunctionFigures: %v", err)
	}
	var errs uint64
	for _, p := range points {
		errs += p.Errors
	}
	if errs != 10 {
		t.Errorf("function figures count %d errors, want 10: %+v", errs, points)
	}
	spikes, err := svc.Spikes(t.Context(), query.DefaultSpikeConfig(), now)
	if err != nil {
		t.Fatalf("Spikes: %v", err)
	}
	if len(spikes) != 1 || !spikes[0].Firing || spikes[0].Errors != 10 || spikes[0].Invocations != 30 {
		t.Errorf("spikes = %+v, want api firing with 10 errors in 30 invocations", spikes)
	}
	invs, err := svc.Invocations(t.Context(), query.InvocationFilter{FunctionName: "api", Since: r.Since, Limit: 100})
	if err != nil {
		t.Fatalf("Invocations: %v", err)
	}
	failed := 0
	for _, inv := range invs {
		if inv.Failed() {
			failed++
			if inv.Status != "success" || inv.HTTPStatusCode != 503 || inv.Trigger != "apigateway-http" || inv.ResponseSize != 12 {
				t.Errorf("failed invocation = %+v, want a success answered 503", inv)
			}
		}
	}
	if failed != 10 {
		t.Errorf("%d invocations failed, want 10", failed)
	}
}
