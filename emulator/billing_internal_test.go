package emulator

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBilledDurationMs(t *testing.T) {
	tests := []struct {
		name    string
		d, init time.Duration
		managed bool
		wantMs  int64
	}{
		{"exact millisecond", 5 * time.Millisecond, 0, false, 5},
		{"rounded up", 5*time.Millisecond + time.Microsecond, 0, false, 6},
		{"under a millisecond", 100 * time.Microsecond, 0, false, 1},
		{"init included on demand", 2500 * time.Microsecond, 100*time.Millisecond + 300*time.Microsecond, false, 103},
		{"init left out on managed instances", 2500 * time.Microsecond, 100 * time.Millisecond, true, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := billedDurationMs(tc.d, tc.init, tc.managed); got != tc.wantMs {
				t.Errorf("billedDurationMs(%v, %v, %v) = %d, want %d", tc.d, tc.init, tc.managed, got, tc.wantMs)
			}
		})
	}
}

// TestSubscriptionBatches checks that a subscription cuts what it holds
// into batches of at most maxItems events and maxBytes bytes.
func TestSubscriptionBatches(t *testing.T) {
	tests := []struct {
		name      string
		maxItems  int
		maxBytes  int
		events    int
		eventSize int
		want      []int
	}{
		{"maxItems", 3, 1 << 20, 7, 10, []int{3, 3, 1}},
		{"maxBytes", 100, 250, 5, 100, []int{2, 2, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var sizes []int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var batch []json.RawMessage
				if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
					t.Errorf("decode batch: %v", err)
				}
				mu.Lock()
				sizes = append(sizes, len(batch))
				mu.Unlock()
			}))
			defer srv.Close()
			cfg := subscriptionConfig{uri: srv.URL, maxItems: tc.maxItems, maxBytes: tc.maxBytes, timeout: 50 * time.Millisecond}
			awake := func(context.Context) (func(), error) { return func() {}, nil }
			s := newSubscription("x", cfg, srv.Client(), slog.New(slog.DiscardHandler), awake)
			done := make(chan struct{})
			go func() {
				defer close(done)
				s.run()
			}()
			defer func() {
				s.stop()
				<-done
			}()
			// One enqueue of all events, so the cut is the batching's.
			s.mu.Lock()
			s.first = time.Now()
			for range tc.events {
				raw, _ := json.Marshal(strings.Repeat("a", tc.eventSize-2))
				s.queue = append(s.queue, raw)
				s.bytes += len(raw)
			}
			s.mu.Unlock()
			s.poke()
			deadline := time.Now().Add(5 * time.Second)
			for {
				mu.Lock()
				n := 0
				for _, x := range sizes {
					n += x
				}
				got := append([]int(nil), sizes...)
				mu.Unlock()
				if n >= tc.events {
					if len(got) != len(tc.want) {
						t.Fatalf("batches %v, want %v", got, tc.want)
					}
					for i := range got {
						if got[i] != tc.want[i] {
							t.Fatalf("batches %v, want %v", got, tc.want)
						}
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("only %v delivered", got)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
