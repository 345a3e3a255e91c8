package emulator

import (
	"context"
	"fmt"
	"syscall"
)

// freeze stops every process of an idle environment.
func (e *environment) freeze() {
	e.postGate.Lock()
	defer e.postGate.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.frozen || e.shuttingDown {
		return
	}
	e.frozen = true
	e.thawed = make(chan struct{})
	for _, p := range e.processesLocked() {
		p.signal(syscall.SIGSTOP)
	}
}

// thaw resumes a frozen environment.
func (e *environment) thaw() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.frozen {
		return
	}
	for _, p := range e.processesLocked() {
		p.signal(syscall.SIGCONT)
	}
	e.frozen = false
	close(e.thawed)
}

func (e *environment) processesLocked() []*process {
	ps := append([]*process(nil), e.extProcs...)
	if e.runtime != nil {
		ps = append(ps, e.runtime)
	}
	return ps
}

// awake waits until the environment is not frozen and returns holding the
// post gate; the caller must call the returned release.
func (e *environment) awake(ctx context.Context) (func(), error) {
	for {
		e.postGate.RLock()
		e.mu.Lock()
		frozen, ch := e.frozen, e.thawed
		e.mu.Unlock()
		if !frozen {
			return e.postGate.RUnlock, nil
		}
		e.postGate.RUnlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for thaw: %w", ctx.Err())
		}
	}
}
