package proto

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedCodeIsCurrent regenerates the Go code into a temporary
// directory and fails when it differs from what is committed.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("protoc is missing; .ci/run installs protobuf-compiler")
		}
		t.Skip("protoc not installed (apt-get install -y protobuf-compiler); run under CI=true to make this a failure")
	}
	out := t.TempDir()
	cmd := exec.CommandContext(t.Context(), "bash", "generate.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate.sh: %v\n%s", err, b)
	}
	for _, name := range []string{"ingest.pb.go", "ingest_grpc.pb.go"} {
		fresh, err := os.ReadFile(filepath.Join(out, "proto", "ingestv1", name))
		if err != nil {
			t.Fatalf("read regenerated %s: %v", name, err)
		}
		committed, err := os.ReadFile(filepath.Join("ingestv1", name))
		if err != nil {
			t.Fatalf("read committed %s: %v", name, err)
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("proto/ingestv1/%s is stale: run `make proto` and commit the result", name)
		}
	}
}
