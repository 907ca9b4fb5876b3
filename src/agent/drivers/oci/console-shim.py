#!/usr/bin/python3
"""Console shim: one per container, the only process that holds its pty master
(or, with --no-tty, the pipes that are the container's stdin and stdout/stderr).

Why a shim, and why this one is Python: `runc create --console-socket` hands the
pty master over a unix socket as SCM_RIGHTS, and Node cannot receive file
descriptors. The shim must also outlive the agent (kill -9 included), so it is
its own detached process, like containerd-shim or conmon. conmon (Debian) serves
its attach socket as SOCK_SEQPACKET, which Node cannot connect to either; node-pty
needs a native build that npm does not run here. Python's standard library has
recv_fds, TIOCSWINSZ and prctl through ctypes: no build, no dependency beyond
Debian's python3.

Without a tty, runc runs the container in pass-through mode: the process gets
the stdio `runc create` was given, here two pipes (stdin; stdout and stderr
merged, as the console is one stream). Bytes pass unchanged: no echo, no CRLF.

It runs `runc create`, takes the master (or the pipes), `runc start`s the container, writes
ready.json, then relays between the container and any number of agents connected to
console.sock (frames in, raw bytes out), keeps the recent output for replay,
reaps the container as child subreaper and writes exit.json when it ends.

Frames from a client: 1 byte type, 4 bytes big-endian length, payload.
  h: hello, payload 1 byte (1 = replay the recent output first)
  d: bytes for the container's terminal
  r: resize, payload 2 x uint16 big-endian (rows, cols); ignored without a tty
"""
import argparse
import ctypes
import errno
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

PR_SET_CHILD_SUBREAPER = 36
MAX_CLIENT_BUFFER = 1 << 20


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


class Client:
    def __init__(self, sock):
        self.sock = sock
        self.inbuf = b''
        self.out = bytearray()
        self.hello = False


def last_line(out, code):
    lines = out.decode(errors='replace').strip().splitlines()
    return lines[-1] if lines else 'exit %d' % code


def listen_unix(path, backlog):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(backlog)
    return s


