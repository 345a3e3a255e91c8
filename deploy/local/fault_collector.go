package local

import (
	"context"
	"errors"
	"fmt"
)

// RestartCollector starts the collector again after StopCollector, on the
// same address, with the same ClickHouse DSN and API key, so the extensions
// find it where they left it. Its output is appended to the collector log.
// Stop and StopCollector stop it as they stop the first one.
func (s *Stack) RestartCollector(ctx context.Context) error {
	if s.collector != nil {
		return errors.New("restart collector: it is still running")
	}
	if s.stopped {
		return errors.New("restart collector: the stack is stopped")
	}
	if err := s.launchCollector(ctx); err != nil {
		return fmt.Errorf("restart collector: %w", err)
	}
	return nil
}
