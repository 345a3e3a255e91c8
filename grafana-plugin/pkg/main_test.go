package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/lambdascope/lambdascope/grafana-plugin/pkg/plugin/plugintest"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// buildPlugin builds this command as Grafana expects to find it.
func buildPlugin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gpx_lambdascope_"+runtime.GOOS+"_"+runtime.GOARCH)
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	return bin
}

// startPlugin starts the executable the way Grafana does: go-plugin's
// handshake over the magic cookie, gRPC, protocol version 2.
func startPlugin(t *testing.T, bin string) (grpcplugin.DiagnosticsClient, grpcplugin.DataClient, grpcplugin.ResourceClient) {
	t.Helper()
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{grpcplugin.ProtocolVersion: {
			"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
			"data":        &grpcplugin.DataGRPCPlugin{},
			"resource":    &grpcplugin.ResourceGRPCPlugin{},
		}},
		Cmd:              exec.Command(bin),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
		StartTimeout:     30 * time.Second,
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("start plugin: %v", err)
	}
	dispense := func(name string) any {
		raw, err := rpc.Dispense(name)
		if err != nil {
			t.Fatalf("dispense %s: %v", name, err)
		}
		return raw
	}
	return dispense("diagnostics").(grpcplugin.DiagnosticsClient),
		dispense("data").(grpcplugin.DataClient),
		dispense("resource").(grpcplugin.ResourceClient)
}

