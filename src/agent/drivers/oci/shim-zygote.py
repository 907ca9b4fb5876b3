#!/usr/bin/python3
"""Shim zygote: one per agent, it starts console shims (console-shim.py) by fork.

A shim per container must be its own process that outlives the agent, and
starting one as a program costs a Python interpreter and its imports, several
times what runc itself takes on a loaded host. This process has
console-shim.py loaded once and keeps one spare child forked ahead (in a
session of its own), which becomes the next container's shim when asked:
then it is exactly what `python3 console-shim.py <args>` would be, its stdio
on shim.log, its cwd the container's dir, and its command line rewritten to
that program's (the agent finds a shim whose pid it never recorded by its
command line, and so do operators with ps). The fork for the next one happens
once no start is under way, not in a container's start.

Requests on stdin, one JSON object a line, each with an "id" its answer
carries: {"id": n, "launch": {"dirs": [...], "mount": {"target": dir,
"options": "lowerdir=...,..."}, "remove": [paths], "pidFile": path, "argv":
[shim args], "cmdline": [python, console-shim.py, shim args...], "cwd": dir,
"log": path}}: the dirs made, the overlay mounted by mount(2) unless it is
(no mount(8) process per container), the last run's records removed, the
shim started and its pid written to pidFile; answered once the shim has the
container running: {"id": n, "ready": {the ready record}} (written by the
shim itself), or {"id": n, "ended": true} when it ended before (its exit.json
says why), or {"id": n, "error": "...", "stage": "mount" | "launch"}. Answers
on stdout, one a line, in the order they happen. It ends at EOF on stdin, that is when the agent
ends (kill -9 included), and so does its spare; the shims it started keep
running (their own sessions; its children are reaped as they end).
"""
import ctypes
import importlib.util
import json
import os
import selectors
import signal
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('console_shim', os.path.join(HERE, 'console-shim.py'))
shim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shim)
# Built once here: a shim parses its arguments with it, not building a parser per container.
PARSER = shim.parser()

LIBC = ctypes.CDLL(None, use_errno=True)


def mount_overlay(target, options):
    if os.path.ismount(target):
        return  # mounted already: the mount outlives an agent, and its next start finds it
    if LIBC.mount(b'overlay', target.encode(), b'overlay', 0, options.encode()) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def set_cmdline(args):
    """/proc/<pid>/cmdline is the memory between arg_start and arg_end (stat fields 48, 49): overwritten in place."""
    with open('/proc/self/stat', 'rb') as f:
        fields = f.read().rsplit(b')', 1)[1].split()
    start, end = int(fields[45]), int(fields[46])
    blob = b'\0'.join(a.encode() for a in args) + b'\0'
    if len(blob) > end - start:
        raise OSError('command line longer than the zygote\'s')
    with open('/proc/self/mem', 'r+b', buffering=0) as m:
        m.seek(start)
        m.write(blob.ljust(end - start, b'\0'))


