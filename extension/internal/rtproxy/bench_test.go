package rtproxy_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
)

// BenchmarkRelay measures a runtime's /next (the event) and /response
// (the answer) of 1 KiB, 256 KiB and 6 MiB, against the Runtime API
// directly and through the proxy (with an Observer, which copies both
// bodies once), side by side.
func BenchmarkRelay(b *testing.B) {
	for _, size := range []int{1 << 10, 256 << 10, 6 << 20} {
		payload := bytes.Repeat([]byte("x"), size)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				w.Header().Set("Lambda-Runtime-Aws-Request-Id", "r1")
				_, _ = w.Write(payload)
				return
			}
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusAccepted)
		}))
		upstream := strings.TrimPrefix(srv.URL, "http://")
		p := startProxy(b, upstream, &discard{})
		for _, target := range []struct{ name, addr string }{{"direct", upstream}, {"proxy", p.Addr().String()}} {
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, target.name), func(b *testing.B) {
				client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
				defer client.CloseIdleConnections()
				b.SetBytes(int64(2 * size))
				for b.Loop() {
					resp, err := client.Get("http://" + target.addr + "/2018-06-01/runtime/invocation/next")
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					resp, err = client.Post("http://"+target.addr+"/2018-06-01/runtime/invocation/r1/response", "application/json", bytes.NewReader(payload))
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
			})
		}
		srv.Close()
	}
}

// discard is an Observer that reads nothing.
type discard struct{}

func (discard) Invoked(rtproxy.Event) {}
func (discard) Ended(rtproxy.End)     {}
