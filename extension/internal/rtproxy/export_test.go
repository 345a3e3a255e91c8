package rtproxy

import "time"

// SetTeeWait sets how long an Observer call waits for the transport to be
// done with a body, and returns the previous value.
func SetTeeWait(d time.Duration) time.Duration {
	old := teeWait
	teeWait = d
	return old
}
