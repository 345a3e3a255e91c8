package emulator

import (
	"errors"
	"log/slog"
	"os"
	"slices"
	"testing"
)

// TestKeptTmpBound checks the bookkeeping of reset environments' /tmp: a
// function keeps at most as many as it has had environments at once,
// dropping the oldest; new environments take the longest kept first; once
// the emulator stops, kept ones and later resets' are removed.
func TestKeptTmpBound(t *testing.T) {
	f := &function{peak: 2, released: make(chan struct{})}
	var dirs []string
	reset := func() *environment {
		dir, err := os.MkdirTemp(t.TempDir(), "sandbox-tmp-")
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
		env := &environment{fn: f, tmpDir: dir, log: slog.New(slog.DiscardHandler)}
		f.beginReset(env)
		f.beginReset(env) // counted once
		if f.resetting != 1 {
			t.Fatalf("resetting = %d during a reset, want 1", f.resetting)
		}
		if err := f.releaseTmp(env, true); err != nil {
			t.Fatal(err)
		}
		f.beginReset(env) // released: not counted again
		if f.resetting != 0 {
			t.Fatalf("resetting = %d after the reset, want 0", f.resetting)
		}
		return env
	}
	exists := func(dir string) bool {
		_, err := os.Stat(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		return err == nil
	}

	for range 3 {
		reset()
	}
	if !slices.Equal(f.keptTmp, dirs[1:]) {
		t.Errorf("kept %v, want the two latest of %v", f.keptTmp, dirs)
	}
	if exists(dirs[0]) {
		t.Errorf("the oldest kept /tmp %s was not removed past the bound", dirs[0])
	}
	if got := f.takeTmp(); got != dirs[1] {
		t.Errorf("takeTmp = %q, want the longest kept %q", got, dirs[1])
	}
	if err := f.closeTmp(); err != nil {
		t.Fatal(err)
	}
	if exists(dirs[2]) || !exists(dirs[1]) {
		t.Errorf("after closeTmp: kept %s exists %v (want removed), taken %s exists %v (want kept)",
			dirs[2], exists(dirs[2]), dirs[1], exists(dirs[1]))
	}
	reset()
	if exists(dirs[3]) {
		t.Errorf("a reset's /tmp %s kept after the emulator stopped", dirs[3])
	}
	if got := f.takeTmp(); got != "" {
		t.Errorf("takeTmp after the emulator stopped = %q, want none", got)
	}
	if want := (TmpStats{Kept: 3, Reused: 1, Dropped: 1, Removed: 2}); f.tmpStats != want {
		t.Errorf("TmpStats = %+v, want %+v", f.tmpStats, want)
	}
}
