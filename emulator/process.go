package emulator

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// process is one runtime or extension process of an environment. Its two
// goroutines (output reader and waiter) end when the process and everything
// holding its output pipe are gone.
type process struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	output chan struct{}
	err    error // from Wait, valid once exited is closed
}

// startProcess runs path with env, in its own process group, and calls
// onLine for every line it writes to stdout or stderr.
func startProcess(path string, env []string, onLine func(string)) (*process, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create output pipe: %w", err)
	}
	cmd := exec.Command(path)
	cmd.Env = env
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	_ = w.Close()
	p := &process{name: path, cmd: cmd, exited: make(chan struct{}), output: make(chan struct{})}
	go func() {
		defer close(p.output)
		defer func() { _ = r.Close() }()
		readLines(r, onLine)
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// readLines splits r into lines; a line longer than 256 KiB is cut into
// pieces rather than held whole.
func readLines(r io.Reader, onLine func(string)) {
	br := bufio.NewReaderSize(r, 64*1024)
	var pending []byte
	for {
		chunk, err := br.ReadSlice('\n')
		pending = append(pending, chunk...)
		if len(pending) > 0 && (err == nil || len(pending) >= 256*1024 || !errors.Is(err, bufio.ErrBufferFull)) {
			onLine(string(bytes.TrimRight(pending, "\r\n")))
			pending = pending[:0]
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// signal sends sig to the process group.
func (p *process) signal(sig syscall.Signal) {
	if p.alive() {
		_ = syscall.Kill(-p.pid(), sig)
	}
}

// kill sends SIGKILL to the whole group (also after the leader exited, so
// children holding the output pipe go too).
func (p *process) kill() {
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
}

// maxRSSKB returns the peak resident set size in KiB: VmHWM while the
// process runs, the rusage figure after it exited.
func (p *process) maxRSSKB() int64 {
	if p.alive() {
		if kb, err := readVmHWM(p.pid()); err == nil {
			return kb
		}
	}
	select {
	case <-p.exited:
		if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			return ru.Maxrss
		}
	default:
	}
	return 0
}

func readVmHWM(pid int) (int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read process status: %w", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM: %w", err)
			}
			return kb, nil
		}
	}
	return 0, errors.New("no VmHWM in process status")
}
