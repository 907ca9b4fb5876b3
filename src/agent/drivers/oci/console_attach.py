"""The console shim's attach side (console-shim.py imports it): console.sock, where
any number of agents attach, and the scrollback replayed to those that ask.

Frames from a client: 1 byte type, 4 bytes big-endian length, payload.
  h: hello, payload 1 byte (1 = replay the recent output first)
  d: bytes for the container's terminal
  r: resize, payload 2 x uint16 big-endian (rows, cols); ignored without a tty
"""
import os
import selectors
import socket
import struct

MAX_CLIENT_BUFFER = 1 << 20


def listen_unix(path, backlog):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(backlog)
    return s


class Scrollback:
    """The container's recent output, replayed to a client that asks for it in its hello."""

    def __init__(self, limit):
        self.limit = limit
        self.buf = bytearray()

    def add(self, data):
        self.buf.extend(data)
        if len(self.buf) > self.limit:
            del self.buf[:len(self.buf) - self.limit]


class Client:
    def __init__(self, sock):
        self.sock = sock
        self.inbuf = b''
        self.out = bytearray()
        self.hello = False


class AttachServer:
    """console.sock: any number of agents attached, frames in, the container's output out.
    Listening before the container starts, so no output it prints is lost."""

    def __init__(self, path, sel, container, scroll):
        self.path = path
        self.sel = sel
        self.container = container
        self.scroll = scroll
        self.clients = set()
        self.lsock = listen_unix(path, 16)
        self.lsock.setblocking(False)

    def accept(self):
        try:
            s, _ = self.lsock.accept()
        except BlockingIOError:
            return
        s.setblocking(False)
        c = Client(s)
        self.clients.add(c)
        self.sel.register(s, selectors.EVENT_READ, c)

    def broadcast(self, data):
        for c in list(self.clients):
            if c.hello:
                self.send(c, data)

    def drop(self, c):
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        self.clients.discard(c)

    def send(self, c, data):
        c.out += data
        if len(c.out) > MAX_CLIENT_BUFFER:
            self.drop(c)  # too slow a reader: it loses its attachment, not the others their output
            return
        self.flush(c)

    def flush(self, c):
        try:
            while c.out:
                n = c.sock.send(c.out)
                del c.out[:n]
        except BlockingIOError:
            pass
        except OSError:
            self.drop(c)
            return
        try:
            self.sel.modify(c.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0), c)
        except (KeyError, ValueError):
            pass

    def ready(self, c, ev):
        if ev & selectors.EVENT_WRITE:
            self.flush(c)
        if not ev & selectors.EVENT_READ:
            return
        try:
            chunk = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b''
        if not chunk:
            self.drop(c)
            return
        c.inbuf += chunk
        while len(c.inbuf) >= 5:
            t = c.inbuf[:1]
            (n,) = struct.unpack('>I', c.inbuf[1:5])
            if len(c.inbuf) < 5 + n:
                break
            payload = c.inbuf[5:5 + n]
            c.inbuf = c.inbuf[5 + n:]
            self.frame(c, t, payload)

    def frame(self, c, t, payload):
        if t == b'h':
            c.hello = True
            if payload[:1] == b'\x01' and self.scroll.buf:
                self.send(c, bytes(self.scroll.buf))
        elif t == b'd':
            self.container.feed(payload)
        elif t == b'r' and len(payload) >= 4:
            self.container.resize(*struct.unpack('>HH', payload[:4]))

    def close(self):
        for c in list(self.clients):
            self.flush(c)
            c.sock.close()
        self.lsock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
