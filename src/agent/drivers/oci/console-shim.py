#!/usr/bin/python3
"""Console shim: one per container, the only process that holds its pty master
(or, with --no-tty, the pipes that are the container's stdin and stdout/stderr).

Why a shim, and why this one is Python: `runc run --console-socket` hands the
pty master over a unix socket as SCM_RIGHTS, and Node cannot receive file
descriptors. The shim must also outlive the agent (kill -9 included), so it is
its own detached process, like containerd-shim or conmon. conmon (Debian) serves
its attach socket as SOCK_SEQPACKET, which Node cannot connect to either; node-pty
needs a native build that npm does not run here. Python's standard library has
recv_fds, TIOCSWINSZ and prctl through ctypes: no build, no dependency beyond
Debian's python3.

Without a tty, runc runs the container in pass-through mode: the process gets
the stdio `runc run` was given, here two pipes (stdin; stdout and stderr
merged, as the console is one stream). Bytes pass unchanged: no echo, no CRLF.

It runs the container with `runc run --detach` (one runc process, where `runc create` and
`runc start` were two), takes the master (or the pipes), writes ready.json, then relays
between the container and any number of agents connected to console.sock (frames in,
raw bytes out), keeps the recent output for replay, reaps the container as child
subreaper and writes exit.json when it ends.

The attach socket and the scrollback are in console_attach.py beside this file.
Normally it is not started as a program: shim-zygote.py, started once per agent,
forks it ahead with this module already loaded (an interpreter start and its imports per
container cost more than runc itself). Run directly, it does the same.
"""
import argparse
import ctypes
import fcntl
import json
import os
import select
import selectors
import signal
import socket
import struct
import subprocess
import sys
import termios
import time

# Beside this file: sys.path[0] is the script's directory.
from console_attach import MAX_CLIENT_BUFFER, AttachServer, Scrollback, listen_unix

PR_SET_CHILD_SUBREAPER = 36


def write_json(path, obj):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f)
    os.rename(tmp, path)


def oom_kills(files):
    n = 0
    for p in files:
        try:
            with open(p) as f:
                for line in f:
                    k, _, v = line.partition(' ')
                    if k == 'oom_kill':
                        n = max(n, int(v))
        except OSError:
            pass
    return n


def last_line(out, code):
    lines = out.decode(errors='replace').strip().splitlines()
    return lines[-1] if lines else 'exit %d' % code


def wait_runc(proc, limit):
    """runc's exit, seen as it happens: a pidfd wakes select at once, where Popen.wait(timeout)
    polls with sleeps that double (a 20 ms runc was seen 10 ms late). None after `limit` seconds."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        try:
            return proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            return None
    try:
        if not select.select([pidfd], [], [], limit)[0]:
            return None
    finally:
        os.close(pidfd)
    return proc.wait()


def run_with_pty(runc, a, d, pid_file, fail):
    """runc run -d with a console socket of our own; the pty master arrives on it."""
    csock_path = os.path.join(d, 'runc-console.sock')
    csock = listen_unix(csock_path, 1)
    run = subprocess.Popen(runc + ['run', '--detach', '--bundle', a.bundle, '--console-socket', csock_path, '--pid-file', pid_file, a.id],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    csock.settimeout(30)
    master = None
    try:
        conn, _ = csock.accept()
        _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        conn.close()
        master = fds[0] if fds else None
    except (socket.timeout, OSError):
        pass
    out, _ = run.communicate()
    csock.close()
    os.unlink(csock_path)
    if run.returncode != 0 or master is None:
        fail('runc run failed: ' + last_line(out, run.returncode))
    return master


def run_with_pipes(runc, a, pid_file, fail):
    """runc run -d in pass-through mode: the container's stdio are these pipes. Returns (its output, its stdin)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    run = subprocess.Popen(runc + ['run', '--detach', '--bundle', a.bundle, '--pid-file', pid_file, a.id], stdin=in_r, stdout=out_w, stderr=out_w)
    # Only the container holds its ends from here: its exit is the output's EOF.
    os.close(in_r)
    os.close(out_w)
    if wait_runc(run, 30) is None:
        run.kill()
        run.wait()
    if run.returncode != 0:
        # runc's own error went to the same pipe; no container holds it, so it ends.
        out = b''
        while select.select([out_r], [], [], 5)[0]:
            chunk = os.read(out_r, 65536)
            if not chunk:
                break
            out += chunk
        fail('runc run failed: ' + last_line(out, run.returncode))
    return out_r, in_w


