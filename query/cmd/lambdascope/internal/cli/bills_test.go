package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query/querytest"
)

// cost shows SnapStart restores, Managed Instances fleets and tenants.
func TestCostSnapStartManagedAndTenants(t *testing.T) {
	st, dsn := querytest.OpenStore(t)
	env := map[string]string{EnvDSN: dsn}
	start := time.Now().Add(-5 * time.Minute)
	fn := &ingestv1.FunctionIdentity{AccountId: "111122223333", Region: "us-east-1", Name: "snappy", Version: "4", Architecture: "x86_64",
		MemoryMb: 1024, Runtime: "python3.13", InitializationType: "snap-start"}
	if _, err := st.WriteExport(t.Context(), &ingestv1.ExportRequest{
		BatchId: []byte("bills-batch-0001"), Function: fn,
		Invocations: []*ingestv1.Invocation{
			{RequestId: "s1", StartTimeUnixNano: uint64(start.UnixNano()), DurationMs: 5, BilledDurationMs: 5, MemorySizeMb: 1024,
				ColdStart: true, Status: "success", TenantId: "umbrella"},
		},
	}); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	prices := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(prices, []byte("capacity_providers:\n  - name: web\n    instance_type: m7g.large\n    instances: 1\n    functions: [snappy]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"cost", "--since", "1h", "--by", "snapstart"}, []string{"snappy", "python3.13", "1 "}},
		{[]string{"cost", "--since", "1h", "--by", "tenant"}, []string{"umbrella", "snappy"}},
		{[]string{"cost", "--since", "1h", "--by", "managed", "--prices", prices}, []string{"web", "m7g.large", "2025-12-01"}},
	}
	for _, tt := range tests {
		t.Run(tt.args[4], func(t *testing.T) {
			r := run(t, env, tt.args...)
			if r.code != ExitOK {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output:\n%s\nwant %q", r.stdout, w)
				}
			}
		})
	}
}
