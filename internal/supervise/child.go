package supervise

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// Forwarded are the signals logship run passes on to its child. SIGQUIT is
// among them so that `kill -3` still makes a JVM print its thread dump.
var Forwarded = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGQUIT}

// Status is how the child ended.
type Status struct {
	Pid        int
	ExitCode   int    // what logship run exits with: the status, or 128+N for signal N
	Signal     string // "SIGABRT" when a signal ended the child; "" otherwise
	signo      syscall.Signal
	CoreDumped bool
	Runtime    time.Duration
}

func statusOf(pid int, ws syscall.WaitStatus, runtime time.Duration) Status {
	st := Status{Pid: pid, Runtime: runtime}
	switch {
	case ws.Signaled():
		st.signo = ws.Signal()
		st.ExitCode = 128 + int(st.signo)
		st.Signal = signalName(st.signo)
		st.CoreDumped = ws.CoreDump()
	default:
		st.ExitCode = ws.ExitStatus()
	}
	return st
}

// signalName is "SIGSEGV" for SIGSEGV ("signal 42" for one without a name).
func signalName(s syscall.Signal) string {
	if n := sigNames[s]; n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}

var sigNames = map[syscall.Signal]string{
	syscall.SIGABRT: "SIGABRT", syscall.SIGALRM: "SIGALRM", syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE",
	syscall.SIGHUP: "SIGHUP", syscall.SIGILL: "SIGILL", syscall.SIGINT: "SIGINT", syscall.SIGKILL: "SIGKILL",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGQUIT: "SIGQUIT", syscall.SIGSEGV: "SIGSEGV", syscall.SIGTERM: "SIGTERM",
	syscall.SIGTRAP: "SIGTRAP", syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2", syscall.SIGSYS: "SIGSYS",
	syscall.SIGXCPU: "SIGXCPU", syscall.SIGXFSZ: "SIGXFSZ",
}

// child is the supervised process: started with its stdout and stderr on
// pipes whose read ends the pumps own.
type child struct {
	cmd     *exec.Cmd
	started time.Time
	outR    *os.File
	errR    *os.File
}

// startChild starts args[0] (looked up in PATH) with our stdin and
// environment, its stdout and stderr on two pipes. The child stays in our
// process group, as under tini without -g: a terminal's Ctrl-C reaches it
// directly too.
func startChild(args []string, dir string) (*child, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("no command")
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("pipe: %w", err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Stdin = os.Stdin
	cmd.Stdout, cmd.Stderr = outW, errW // *os.File: handed to the child as is, no copying goroutine
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err // exec's error names the command
	}
	return &child{cmd: cmd, started: time.Now(), outR: outR, errR: errR}, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// forward passes every signal of sigs to the child until stop is closed.
// It records the stop signals (TERM, INT, HUP) it passed on, so that a
// child ending because it was asked to is not an abnormal exit.
func (c *child) forward(sigs <-chan os.Signal, stop <-chan struct{}, asked func(syscall.Signal)) {
	for {
		select {
		case <-stop:
			return
		case s := <-sigs:
			ss, ok := s.(syscall.Signal)
			if !ok || ss == syscall.SIGPIPE || ss == syscall.SIGCHLD {
				continue
			}
			if ss == syscall.SIGTERM || ss == syscall.SIGINT || ss == syscall.SIGHUP {
				asked(ss)
			}
			// ESRCH once it has exited: nothing to do.
			_ = c.cmd.Process.Signal(ss)
		}
	}
}

// notify starts catching the forwarded signals, and SIGPIPE: a write to a
// closed stdout must not kill logship run before its child (Go's default
// for fd 1 and 2). Caught signals, unlike ignored ones, are reset to their
// defaults in the child by exec.
func notify() (chan os.Signal, func()) {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, append([]os.Signal{syscall.SIGPIPE}, Forwarded...)...)
	return ch, func() { signal.Stop(ch) }
}
