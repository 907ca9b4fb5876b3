"""An integrator's feed consumer from another stack: NATS's text protocol over Python's own
socket and OpenSSL, nothing of nats.js or of this repo. It does what docs/security.md
("Integrators") and docs/integration-feed.md tell an integrator to do: TLS with its
certificate, its inbox prefix, pulls from its durable consumer on HV_EVENTS, an ack per
message. It prints what it saw as one JSON document; test/feed/foreign-consumer.test.ts
judges it.

Usage: python3 foreign_consumer.py <nats url> <ca> <cert> <key> <inbox prefix> <consumer> <count>
"""
import json
import socket
import ssl
import sys
import time
from urllib.parse import urlparse

url, ca, cert, key, inbox, consumer, want = sys.argv[1:8]
want = int(want)
target = urlparse(url)


class Conn:
    """One NATS connection: the server's INFO in the clear, then TLS (nats-server 2.9's order)."""

    def __init__(self):
        raw = socket.create_connection((target.hostname, target.port), timeout=15)
        self.buf = b''
        self.sock = raw
        info = json.loads(self.line()[len(b'INFO '):])
        assert info.get('tls_required'), info
        ctx = ssl.create_default_context(cafile=ca)
        ctx.load_cert_chain(cert, key)
        # The address is an IP: checked against the certificate's IP names.
        self.sock = ctx.wrap_socket(raw, server_hostname=target.hostname)
        self.buf = b''
        self.send('CONNECT ' + json.dumps({'verbose': False, 'pedantic': False, 'tls_required': True, 'headers': True, 'no_responders': True, 'lang': 'python-raw', 'version': '0', 'protocol': 1}))
        self.send('PING')
        first = self.op()
        assert first == ('PONG',), first

    def send(self, line, payload=None):
        data = line.encode() + b'\r\n'
        if payload is not None:
            data += payload + b'\r\n'
        self.sock.sendall(data)

    def line(self):
        while b'\r\n' not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError('closed')
            self.buf += chunk
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def exactly(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError('closed')
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def op(self):
        """The next operation from the server: PONG, -ERR, or a message with its headers."""
        while True:
            line = self.line().decode()
            if line == 'PING':
                self.send('PONG')
                continue
            if line in ('PONG', '+OK'):
                return (line,)
            if line.startswith('-ERR'):
                return ('ERR', line)
            parts = line.split(' ')
            if parts[0] == 'HMSG':
                subject, _sid = parts[1], parts[2]
                reply = parts[3] if len(parts) == 6 else ''
                hlen, total = int(parts[-2]), int(parts[-1])
                data = self.exactly(total)
                head, body = data[:hlen].decode(), data[hlen:]
                lines = head.split('\r\n')
                status = lines[0][len('NATS/1.0'):].strip()
                headers = dict(l.split(': ', 1) for l in lines[1:] if ': ' in l)
                return ('MSG', subject, reply, status, headers, body)
            if parts[0] == 'MSG':
                subject = parts[1]
                reply = parts[3] if len(parts) == 5 else ''
                body = self.exactly(int(parts[-1]))
                return ('MSG', subject, reply, '', {}, body)
            raise ValueError(line)


c = Conn()
c.send(f'SUB {inbox}.pull 1')
messages = []
deadline = time.time() + 30
while len(messages) < want and time.time() < deadline:
    # A pull of up to 10, answered within 2 s (nanoseconds), or a 408 status when none came.
    ask = json.dumps({'batch': 10, 'expires': 2_000_000_000}).encode()
    c.send(f'PUB $JS.API.CONSUMER.MSG.NEXT.HV_EVENTS.{consumer} {inbox}.pull {len(ask)}', ask)
    while True:
        op = c.op()
        if op[0] == 'ERR':
            print(json.dumps({'error': op[1], 'messages': messages}))
            sys.exit(0)
        _, subject, reply, status, headers, body = op
        if status:  # 404 no messages, 408 the pull expired: ask again
            break
        messages.append({'subject': subject, 'headers': headers, 'body': json.loads(body)})
        c.send(f'PUB {reply} 4', b'+ACK')
        if len(messages) >= want:
            break

# What its certificate does not allow: the feed's subjects directly, the log's stream.
c.send('SUB hv.events.v1.> 2')
c.send('PING')
denied = []
while True:
    op = c.op()
    if op[0] == 'ERR':
        denied.append(op[1])
    elif op[0] == 'PONG':
        break
print(json.dumps({'messages': messages, 'denied': denied}))
