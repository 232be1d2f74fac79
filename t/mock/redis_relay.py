#!/usr/bin/python3
"""A TCP relay in front of Redis that counts round trips.

usage: redis_relay.py LISTEN_PORT REDIS_PORT COUNT_FILE

A round trip starts each time a client sends bytes after Redis last sent
it some (or first): commands pipelined in one go count once, commands
that wait for a reply before the next count once each.  The total over
all connections is rewritten into COUNT_FILE after every change.
"""

import os
import selectors
import socket
import sys


def main():
    listen_port, redis_port, count_file = (int(sys.argv[1]),
                                           int(sys.argv[2]), sys.argv[3])
    sel = selectors.DefaultSelector()
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('127.0.0.1', listen_port))
    server.listen(16)
    sel.register(server, selectors.EVENT_READ, None)

    state = {'trips': 0}

    def publish():
        tmp = count_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write('%d\n' % state['trips'])
        os.replace(tmp, count_file)

    publish()

    while True:
        for key, _ in sel.select():
            if key.data is None:
                client, _ = server.accept()
                upstream = socket.create_connection(('127.0.0.1', redis_port))
                pair = {'client': client, 'redis': upstream, 'answered': True}
                sel.register(client, selectors.EVENT_READ, ('client', pair))
                sel.register(upstream, selectors.EVENT_READ, ('redis', pair))
                continue

            side, pair = key.data
            src = pair[side]
            dst = pair['redis' if side == 'client' else 'client']
            try:
                data = src.recv(65536)
            except OSError:
                data = b''

            if not data:
                for s in (pair['client'], pair['redis']):
                    try:
                        sel.unregister(s)
                    except (KeyError, ValueError):
                        pass
                    s.close()
                continue

            if side == 'client':
                if pair['answered']:
                    state['trips'] += 1
                    pair['answered'] = False
                    publish()
            else:
                pair['answered'] = True

            dst.sendall(data)


if __name__ == '__main__':
    main()
