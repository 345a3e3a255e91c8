package plugin

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"go.uber.org/goleak"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/plugintest"
	"github.com/lambdascope/lambdascope/internal/testca"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// TestTLS connects through a TLS endpoint in front of the real ClickHouse
// with each TLS setting, and checks that the health check names what is
// wrong in a sentence and that queries work when it is right.
func TestTLS(t *testing.T) {
	db := plugintest.NewDatabase(t)
	ca := testca.NewCA(t)
	front := chtest.NewTLSFront(t, ca, db.Addr)
	_, frontPort, _ := strings.Cut(front, ":")
	tests := []struct {
		name     string
		jsonData map[string]any
		caCert   string
		wantOK   bool
		wantMsg  string
	}{
		{name: "ca certificate", jsonData: map[string]any{"address": front, "tls": true}, caCert: ca.PEM, wantOK: true,
			wantMsg: "Connected to ClickHouse"},
		{name: "ca certificate and server name", jsonData: map[string]any{"address": front, "tls": true, "tlsServerName": "localhost"},
			caCert: ca.PEM, wantOK: true, wantMsg: "Connected to ClickHouse"},
		{name: "skip verify", jsonData: map[string]any{"address": front, "tls": true, "tlsSkipVerify": true}, wantOK: true,
			wantMsg: "Connected to ClickHouse"},
		{name: "system roots", jsonData: map[string]any{"address": front, "tls": true},
			wantMsg: "The TLS certificate of ClickHouse at " + front + " is not signed by the system's certificate authorities: add the CA"},
		{name: "other ca", jsonData: map[string]any{"address": front, "tls": true}, caCert: testca.NewCA(t).PEM,
			wantMsg: "is not signed by the CA certificate in the settings"},
		{name: "wrong server name", jsonData: map[string]any{"address": front, "tls": true, "tlsServerName": "clickhouse.example.com"},
			caCert: ca.PEM, wantMsg: `is not valid for "clickhouse.example.com": set the TLS server name to a name the certificate holds (localhost, 127.0.0.1)`},
		{name: "plain port", jsonData: map[string]any{"address": db.Addr, "tls": true, "tlsSkipVerify": true},
			wantMsg: "ClickHouse at " + db.Addr + " does not speak TLS on that port"},
		{name: "tls port without tls", jsonData: map[string]any{"address": front},
			wantMsg: "closed the connection during the handshake: if that is its secure port (tcp_port_secure, usually 9440), turn TLS on"},
		{name: "nothing listening", jsonData: map[string]any{"address": "127.0.0.1:1", "tls": true},
			wantMsg: "ClickHouse at 127.0.0.1:1 is unreachable"},
		{name: "localhost name", jsonData: map[string]any{"address": "localhost:" + frontPort, "tls": true}, caCert: ca.PEM, wantOK: true,
			wantMsg: "Connected to ClickHouse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.jsonData["database"] = db.Name
			ds := newTestDatasourceSecure(t, tt.jsonData, map[string]string{"tlsCACert": tt.caCert})
			res, err := ds.CheckHealth(t.Context(), &backend.CheckHealthRequest{})
			if err != nil {
				t.Fatalf("CheckHealth: %v", err)
			}
			if (res.Status == backend.HealthStatusOk) != tt.wantOK || !strings.Contains(res.Message, tt.wantMsg) {
				t.Fatalf("CheckHealth = %v %q, want ok %v with %q", res.Status, res.Message, tt.wantOK, tt.wantMsg)
			}
			if !strings.HasSuffix(res.Message, ".") {
				t.Errorf("message %q is not a sentence", res.Message)
			}
			if !tt.wantOK {
				return
			}
			resp := runQuery(t, ds, "invocations", nil, fixtureRange)
			if resp.Error != nil {
				t.Fatalf("query over tls: %v", resp.Error)
			}
			if n, _ := resp.Frames[0].RowLen(); n != 3 {
				t.Errorf("%d invocations over tls, want 3", n)
			}
		})
	}
}

// TestTLSDisposeEndsGoroutines checks that a datasource reaching two
// addresses over TLS with its own CA certificate queries, and that
// disposing of it ends every goroutine it started.
func TestTLSDisposeEndsGoroutines(t *testing.T) {
	db := plugintest.NewDatabase(t)
	ca := testca.NewCA(t)
	front := chtest.NewTLSFront(t, ca, db.Addr)
	before := goleak.IgnoreCurrent()
	raw, err := json.Marshal(map[string]any{"address": front + "," + front, "tls": true, "database": db.Name})
	if err != nil {
		t.Fatalf("encode settings: %v", err)
	}
	inst, err := NewDatasource(t.Context(), backend.DataSourceInstanceSettings{JSONData: raw,
		DecryptedSecureJSONData: map[string]string{"tlsCACert": ca.PEM}})
	if err != nil {
		t.Fatalf("NewDatasource: %v", err)
	}
	ds := inst.(*Datasource)
	if resp := runQuery(t, ds, "catalog", nil, fixtureRange); resp.Error != nil {
		t.Fatalf("query over tls: %v", resp.Error)
	}
	ds.Dispose()
	ds.Dispose()
	goleak.VerifyNone(t, before)
}

// newTestDatasourceSecure is newTestDatasource with secureJsonData.
func newTestDatasourceSecure(t *testing.T, jsonData map[string]any, secure map[string]string) *Datasource {
	t.Helper()
	raw, err := json.Marshal(jsonData)
	if err != nil {
		t.Fatalf("encode settings: %v", err)
	}
	inst, err := NewDatasource(t.Context(), backend.DataSourceInstanceSettings{
		UID: "lambdascope-uid", Name: "Lambdascope", JSONData: raw, DecryptedSecureJSONData: secure,
	})
	if err != nil {
		t.Fatalf("NewDatasource: %v", err)
	}
	ds := inst.(*Datasource)
	if ds.settingsErr != nil {
		t.Fatalf("settings: %v", ds.settingsErr)
	}
	t.Cleanup(ds.Dispose)
	return ds
}