func TestPluginExecutable(t *testing.T) {
	db := plugintest.NewDatabase(t)
	diag, dataClient, _ := startPlugin(t, buildPlugin(t))

	jsonData, err := json.Marshal(map[string]any{"address": db.Addr, "database": db.Name})
	if err != nil {
		t.Fatalf("encode settings: %v", err)
	}
	pctx := backend.ToProto().PluginContext(backend.PluginContext{
		PluginID: "lambdascope-lambdascope-datasource",
		DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
			ID: 1, UID: "ls", Name: "Lambdascope", JSONData: jsonData, Updated: time.Unix(1, 0),
		},
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	health, err := diag.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: pctx})
	if err != nil {
		t.Fatalf("CheckHealth: %v", err)
	}
	if health.Status != pluginv2.CheckHealthResponse_OK || !strings.Contains(health.Message, "schema version") {
		t.Fatalf("CheckHealth = %v %q, want OK", health.Status, health.Message)
	}

	tr := &pluginv2.TimeRange{
		FromEpochMS: plugintest.Start.Add(-time.Hour).UnixMilli(),
		ToEpochMS:   plugintest.Start.Add(time.Hour).UnixMilli(),
	}
	resp, err := dataClient.QueryData(ctx, &pluginv2.QueryDataRequest{PluginContext: pctx, Queries: []*pluginv2.DataQuery{
		{RefId: "T", QueryType: "trace", Json: []byte(`{"traceId":"` + plugintest.TraceID + `"}`), TimeRange: tr},
		{RefId: "I", QueryType: "invocations", Json: []byte(`{"functionName":"orders"}`), TimeRange: tr},
		{RefId: "E", QueryType: "trace", Json: []byte(`{"traceId":"nope"}`), TimeRange: tr},
		{RefId: "M", QueryType: "metrics", Json: []byte(`{"metrics":["errors"],"stepSeconds":3600}`), TimeRange: tr},
		{RefId: "L", QueryType: "logs", Json: []byte(`{"functionName":"billing"}`), TimeRange: tr},
		{RefId: "S", QueryType: "spikes", Json: []byte(`{"format":"timeSeries","spikeSeries":["firing"],"minInvocations":1,"minErrors":1}`), TimeRange: tr},
	}})
	if err != nil {
		t.Fatalf("QueryData: %v", err)
	}
	got, err := backend.FromProto().QueryDataResponse(resp)
	if err != nil {
		t.Fatalf("decode QueryData response: %v", err)
	}
	tests := []struct {
		refID      string
		wantFrames int
		wantRows   int
		wantVis    string
		wantType   string
		wantError  string
		// wantInterval is the interval (ms) the time field must carry.
		wantInterval float64
	}{
		{refID: "T", wantFrames: 1, wantRows: 6, wantVis: "trace"},
		{refID: "I", wantFrames: 1, wantRows: 2, wantVis: "table", wantType: "table"},
		{refID: "M", wantFrames: 2, wantRows: 3, wantType: "timeseries-multi", wantInterval: 3600000},
		{refID: "L", wantFrames: 1, wantRows: 1, wantVis: "logs", wantType: "log-lines"},
		{refID: "S", wantFrames: 2, wantRows: 120, wantType: "timeseries-multi", wantInterval: 60000},
		{refID: "E", wantError: "invalid trace ID"},
	}
	t.Run("T platform span holds the handler", func(t *testing.T) {
		r := got.Responses["T"]
		if len(r.Frames) != 1 {
			t.Fatalf("trace: %d frames, want 1", len(r.Frames))
		}
		ids, _ := r.Frames[0].FieldByName("spanID")
		parents, _ := r.Frames[0].FieldByName("parentSpanID")
		parentOf := map[string]string{}
		for i := range ids.Len() {
			parentOf[ids.At(i).(string)] = parents.At(i).(string)
		}
		if p := parentOf[plugintest.OrdersServer]; p != plugintest.OrdersInvoke {
			t.Errorf("parent of the handler span = %q, want its lambda.invoke %s", p, plugintest.OrdersInvoke)
		}
	})
	t.Run("links", func(t *testing.T) {
		// What Grafana offers from a span, a log line and an invocation:
		// the data links of the frames' fields, by title.
		for _, c := range []struct {
			refID, field string
			want         []string
		}{
			{"T", "requestId", []string{"Invocation", "Logs of this invocation", "Cost of this trace"}},
			{"T", "function", []string{"Function dashboard"}},
			{"L", "requestId", []string{"Invocation", "Logs of this invocation"}},
			{"L", "traceId", []string{"Show trace"}},
			{"I", "requestId", []string{"Logs of this invocation"}},
			{"I", "traceId", []string{"Show trace"}},
		} {
			r := got.Responses[c.refID]
			if len(r.Frames) == 0 {
				t.Errorf("%s: no frame", c.refID)
				continue
			}
			f, _ := r.Frames[0].FieldByName(c.field)
			var titles []string
			if f != nil && f.Config != nil {
				for _, l := range f.Config.Links {
					titles = append(titles, l.Title)
				}
			}
			if !slices.Equal(titles, c.want) {
				t.Errorf("%s %s links = %q, want %q", c.refID, c.field, titles, c.want)
			}
		}
	})
	t.Run("L level", func(t *testing.T) {
		r := got.Responses["L"]
		if len(r.Frames) != 1 {
			t.Fatalf("logs: %d frames, want 1", len(r.Frames))
		}
		sev, _ := r.Frames[0].FieldByName("severity")
		if sev == nil || sev.Len() != 1 || sev.At(0) != "error" {
			t.Errorf("logs severity = %v, want the record's level, error", sev)
		}
	})
	for _, tt := range tests {
		t.Run(tt.refID, func(t *testing.T) {
			r := got.Responses[tt.refID]
			if tt.wantError != "" {
				if r.Error == nil || !strings.Contains(r.Error.Error(), tt.wantError) || r.ErrorSource != backend.ErrorSourceDownstream {
					t.Fatalf("error = %v (source %q), want a downstream error containing %q", r.Error, r.ErrorSource, tt.wantError)
				}
				return
			}
			if r.Error != nil || len(r.Frames) != tt.wantFrames {
				t.Fatalf("response = %d frames, error %v; want %d frames", len(r.Frames), r.Error, tt.wantFrames)
			}
			for _, f := range r.Frames {
				if n, _ := f.RowLen(); n != tt.wantRows {
					t.Errorf("frame %s: rows = %d, want %d", f.Name, n, tt.wantRows)
				}
				if f.Meta == nil || string(f.Meta.PreferredVisualization) != tt.wantVis || string(f.Meta.Type) != tt.wantType {
					t.Errorf("frame %s: meta = %+v, want visualisation %q type %q", f.Name, f.Meta, tt.wantVis, tt.wantType)
				}
				if tt.wantInterval > 0 {
					if c := f.Fields[0].Config; c == nil || c.Interval != tt.wantInterval {
						t.Errorf("frame %s: time field config = %+v, want interval %v ms", f.Name, c, tt.wantInterval)
					}
				}
			}
		})
	}
}
