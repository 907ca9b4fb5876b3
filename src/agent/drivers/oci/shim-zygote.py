#!/usr/bin/python3
"""Shim zygote: one per agent, it starts console shims (console-shim.py) by fork.

A shim per container must be its own process that outlives the agent, and
starting one as a program costs a Python interpreter and its imports, several
times what `runc create` itself takes on a loaded host. This process has
console-shim.py loaded once; each request forks a shim from it, which is then
exactly what `python3 console-shim.py <args>` would be: its own session, its
stdio on shim.log, its cwd the container's dir, and its command line rewritten
to that program's (the agent finds a shim whose pid it never recorded by its
command line, and so do operators with ps).

Requests on stdin, one JSON object a line: {"argv": [shim args], "cmdline":
[python, console-shim.py, shim args...], "cwd": dir, "log": path}, answered
{"pid": n}; or {"mount": {"target": dir, "options": "lowerdir=...,..."}}, an
overlay mounted by mount(2) here instead of a mount(8) process per container,
answered {}. Answers on stdout, one a line, in order; {"error": "..."} when
it failed. It ends at EOF
on stdin, that is when the agent ends (kill -9 included); the shims it
started are not its children (double fork) and keep running.
"""
import ctypes
import importlib.util
import json
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('console_shim', os.path.join(HERE, 'console-shim.py'))
shim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shim)


LIBC = ctypes.CDLL(None, use_errno=True)


def mount_overlay(target, options):
    if LIBC.mount(b'overlay', target.encode(), b'overlay', 0, options.encode()) != 0:
        e = ctypes.get_errno()
        raise OSError(e, 'mount(2) of the overlay on %s: %s' % (target, os.strerror(e)))


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


def become_shim(req):
    null = os.open(os.devnull, os.O_RDONLY)
    log = os.open(req['log'], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    os.chdir(req['cwd'])
    try:
        set_cmdline(req['cmdline'])
    except OSError:
        # /proc/self/mem not writable here: the shim as a program of its own, as before the zygote.
        os.execv(req['cmdline'][0], req['cmdline'])
    sys.argv = req['cmdline'][1:]
    shim.main(req['argv'])


def run_shim(req):
    """In the grandchild: the shim's whole life, then _exit (nothing of the zygote's runs after it)."""
    code = 0
    try:
        become_shim(req)
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


def start(req):
    """Forks twice: the shim is in a session of its own and no child of ours. Returns its pid."""
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(r)
            os.setsid()
            pid = os.fork()
            if pid == 0:
                os.close(w)
                run_shim(req)
            os.write(w, str(pid).encode())
        finally:
            os._exit(0)
    os.close(w)
    got = b''
    while True:
        chunk = os.read(r, 64)
        if not chunk:
            break
        got += chunk
    os.close(r)
    os.waitpid(child, 0)
    if not got:
        raise OSError('the shim could not be forked')
    return int(got)


def main():
    out = sys.stdout
    for line in sys.stdin:
        try:
            req = json.loads(line)
            if 'mount' in req:
                mount_overlay(req['mount']['target'], req['mount']['options'])
                answer = {}
            else:
                answer = {'pid': start(req)}
        except Exception as e:
            answer = {'error': str(e)}
        out.write(json.dumps(answer) + '\n')
        out.flush()


if __name__ == '__main__':
    main()
