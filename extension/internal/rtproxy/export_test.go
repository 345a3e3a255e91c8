package rtproxy

import "time"

// SetHeadTimeout sets how long a request's head may take once its first
// byte came, and returns the previous value.
func SetHeadTimeout(d time.Duration) time.Duration {
	old := headTimeout
	headTimeout = d
	return old
}

// SplicedBytes is the number of body bytes relayed with splice(2) so far.
func SplicedBytes() int64 { return splicedBytes.Load() }
