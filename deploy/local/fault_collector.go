package local

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"

	"github.com/lambdascope/lambdascope/collector"
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
	cmd := exec.Command(s.Bin.Collector,
		"--grpc-addr", s.CollectorAddr,
		"--clickhouse-dsn", s.DSN,
		"--api-key-sha256", collector.HashAPIKey(s.APIKey))
	cmd.Stdout, cmd.Stderr = s.collLog, s.collLog
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s.log.Info("restarting the collector", "addr", s.CollectorAddr)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("restart collector: %w", err)
	}
	s.collector, s.collDone = cmd, make(chan error, 1)
	go func() { s.collDone <- cmd.Wait() }()
	if err := s.waitCollector(ctx); err != nil {
		return fmt.Errorf("restart collector: %w", err)
	}
	return nil
}
