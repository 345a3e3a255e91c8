package launch

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssFileKB is this process's resident file-backed memory.
func rssFileKB(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatalf("read status: %v", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("parse %q: %v", line, err)
			}
			return kb
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestReleasePagesGivesBackTheBinary holds the parked launcher's release
// to its effect: the pages of its mapped files leave its resident memory.
func TestReleasePagesGivesBackTheBinary(t *testing.T) {
	before := rssFileKB(t)
	n := releasePages()
	after := rssFileKB(t)
	t.Logf("file-backed resident memory %d kB before, %d kB after; %d ranges advised", before, after, n)
	if n == 0 {
		t.Fatal("no mapped file range was advised")
	}
	if after >= before {
		t.Errorf("file-backed resident memory %d kB after the release, %d kB before", after, before)
	}
}
