package cli

import (
	"strings"
	"testing"

	"github.com/lambdascope/lambdascope/query/querytest"
)

// lambdascope trace shows the trigger of a span inferred from an event and
// the links between the traces a queue joins, both ways.
func TestTraceShowsLinksAndTriggers(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	lt := querytest.WriteLinkedTraces(t, st)
	env := map[string]string{EnvDSN: dsn}

	r := run(t, env, "trace", lt.Worker.String())
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"worker · orders-queue process",
		"SQS orders-queue process, 2 messages; 2 links",
		"Links to other traces (2)",
		"→ " + lt.Orders.String() + "/" + lt.Send.String() + " orders · orders-queue send  message " + lt.MessageID,
		"→ " + lt.Unstored.String() + "/" + lt.UnstoredSend.String() + " (not stored)  message " + lt.UnstoredMessageID,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("worker's trace lacks %q:\n%s", want, r.stdout)
		}
	}

	r = run(t, env, "trace", lt.Orders.String())
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"API Gateway POST /orders 201",
		"Linked from other traces (1)",
		"orders · orders-queue send ← " + lt.Worker.String() + "/" + lt.Consume.String() + " worker · orders-queue process (request req-worker)  message " + lt.MessageID,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("orders' trace lacks %q:\n%s", want, r.stdout)
		}
	}
}
