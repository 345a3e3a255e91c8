package handoff

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// ReportEnv is the environment variable holding an encoded Takeover: the
// launcher, having stood in for an agent that died, starts the agent again
// at SHUTDOWN with it, and the agent then ships what the takeover dropped
// to the collector, as its own drop counters are shipped, together with
// whatever the dead agent had spooled, and exits.
const ReportEnv = "_LAMBDASCOPE_TAKEOVER"

// Takeover is what the launcher counted while it stood in for the agent.
type Takeover struct {
	// Registration is the body of the register response (JSON): the
	// function's identity.
	Registration []byte
	// Started is when the launcher's process started; Deadline the
	// SHUTDOWN event's deadline, by which the report must be done.
	Started, Deadline time.Time
	// AgentEnd says how the agent ended ("killed by signal killed").
	AgentEnd string
	// Invocations is the events the launcher received in the agent's
	// place.
	Invocations int64
	// EarlyLost and EarlyLostBytes are the exports the launcher answered
	// while the agent started that never reached it.
	EarlyLost, EarlyLostBytes int64
	// OTLPRequests and OTLPBytes are the function's exports answered and
	// dropped after the agent died; TelemetryPushes and TelemetryBytes
	// the Telemetry API's pushes.
	OTLPRequests, OTLPBytes         int64
	TelemetryPushes, TelemetryBytes int64
}

// takeoverCounts names the counters in the encoding.
func (t *Takeover) counts() []struct {
	key string
	n   *int64
} {
	return []struct {
		key string
		n   *int64
	}{
		{"invocations", &t.Invocations},
		{"early_lost", &t.EarlyLost}, {"early_lost_bytes", &t.EarlyLostBytes},
		{"otlp_requests", &t.OTLPRequests}, {"otlp_bytes", &t.OTLPBytes},
		{"telemetry_pushes", &t.TelemetryPushes}, {"telemetry_bytes", &t.TelemetryBytes},
	}
}

// Encode returns t as the value of ReportEnv.
func (t Takeover) Encode() string {
	v := url.Values{}
	v.Set("reg", string(t.Registration))
	v.Set("started", strconv.FormatInt(t.Started.UnixNano(), 10))
	v.Set("deadline", strconv.FormatInt(t.Deadline.UnixNano(), 10))
	v.Set("agent_end", t.AgentEnd)
	for _, c := range t.counts() {
		v.Set(c.key, strconv.FormatInt(*c.n, 10))
	}
	return v.Encode()
}

// DecodeTakeover parses the value of ReportEnv.
func DecodeTakeover(value string) (Takeover, error) {
	v, err := url.ParseQuery(value)
	if err != nil {
		return Takeover{}, fmt.Errorf("decode %s: %w", ReportEnv, err)
	}
	t := Takeover{Registration: []byte(v.Get("reg")), AgentEnd: v.Get("agent_end")}
	var errs []error
	for _, at := range []struct {
		key string
		t   *time.Time
	}{{"started", &t.Started}, {"deadline", &t.Deadline}} {
		n, err := strconv.ParseInt(v.Get(at.key), 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: not a time: %q", at.key, v.Get(at.key)))
			continue
		}
		*at.t = time.Unix(0, n)
	}
	for _, c := range t.counts() {
		n, err := strconv.ParseInt(v.Get(c.key), 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s: not a count: %q", c.key, v.Get(c.key)))
			continue
		}
		*c.n = n
	}
	if err := errors.Join(errs...); err != nil {
		return Takeover{}, fmt.Errorf("decode %s: %w", ReportEnv, err)
	}
	return t, nil
}
