#!/usr/bin/python3
"""An HTTP/1.1 proxy that fails on demand, between the gateway and a mock.

bench/chaos puts one in front of each mock upstream, so that the upstream
can fail the ways a real one does while the mock behind it still keeps its
own record of what it received.  Requests are relayed one at a time per
connection (Content-Length framing, as nginx sends them upstream and as the
mocks answer); each is handled by the mode in force when it arrives:

  pass      relayed as it is
  down      nothing listens: connections are refused, open ones are reset
  slow      relayed at once, and the answer held for a delay; the delays
            given by --slow are taken in turn (default "0.5,2.5": every
            other answer waits longer than the gateway's proxy_read_timeout
            of bench/chaos)
  reset     every other request is reset (RST) before it is relayed, the
            others after the upstream answered (a sale that happened, whose
            answer was lost)
  garbage   relayed, and the answer replaced, in turn, by bytes that are no
            HTTP at all, a malformed status line, and a head promising more
            body than comes before the connection closes

Control (its own port, never relayed):
  GET /mode?set=MODE    switch modes
  GET /stats            {"mode": ..., "requests": n, "faulted": n}
"""

import argparse
import asyncio
import json
import socket
import struct
import urllib.parse

MODES = ('pass', 'down', 'slow', 'reset', 'garbage')
GARBAGE = (
    b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n',
    b'HTTP/1.1 2x0 Broken\r\nContent-Length: 2\r\n\r\nok',
    b'HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n'
    b'Content-Length: 4096\r\n\r\n<?xml version="1.0"?><response status',
)


def header(head, name):
    for line in head.split(b'\r\n')[1:]:
        k, _, v = line.partition(b':')
        if k.strip().lower() == name:
            return v.strip()
    return None


class Route:
    def __init__(self, proxy, listen, target):
        self.proxy = proxy
        self.listen = listen
        self.target = target
        self.server = None
        self.conns = set()

    async def open(self):
        if self.server is None:
            self.server = await asyncio.start_server(
                self.serve, '127.0.0.1', self.listen, backlog=1024,
                reuse_address=True)

    async def close(self):
        if self.server is not None:
            self.server.close()
            for w in list(self.conns):
                reset(w)
            await self.server.wait_closed()
            self.server = None

    async def serve(self, reader, writer):
        self.conns.add(writer)
        up = None
        try:
            while True:
                up = await self.relay_one(reader, writer, up)
                if up is False:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, OSError,
                asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self.conns.discard(writer)
            for w in (writer, up[1] if up else None):
                if w is not None and not w.is_closing():
                    w.close()

    async def relay_one(self, reader, writer, up):
        """One request; the upstream connection to keep, or False."""
        head = await reader.readuntil(b'\r\n\r\n')
        body = await reader.readexactly(
            int(header(head, b'content-length') or 0))
        p = self.proxy
        n = p.requests
        p.requests += 1
        mode = p.mode
        if mode == 'reset' and n % 2 == 0:
            p.faulted += 1
            reset(writer)
            return False
        if up is None:
            up = await asyncio.open_connection('127.0.0.1', self.target)
        ureader, uwriter = up
        uwriter.write(head + body)
        await uwriter.drain()
        rhead = await ureader.readuntil(b'\r\n\r\n')
        status = rhead.split(b' ', 2)[1]
        length = header(rhead, b'content-length')
        if head.startswith(b'HEAD ') or status in (b'204', b'304'):
            rbody = b''
        elif length is not None:
            rbody = await ureader.readexactly(int(length))
        else:
            rbody = await ureader.read()
        if mode == 'slow':
            await asyncio.sleep(p.slow[n % len(p.slow)])
        if mode == 'reset':
            p.faulted += 1
            reset(writer)
            return False
        if mode == 'garbage':
            p.faulted += 1
            writer.write(GARBAGE[p.garbage % len(GARBAGE)])
            p.garbage += 1
            await writer.drain()
            return False
        writer.write(rhead + rbody)
        await writer.drain()
        if length is None or (header(rhead, b'connection') or b'').lower() \
                == b'close':
            return False
        return up


def reset(writer):
    """Close with an RST, as a crashed peer or a middlebox does."""
    sock = writer.get_extra_info('socket')
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack('ii', 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class Proxy:
    def __init__(self, slow):
        self.mode = 'pass'
        self.slow = slow
        self.requests = 0
        self.faulted = 0
        self.garbage = 0
        self.routes = []

    async def set_mode(self, mode):
        if mode == 'down':
            for r in self.routes:
                await r.close()
        elif self.mode == 'down':
            for r in self.routes:
                await r.open()
        self.mode = mode

    async def control(self, reader, writer):
        try:
            line = await reader.readuntil(b'\r\n')
            await reader.readuntil(b'\r\n\r\n')
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        url = urllib.parse.urlsplit(line.split(b' ')[1].decode())
        q = dict(urllib.parse.parse_qsl(url.query))
        status, body = 200, ''
        if url.path == '/mode' and q.get('set') in MODES:
            await self.set_mode(q['set'])
            body = 'ok\n'
        elif url.path == '/stats':
            body = json.dumps({'mode': self.mode, 'requests': self.requests,
                               'faulted': self.faulted})
        else:
            status, body = 404, 'no such control\n'
        writer.write(b'HTTP/1.1 %d X\r\nContent-Length: %d\r\n'
                     b'Connection: close\r\n\r\n%s'
                     % (status, len(body), body.encode()))
        await writer.drain()
        writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--control', type=int, required=True,
                    help='port of the control endpoint')
    ap.add_argument('--route', action='append', required=True,
                    metavar='LISTEN:TARGET',
                    help='relay loopback port LISTEN to loopback port TARGET')
    ap.add_argument('--slow', default='0.5,2.5',
                    help='the delays of the slow mode, in seconds, in turn')
    opts = ap.parse_args()
    proxy = Proxy([float(s) for s in opts.slow.split(',')])
    for r in opts.route:
        listen, target = (int(p) for p in r.split(':'))
        route = Route(proxy, listen, target)
        await route.open()
        proxy.routes.append(route)
    ctl = await asyncio.start_server(proxy.control, '127.0.0.1', opts.control,
                                     reuse_address=True)
    async with ctl:
        await ctl.serve_forever()


if __name__ == '__main__':
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