def create_with_pty(runc, a, d, pid_file, fail):
    """runc create with a console socket of our own; the pty master arrives on it."""
    csock_path = os.path.join(d, 'runc-console.sock')
    csock = listen_unix(csock_path, 1)
    create = subprocess.Popen(runc + ['create', '--bundle', a.bundle, '--console-socket', csock_path, '--pid-file', pid_file, a.id],
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
    out, _ = create.communicate()
    csock.close()
    os.unlink(csock_path)
    if create.returncode != 0 or master is None:
        fail('runc create failed: ' + last_line(out, create.returncode))
    return master


def create_with_pipes(runc, a, pid_file, fail):
    """runc create in pass-through mode: the container's stdio are these pipes. Returns (its output, its stdin)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    create = subprocess.Popen(runc + ['create', '--bundle', a.bundle, '--pid-file', pid_file, a.id], stdin=in_r, stdout=out_w, stderr=out_w)
    # Only the container holds its ends from here: its exit is the output's EOF.
    os.close(in_r)
    os.close(out_w)
    try:
        create.wait(timeout=30)
    except subprocess.TimeoutExpired:
        create.kill()
        create.wait()
    if create.returncode != 0:
        # runc's own error went to the same pipe; no container holds it, so it ends.
        out = b''
        while select.select([out_r], [], [], 5)[0]:
            chunk = os.read(out_r, 65536)
            if not chunk:
                break
            out += chunk
        fail('runc create failed: ' + last_line(out, create.returncode))
    return out_r, in_w


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runc', required=True)
    ap.add_argument('--root', required=True)
    ap.add_argument('--bundle', required=True)
    ap.add_argument('--id', required=True)
    ap.add_argument('--dir', required=True)
    ap.add_argument('--scrollback', type=int, default=65536)
    ap.add_argument('--oom-file', action='append', default=[])
    ap.add_argument('--no-tty', action='store_true')
    a = ap.parse_args()

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    d = a.dir
    ready_path, exit_path = os.path.join(d, 'ready.json'), os.path.join(d, 'exit.json')
    pid_file = os.path.join(d, 'container.pid')
    for p in (ready_path, exit_path, pid_file):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass

    def fail(msg):
        write_json(exit_path, {'at': time.time(), 'error': msg})
        sys.exit(1)

    runc = [a.runc, '--root', a.root]
    if a.no_tty:
        out_fd, in_fd = create_with_pipes(runc, a, pid_file, fail)
    else:
        out_fd = in_fd = create_with_pty(runc, a, d, pid_file, fail)
    with open(pid_file) as f:
        cpid = int(f.read().strip())

    # 2. The attach socket, before start: no output the container prints is lost.
    sock_path = os.path.join(d, 'console.sock')
    lsock = listen_unix(sock_path, 16)
    lsock.setblocking(False)
    os.set_blocking(out_fd, False)
    if in_fd != out_fd:
        os.set_blocking(in_fd, False)

    # SIGCHLD wakes the loop through a pipe; SIGTERM ends the shim (the container keeps running).
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    start = subprocess.run(runc + ['start', a.id], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if start.returncode != 0:
        fail('runc start failed: ' + start.stdout.decode(errors='replace').strip())
    write_json(ready_path, {'shimPid': os.getpid(), 'pid': cpid, 'at': time.time()})

    sel = selectors.DefaultSelector()
    sel.register(out_fd, selectors.EVENT_READ, 'output')
    sel.register(lsock, selectors.EVENT_READ, 'listen')
    sel.register(wake_r, selectors.EVENT_READ, 'wake')
    clients = set()
    scroll = bytearray()
    pending_in = bytearray()
    exited = None
    output_open = True

    def drop(c):
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        clients.discard(c)

    def send(c, data):
        c.out += data
        if len(c.out) > MAX_CLIENT_BUFFER:
            drop(c)  # too slow a reader: it loses its attachment, not the others their output
            return
        flush(c)

    def flush(c):
        try:
            while c.out:
                n = c.sock.send(c.out)
                del c.out[:n]
        except BlockingIOError:
            pass
        except OSError:
            drop(c)
            return
        try:
            sel.modify(c.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0), c)
        except (KeyError, ValueError):
            pass

    def to_input():
        try:
            while pending_in:
                n = os.write(in_fd, pending_in)
                del pending_in[:n]
        except BlockingIOError:
            pass
        except OSError:
            pending_in.clear()

    def frame(c, t, payload):
        if t == b'h':
            c.hello = True
            if payload[:1] == b'\x01' and scroll:
                send(c, bytes(scroll))
        elif t == b'd':
            if len(pending_in) < MAX_CLIENT_BUFFER:
                pending_in.extend(payload)
                to_input()
        elif t == b'r' and len(payload) >= 4 and not a.no_tty:
            rows, cols = struct.unpack('>HH', payload[:4])
            if rows and cols:
                try:
                    fcntl.ioctl(out_fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
                except OSError:
                    pass

    while True:
        timeout = 0.2 if pending_in else (0.5 if exited else None)
        for key, ev in sel.select(timeout):
            tag = key.data
            if tag == 'wake':
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            elif tag == 'output':
                try:
                    data = os.read(out_fd, 65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    data = b'' if e.errno == errno.EIO else b''
                if not data:
                    # Every holder of the slave side (or of the pipe's write end) is gone.
                    sel.unregister(out_fd)
                    output_open = False
                    continue
                scroll.extend(data)
                if len(scroll) > a.scrollback:
                    del scroll[:len(scroll) - a.scrollback]
                for c in list(clients):
                    if c.hello:
                        send(c, data)
            elif tag == 'listen':
                try:
                    s, _ = lsock.accept()
                except BlockingIOError:
                    continue
                s.setblocking(False)
                c = Client(s)
                clients.add(c)
                sel.register(s, selectors.EVENT_READ, c)
            else:
                c = tag
                if ev & selectors.EVENT_WRITE:
                    flush(c)
                if ev & selectors.EVENT_READ:
                    try:
                        chunk = c.sock.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        chunk = b''
                    if not chunk:
                        drop(c)
                        continue
                    c.inbuf += chunk
                    while len(c.inbuf) >= 5:
                        t = c.inbuf[:1]
                        (n,) = struct.unpack('>I', c.inbuf[1:5])
                        if len(c.inbuf) < 5 + n:
                            break
                        payload = c.inbuf[5:5 + n]
                        c.inbuf = c.inbuf[5 + n:]
                        frame(c, t, payload)
        if pending_in:
            to_input()
        # Reap: the container (we are its subreaper once runc has exited) and runc's leftovers.
        while exited is None:
            try:
                pid, st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid == cpid:
                rec = {'at': time.time(), 'oomKills': oom_kills(a.oom_file)}
                if os.WIFSIGNALED(st):
                    rec['signal'] = signal.Signals(os.WTERMSIG(st)).name
                else:
                    rec['code'] = os.WEXITSTATUS(st)
                write_json(exit_path, rec)
                exited = time.time()
        if exited and (not output_open or time.time() - exited > 1):
            break
    for c in list(clients):
        flush(c)
        c.sock.close()
    lsock.close()
    try:
        os.unlink(sock_path)
    except FileNotFoundError:
        pass


if __name__ == '__main__':
    main()
