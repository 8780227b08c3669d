"""A relay from a Unix socket to the remote store's one TCP address.

Query workers run without a network (their own network namespace, and a seccomp filter that
lets them make Unix sockets only: :mod:`server.sandbox`). Over a remote store they still need to
reach it, and nothing else: the front end listens on a Unix socket in a private folder and
relays each connection made there to the store's host and port, and only there. So a query that
got past the SERVICE check could still not make a worker reach any other address: the OS
keeps the guarantee, whatever the parser decides.
"""
from __future__ import annotations

import os
import socket
import tempfile
import threading

#: connections relayed at once (each query worker keeps one open)
MAX_CONNECTIONS = 64
BUFFER = 65_536


class Relay:
    def __init__(self, host: str, port: int, connect_timeout: float = 5.0):
        self.target = (host, port)
        self.connect_timeout = connect_timeout
        self._folder = tempfile.mkdtemp(prefix="tdkg-relay-")
        os.chmod(self._folder, 0o700)
        self.path = os.path.join(self._folder, "store.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(MAX_CONNECTIONS)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._closed = False
        threading.Thread(target=self._accept, name="tdkg-store-relay", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._slots.acquire(blocking=False):
                client.close()      # the worker gets a dropped connection: a 503 for that call
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True,
                             name="tdkg-store-relay-conn").start()

    def _serve(self, client: socket.socket) -> None:
        try:
            try:
                upstream = socket.create_connection(self.target, timeout=self.connect_timeout)
            except OSError:
                client.close()
                return
            upstream.settimeout(None)
            # a request may arrive in several reads: without this, Nagle's algorithm holds the
            # last part until the store's delayed ACK (40 ms a request)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pump = threading.Thread(target=_pump, args=(upstream, client), daemon=True,
                                    name="tdkg-store-relay-back")
            pump.start()
            _pump(client, upstream)
            pump.join()
        finally:
            self._slots.release()

    def close(self) -> None:
        self._closed = True
        try:
            self._listener.close()
        finally:
            try:
                os.unlink(self.path)
                os.rmdir(self._folder)
            except OSError:
                pass


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy ``source`` to ``sink`` until either side closes; then close both."""
    try:
        while data := source.recv(BUFFER):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