def become_shim(req, answer_fd, ready_fd):
    log = os.open(req['log'], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.chdir(req['cwd'])
    try:
        set_cmdline(req['cmdline'])
    except OSError:
        # /proc/self/mem not writable here: the shim as a program of its own; its ready record goes through the zygote.
        os.close(answer_fd)
        os.set_inheritable(ready_fd, True)
        os.environ['HV_SHIM_READY_FD'] = str(ready_fd)
        os.execv(req['cmdline'][0], req['cmdline'])
    sys.argv = req['cmdline'][1:]
    shim.run(PARSER.parse_args(req['argv']), tell_agent(req['rid'], answer_fd, ready_fd))


def tell_agent(rid, answer_fd, ready_fd):
    """The ready answer straight to the agent, on the zygote's own stdout (one write of a line under
    PIPE_BUF is never interleaved with another): one process's wake-up less than through the zygote,
    which is told only that it was answered."""
    def tell(ready):
        try:
            os.write(answer_fd, (json.dumps({'id': rid, 'ready': ready}) + '\n').encode())
            os.write(ready_fd, ANSWERED)
        except OSError:
            pass  # the agent is gone: ready.json says it all
        os.close(answer_fd)
        os.close(ready_fd)
    return tell


ANSWERED = b'-'


def spare_life(req_r, answer_fd, ready_w):
    """In the spare: waits for its launch (EOF: the zygote ended, so does it), is the shim, then _exit."""
    code = 0
    try:
        got = b''
        while True:
            chunk = os.read(req_r, 65536)
            if not chunk:
                break
            got += chunk
        if got:
            become_shim(json.loads(got), answer_fd, ready_w)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


class Spare:
    """A child forked ahead: its own session, stdio on /dev/null, nothing of the zygote's open but its
    two pipes and the zygote's stdout (for its answer)."""

    def __init__(self):
        req_r, self.req_w = os.pipe()
        self.ready_r, ready_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.setsid()
                answer_fd = os.dup(1)
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1):
                    os.dup2(null, fd)
                keep = {0, 1, 2, req_r, ready_w, answer_fd}
                for name in os.listdir('/proc/self/fd'):
                    if int(name) not in keep:
                        try:
                            os.close(int(name))
                        except OSError:
                            pass
            except BaseException:
                os._exit(1)
            spare_life(req_r, answer_fd, ready_w)
        os.close(req_r)
        os.close(ready_w)

    def give(self, req):
        """Hands it its launch; False when it is gone (then it is closed)."""
        try:
            os.write(self.req_w, json.dumps(req).encode())
            os.close(self.req_w)
            return True
        except OSError:
            self.close()
            return False

    def close(self):
        for fd in (self.req_w, self.ready_r):
            try:
                os.close(fd)
            except OSError:
                pass


class Zygote:
    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.inbuf = b''
        self.spare = None
        self.waiting = {}  # ready_r -> [id, bytes so far]

    def answer(self, obj):
        sys.stdout.write(json.dumps(obj) + '\n')
        sys.stdout.flush()

    def next_spare(self):
        if self.spare is None:
            self.spare = Spare()
        return self.spare

    def launch(self, rid, req):
        try:
            for d in req.get('dirs', []):
                os.makedirs(d, exist_ok=True)
            if req.get('mount'):
                try:
                    mount_overlay(req['mount']['target'], req['mount']['options'])
                except OSError as e:
                    return self.answer({'id': rid, 'stage': 'mount', 'error': e.strerror or str(e)})
            for p in req.get('remove', []):
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass
            for _ in range(2):
                s = self.next_spare()
                self.spare = None
                if s.give({**req, 'rid': rid}):
                    break
            else:
                raise OSError('no shim could be forked')
            with open(req['pidFile'], 'w') as f:
                f.write(str(s.pid))
        except Exception as e:
            return self.answer({'id': rid, 'stage': 'launch', 'error': str(e)})
        self.waiting[s.ready_r] = [rid, b'']
        self.sel.register(s.ready_r, selectors.EVENT_READ, 'ready')

    def on_ready(self, fd):
        w = self.waiting[fd]
        chunk = os.read(fd, 65536)
        if chunk:
            w[1] += chunk
            return
        self.sel.unregister(fd)
        os.close(fd)
        del self.waiting[fd]
        if w[1] == ANSWERED:
            return  # the shim told the agent itself
        self.answer({'id': w[0], 'ready': json.loads(w[1])} if w[1] else {'id': w[0], 'ended': True})

    def on_input(self):
        chunk = os.read(0, 65536)
        if not chunk:
            return False
        self.inbuf += chunk
        while b'\n' in self.inbuf:
            line, self.inbuf = self.inbuf.split(b'\n', 1)
            req = json.loads(line)
            self.launch(req['id'], req['launch'])
        return True

    def serve(self):
        self.next_spare()
        self.sel.register(0, selectors.EVENT_READ, 'input')
        while True:
            for key, _ in self.sel.select():
                if key.data == 'input':
                    if not self.on_input():
                        return
                else:
                    self.on_ready(key.fd)
            # The next shim's fork once no start is under way: not in a container's start, nor
            # beside its runc on the same cores (a burst of starts forks on demand).
            if not self.waiting:
                self.next_spare()


def main():
    # Shims started here are its children until they end: reaped by the kernel, never zombies.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    z = Zygote()
    try:
        z.serve()
    finally:
        if z.spare:
            z.spare.close()


if __name__ == '__main__':
    main()
