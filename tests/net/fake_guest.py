"""A test double for the kernel's host-side socket API, with guest HTTP servers on threads.

It keeps the contract of ``kernel.sockets.connect_from_host(port) -> HostConnection``
(see sidecar/agentvm_sidecar/net/host_stream.py) and is built from two kernel Pipes:
the host end is non-blocking and watchable, the "guest" end is served by a Python
thread doing blocking reads and writes, as a guest program would on its own thread.
Until the real socket table (net-core) is on main, fetch and preview run against this.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable

import h11

from agentvm_sidecar.kernel.errors import KernelError
from agentvm_sidecar.kernel.pipes import Pipe

PIPE_BYTES = 256 * 1024


class PipeConnection:
    """A HostConnection: host writes go to ``to_guest``, host reads come from ``from_guest``."""

    def __init__(self) -> None:
        self.to_guest = Pipe(PIPE_BYTES, PIPE_BYTES)
        self.from_guest = Pipe(PIPE_BYTES, PIPE_BYTES)
        self._lock = threading.Lock()
        self._write_open = True
        self._read_open = True

    def send_nowait(self, data: bytes | memoryview) -> int:
        if not self._write_open:
            raise KernelError("EPIPE", "write end shut down")
        return self.to_guest.write(data, nonblocking=True)

    def recv_nowait(self, n: int) -> bytes:
        return self.from_guest.read(n, nonblocking=True)

    def shutdown_write(self) -> None:
        with self._lock:
            was_open, self._write_open = self._write_open, False
        if was_open:
            self.to_guest.close_writer()

    def close(self) -> None:
        self.shutdown_write()
        with self._lock:
            was_open, self._read_open = self._read_open, False
        if was_open:
            self.from_guest.close_reader()

    def watch(self, callback: Callable[[], None]) -> None:
        self.to_guest.watch(callback)
        self.from_guest.watch(callback)

    def unwatch(self, callback: Callable[[], None]) -> None:
        self.to_guest.unwatch(callback)
        self.from_guest.unwatch(callback)


class GuestEnd:
    """The guest's side of a PipeConnection: blocking reads and writes."""

    def __init__(self, conn: PipeConnection) -> None:
        self._conn = conn
        self._closed = False

    def recv(self, n: int = 65536) -> bytes:
        return self._conn.to_guest.read(n)

    def send(self, data: bytes) -> None:
        self._conn.from_guest.write(data)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._conn.to_guest.close_reader()
        self._conn.from_guest.close_writer()


Response = tuple[int, list[tuple[str, str]], Iterable[bytes]]
App = Callable[[h11.Request, bytes, GuestEnd], Response | None]


class FakeSockets:
    """``kernel.sockets`` as fetch and preview use it: listeners by port."""

    def __init__(self) -> None:
        self._apps: dict[int, App] = {}
        self.connections = 0

    def listen(self, port: int, app: App) -> None:
        self._apps[port] = app

    def connect_from_host(self, port: int) -> PipeConnection:
        app = self._apps.get(port)
        if app is None:
            raise KernelError("ECONNREFUSED", f"nothing listens on port {port}")
        self.connections += 1
        conn = PipeConnection()
        threading.Thread(target=_serve_http, args=(GuestEnd(conn), app), daemon=True).start()
        return conn


def _serve_http(guest: GuestEnd, app: App) -> None:
    """An h11 server loop on blocking pipes: one response per request until EOF."""
    h = h11.Connection(h11.SERVER)
    try:
        while True:
            request, body = _read_request(h, guest)
            if request is None:
                return
            answer = app(request, body, guest)
            if answer is None:  # the app took over the connection (and closed it)
                return
            status, headers, chunks = answer
            guest.send(h.send(h11.Response(status_code=status, headers=headers)))
            for chunk in chunks:
                guest.send(h.send(h11.Data(data=chunk)))
            guest.send(h.send(h11.EndOfMessage()))
            if h.our_state is h11.MUST_CLOSE:
                return
            h.start_next_cycle()
    except (KernelError, h11.ProtocolError):
        return
    finally:
        guest.close()


def _read_request(h: h11.Connection, guest: GuestEnd) -> tuple[h11.Request | None, bytes]:
    request = None
    body = bytearray()
    while True:
        event = h.next_event()
        if event is h11.NEED_DATA:
            h.receive_data(guest.recv())
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return request, bytes(body)
        elif isinstance(event, h11.ConnectionClosed):
            return None, b""


def echo_app(request: h11.Request, body: bytes, guest: GuestEnd) -> Response | None:
    """Routes used by the tests, by path."""
    path = request.target.decode()
    if path.startswith("/big/"):
        size = int(path.rsplit("/", 1)[1])
        block = bytes(range(256)) * 256
        chunks = [block[: min(len(block), size - off)] for off in range(0, size, len(block))]
        return 200, [("content-length", str(size)), ("content-type", "application/octet-stream")], chunks
    if path == "/chunked":
        return 200, [("content-type", "text/plain")], [b"one,", b"two,", b"three"]
    if path == "/silent":
        guest.recv()  # until the host gives up and closes
        guest.close()
        return None
    if path == "/close":
        guest.close()
        return None
    if path == "/half":
        guest.send(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b")
        guest.close()
        return None
    if path == "/ws":  # accepts the upgrade, then answers every chunk upper-cased until EOF
        guest.send(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n")
        while data := guest.recv():
            guest.send(data.upper())
        guest.close()
        return None
    if path == "/garbage":
        guest.send(b"NOT HTTP AT ALL\r\n\r\n")
        guest.close()
        return None
    payload = {
        "method": request.method.decode(),
        "path": path,
        "headers": [[name.decode(), value.decode("latin-1")] for name, value in request.headers],
        "body": body.decode("latin-1"),
    }
    data = json.dumps(payload).encode()
    headers = [("content-type", "application/json"), ("content-length", str(len(data))), ("set-cookie", "a=1"), ("set-cookie", "b=2")]
    return 201 if request.method == b"POST" else 200, headers, [data]
