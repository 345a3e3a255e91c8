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
	// ErrTopicNotFound and ErrRuleNotFound are returned for an SNS topic
	// or an EventBridge rule the emulator does not have.
	ErrTopicNotFound = errors.New("topic not found")
	ErrRuleNotFound  = errors.New("rule not found")
)
