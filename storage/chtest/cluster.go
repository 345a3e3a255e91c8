package chtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/storage/chserver"
)

// ClusterName is the name StartCluster gives its cluster in the servers'
// remote_servers configuration.
const ClusterName = "lambdascope"

// StartCluster starts Debian's ZooKeeper and a ClickHouse cluster of the
// given number of shards on loopback, all stopped when the test ends. When
// the test fails, the tail of each server's error log is written to it.
func StartCluster(t *testing.T, shards int) *chserver.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	zk, err := chserver.StartZooKeeper(ctx, time.Minute)
	if err != nil {
		t.Fatalf("StartZooKeeper: %v", err)
	}
	t.Cleanup(func() { _ = zk.Stop() })
	c, err := chserver.StartCluster(ctx, chserver.ClusterOptions{Name: ClusterName, Shards: shards, ZooKeeper: zk.Addr()})
	if err != nil {
		t.Fatalf("StartCluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop cluster: %v", err)
		}
	})
	// Runs before the servers stop (cleanups run last-in first-out).
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for i, srv := range c.Servers {
			b, _ := os.ReadFile(filepath.Join(srv.Dir(), "log", "error.log"))
			if len(b) > 3000 {
				b = b[len(b)-3000:]
			}
			t.Logf("shard %d error.log:\n%s", i+1, b)
		}
	})
	return c
}
