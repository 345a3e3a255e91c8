package collector_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/storage/chtest"
)

// TestReadyzPingsClickHouse: /readyz asks the store (Store.Ping) whether
// ClickHouse answers, and says so while it does not.
func TestReadyzPingsClickHouse(t *testing.T) {
	dsn, db := chtest.NewDatabase(t)
	migratedStore(t, dsn)
	px := chtest.NewProxy(t, chtest.Server().Addr())
	store := migratedStore(t, "clickhouse://"+px.Addr()+"/"+db)
	srv := serve(t, testConfig(t, dsn), store)
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ready := "http://" + srv.AdminAddr() + "/readyz"
	if code, body := get(t, ready); code != http.StatusOK {
		t.Fatalf("/readyz with ClickHouse up: %d %q", code, body)
	}
	px.Cut()
	if code, body := get(t, ready); code != http.StatusServiceUnavailable || !strings.Contains(body, "ClickHouse unreachable") {
		t.Fatalf("/readyz with ClickHouse cut off: %d %q, want 503 saying ClickHouse is unreachable", code, body)
	}
	px.Resume(chtest.Server().Addr())
	waitFor(t, "/readyz after ClickHouse is reachable again", 30*time.Second, func() bool {
		code, _ := get(t, ready)
		return code == http.StatusOK
	})
}