class Container:
    """The container as runc runs it for us: run on a pty or pipes, its input fed,
    its end reaped (we are its subreaper once runc has exited) and recorded."""

    def __init__(self, a, fail):
        self.a = a
        self.fail = fail
        self.runc = [a.runc, '--root', a.root]
        self.pid_file = os.path.join(a.dir, 'container.pid')
        self.exit_path = os.path.join(a.dir, 'exit.json')
        self.pending_in = bytearray()
        self.exited = None
        self.output_open = True

    def run(self):
        if self.a.no_tty:
            self.out_fd, self.in_fd = run_with_pipes(self.runc, self.a, self.pid_file, self.fail)
        else:
            self.out_fd = self.in_fd = run_with_pty(self.runc, self.a, self.a.dir, self.pid_file, self.fail)
        with open(self.pid_file) as f:
            self.pid = int(f.read().strip())
        os.set_blocking(self.out_fd, False)
        if self.in_fd != self.out_fd:
            os.set_blocking(self.in_fd, False)

    def read_output(self):
        """Its output so far; None when there is none yet, b'' once every writer is gone."""
        try:
            return os.read(self.out_fd, 65536)
        except BlockingIOError:
            return None
        except OSError:
            return b''  # EIO: the pty's slave side is closed

    def feed(self, payload):
        if len(self.pending_in) < MAX_CLIENT_BUFFER:
            self.pending_in.extend(payload)
            self.to_input()

    def to_input(self):
        try:
            while self.pending_in:
                n = os.write(self.in_fd, self.pending_in)
                del self.pending_in[:n]
        except BlockingIOError:
            pass
        except OSError:
            self.pending_in.clear()

    def resize(self, rows, cols):
        if self.a.no_tty or not rows or not cols:
            return
        try:
            fcntl.ioctl(self.out_fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
        except OSError:
            pass

    def reap(self):
        """Reaps the container and runc's leftovers; the container's end goes to exit.json."""
        while self.exited is None:
            try:
                pid, st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid:
                rec = {'at': time.time(), 'oomKills': oom_kills(self.a.oom_file)}
                if os.WIFSIGNALED(st):
                    rec['signal'] = signal.Signals(os.WTERMSIG(st)).name
                else:
                    rec['code'] = os.WEXITSTATUS(st)
                write_json(self.exit_path, rec)
                self.exited = time.time()

    def done(self):
        """Ended, and its output read to the end (or a second has passed for the rest)."""
        return self.exited is not None and (not self.output_open or time.time() - self.exited > 1)


def parser():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runc', required=True)
    ap.add_argument('--root', required=True)
    ap.add_argument('--bundle', required=True)
    ap.add_argument('--id', required=True)
    ap.add_argument('--dir', required=True)
    ap.add_argument('--scrollback', type=int, default=65536)
    ap.add_argument('--oom-file', action='append', default=[])
    ap.add_argument('--no-tty', action='store_true')
    return ap


def main(argv=None):
    """argv: the shim's arguments (sys.argv[1:] when None). HV_SHIM_READY_FD: a zygote's fd for the ready record."""
    fd = os.environ.pop('HV_SHIM_READY_FD', None)
    run(parser().parse_args(argv), write_and_close(int(fd)) if fd else None)


def write_and_close(fd):
    """The ready record to fd (then closed); a reader that is gone (its agent ended) is no failure: ready.json says it all."""
    def tell(ready):
        try:
            os.write(fd, json.dumps(ready).encode())
        except OSError:
            pass
        os.close(fd)
    return tell


def run(a, tell_ready=None):
    """The shim's life from parsed arguments. shim-zygote.py calls this in a forked child, with
    tell_ready: called with the ready record once the container runs, so the agent knows at once."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    ready_path = os.path.join(a.dir, 'ready.json')
    container = Container(a, None)
    for p in (ready_path, container.exit_path, container.pid_file):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass

    def fail(msg):
        write_json(container.exit_path, {'at': time.time(), 'error': msg})
        sys.exit(1)

    container.fail = fail
    sel = selectors.DefaultSelector()
    scroll = Scrollback(a.scrollback)
    # Listening before the container runs: console.sock is there once ready.json is.
    server = AttachServer(os.path.join(a.dir, 'console.sock'), sel, container, scroll)

    # SIGCHLD wakes the loop through a pipe; SIGTERM ends the shim (the container keeps running).
    # Set before runc runs the container: it may end (and be reparented to us) before runc returns.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    container.run()
    ready = {'shimPid': os.getpid(), 'pid': container.pid, 'at': time.time()}
    write_json(ready_path, ready)
    if tell_ready:
        tell_ready(ready)

    sel.register(container.out_fd, selectors.EVENT_READ, 'output')
    sel.register(server.lsock, selectors.EVENT_READ, 'listen')
    sel.register(wake_r, selectors.EVENT_READ, 'wake')
    while not container.done():
        timeout = 0.2 if container.pending_in else (0.5 if container.exited else None)
        for key, ev in sel.select(timeout):
            if key.data == 'wake':
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            elif key.data == 'output':
                data = container.read_output()
                if data is None:
                    continue
                if not data:
                    # Every holder of the slave side (or of the pipe's write end) is gone.
                    sel.unregister(container.out_fd)
                    container.output_open = False
                    continue
                scroll.add(data)
                server.broadcast(data)
            elif key.data == 'listen':
                server.accept()
            else:
                server.ready(key.data, ev)
        if container.pending_in:
            container.to_input()
        container.reap()
    server.close()


if __name__ == '__main__':
    main()
