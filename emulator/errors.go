package emulator

import "errors"

var (
	// ErrFunctionNotFound is returned by Invoke for a name the emulator does
	// not run.
	ErrFunctionNotFound = errors.New("function not found")
	// ErrNotStarted is returned by Invoke before Start.
	ErrNotStarted = errors.New("emulator not started")
	// ErrShutdown is returned by Invoke once Shutdown has begun.
	ErrShutdown = errors.New("emulator is shutting down")
	// ErrQueueNotFound is returned for a queue name the emulator does not
	// have.
	ErrQueueNotFound = errors.New("queue not found")
)
