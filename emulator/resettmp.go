package emulator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// TmpStats counts what became of the /tmp directories of a function's
// reset environments: Kept once their SHUTDOWN was over, Reused by a new
// environment, Dropped (removed unused) because more were kept than the
// function has had environments at once, and Removed unused when the
// emulator stopped.
type TmpStats struct {
	Kept, Reused, Dropped, Removed int
}

// resetWaitGrace is how long, past the shutdown deadline, an invocation
// that finds no idle environment waits for one that is being reset.
const resetWaitGrace = time.Second

// takeTmp hands a new environment the /tmp of a reset environment, the
// longest kept first, or "" when none is kept.
func (f *function) takeTmp() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.keptTmp) == 0 {
		return ""
	}
	dir := f.keptTmp[0]
	f.keptTmp = f.keptTmp[1:]
	f.tmpStats.Reused++
	return dir
}

// beginReset counts env as being reset from the moment its invocation
// timed out or its runtime failed, before the caller has its answer, so
// that the next invocation waits for its /tmp rather than making a fresh
// one. It counts an environment once, and not after its /tmp was
// released.
func (f *function) beginReset(env *environment) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if env.resetBegun || env.tmpReleased {
		return
	}
	env.resetBegun = true
	f.resetting++
	close(f.released)
	f.released = make(chan struct{})
}

// releaseTmp ends env's /tmp, and the count beginReset started. After a
// reset (keep) the directory is offered to the next environment of f;
// otherwise, once the emulator has stopped, or when f would keep more
// than it has had environments at once (the oldest kept goes then), a
// directory is removed.
func (f *function) releaseTmp(env *environment, keep bool) error {
	dir := env.tmpDir
	f.mu.Lock()
	env.tmpReleased = true
	if env.resetBegun {
		f.resetting--
	}
	var drop string
	switch {
	case !keep:
		drop = dir
	case f.tmpClosed:
		drop = dir
		f.tmpStats.Removed++
	default:
		f.keptTmp = append(f.keptTmp, dir)
		f.tmpStats.Kept++
		if len(f.keptTmp) > max(f.peak, 1) {
			drop = f.keptTmp[0]
			f.keptTmp = f.keptTmp[1:]
			f.tmpStats.Dropped++
		}
	}
	peak := max(f.peak, 1)
	close(f.released)
	f.released = make(chan struct{})
	f.mu.Unlock()
	switch {
	case drop == "":
		env.log.Info("reset environment's /tmp kept for the next environment", "tmp", dir)
		return nil
	case !keep:
	case drop == dir:
		env.log.Info("reset environment's /tmp removed: the emulator has stopped", "tmp", dir)
	default:
		env.log.Warn("more reset environments' /tmp kept than the function has had environments at once: removing the oldest",
			"removed", drop, "kept", dir, "max", peak)
	}
	if err := os.RemoveAll(drop); err != nil {
		return fmt.Errorf("remove the sandbox's /tmp: %w", err)
	}
	return nil
}

// closeTmp removes the /tmp directories f still keeps; from now on a reset
// removes its own.
func (f *function) closeTmp() error {
	f.mu.Lock()
	f.tmpClosed = true
	dirs := f.keptTmp
	f.keptTmp = nil
	f.tmpStats.Removed += len(dirs)
	f.mu.Unlock()
	var errs []error
	for _, dir := range dirs {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("remove a reset environment's /tmp: %w", err))
		}
	}
	return errors.Join(errs...)
}

// TmpStats reports what became of the /tmp directories of function's reset
// environments.
func (e *Emulator) TmpStats(function string) (TmpStats, error) {
	fn, ok := e.functions[function]
	if !ok {
		return TmpStats{}, fmt.Errorf("tmp stats of %s: %w", function, ErrFunctionNotFound)
	}
	fn.mu.Lock()
	defer fn.mu.Unlock()
	return fn.tmpStats, nil
}

// WaitIdle blocks until every invocation of function started so far has
// ended, the SHUTDOWN of an environment that a timeout or a crash reset
// included (its /tmp is then kept for the next environment), or ctx ends.
func (e *Emulator) WaitIdle(ctx context.Context, function string) error {
	fn, ok := e.functions[function]
	if !ok {
		return fmt.Errorf("wait for %s: %w", function, ErrFunctionNotFound)
	}
	for {
		fn.mu.Lock()
		running, released := fn.running, fn.released
		fn.mu.Unlock()
		if running == 0 {
			return nil
		}
		select {
		case <-released:
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %d invocations still running: %w", function, running, ctx.Err())
		}
	}
}
