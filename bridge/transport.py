"""Links: a :class:`~bridge.session.Session` over a pyserial URL, with reconnection.

Any URL that ``serial.serial_for_url`` opens works: a device path (``/dev/ttyUSB1``) for a
board, ``socket://host:port`` for the co-simulation server or a virtual board on TCP,
``loop://`` for a loopback. ``pair()`` joins two sessions in memory (an in-process link).
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable

import serial

from bridge.protocol import Packet
from bridge.session import Session

DEFAULT_BAUD = 3_000_000
POLL_SECONDS = 0.005  # longest a pump waits for the first incoming byte

# virtual://BACKEND opens an in-process board (bridge/protocol_virtual.py), tls://host:port
# a TLS connection (bridge/protocol_tls.py).
if "bridge" not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append("bridge")


class LinkError(ConnectionError):
    """The link could not be opened or re-opened."""


class Link:
    """A session over a pyserial port; re-opens the URL when the connection drops.

    Unacknowledged frames stay in the session and are sent again after a reconnection,
    so a dropped link loses nothing that was accepted.
    """

    def __init__(self, url: str, session: Session | None = None, baudrate: int = DEFAULT_BAUD,
                 retries: int = 20, retry_delay: float = 0.1) -> None:
        self.url = url
        self.session = session or Session()
        self.baudrate = baudrate
        self.retries = retries
        self.retry_delay = retry_delay
        self.reconnects = 0
        self.inbox: list[Packet] = []  # delivered packets not yet taken by receive()
        self._port = self._open()

    def _open(self) -> serial.SerialBase:
        last: Exception | None = None
        for _ in range(self.retries):
            try:
                port = serial.serial_for_url(self.url, baudrate=self.baudrate,
                                             timeout=POLL_SECONDS)
                sock = getattr(port, "_socket", None)
                if isinstance(sock, socket.socket):
                    # Small frames, answered one by one: Nagle's delay would stall each.
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return port
            except ValueError as exc:
                # A URL that pyserial cannot parse will not parse on a retry either.
                raise LinkError(f"cannot open {self.url}: {exc}; give a device path "
                                "(/dev/ttyUSB1), socket://HOST:PORT for TCP, or "
                                "virtual://reference") from exc
            except (serial.SerialException, OSError) as exc:
                last = exc
                time.sleep(self.retry_delay)
        raise LinkError(f"cannot open {self.url}: {last}")

    def _reconnect(self) -> None:
        try:
            self._port.close()
        except (serial.SerialException, OSError):
            pass
        self._port = self._open()
        self.reconnects += 1

    def send(self, packet: Packet) -> None:
        self.session.send(packet)
        self.pump()

    def pump(self) -> None:
        """Write what the session has; read what arrived into :attr:`inbox`."""
        now = time.monotonic()
        self.session.poll(now)
        try:
            out = self.session.outgoing()
            if out:
                self._port.write(out)
            data = self._read()
        except (serial.SerialException, OSError):
            self._reconnect()
            return
        if data:
            self.inbox += self.session.receive(data, now)

    def _read(self) -> bytes:
        # Wait for the first byte up to the port timeout, then take whatever else is there
        # without waiting: pyserial's in_waiting is only 0 or 1 on sockets.
        first = self._port.read(1)
        if not first:
            return b""
        self._port.timeout = 0
        try:
            return first + self._port.read(1 << 16)
        finally:
            self._port.timeout = POLL_SECONDS

    def receive(self, until: Callable[[list[Packet]], bool], timeout: float) -> list[Packet]:
        """Take delivered packets until ``until(packets so far)`` holds; TimeoutError after
        ``timeout`` s without it."""
        got: list[Packet] = []
        deadline = time.monotonic() + timeout
        while True:
            got += self.inbox
            self.inbox.clear()
            if until(got):
                return got
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer from {self.url} within {timeout} s")
            self.pump()

    def flush(self, timeout: float) -> None:
        """Pump until every sent frame is acknowledged."""
        deadline = time.monotonic() + timeout
        while not self.session.idle:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.url}: frames unacknowledged after {timeout} s")
            self.pump()

    def close(self) -> None:
        self._port.close()


def serve_tcp(handler: Callable[[bytes], bytes], port: int, host: str = "127.0.0.1",
              ready: threading.Event | None = None, stop: threading.Event | None = None,
              tls: ssl.SSLContext | None = None) -> None:
    """Serve a byte handler (bytes in -> bytes out) on TCP, one client at a time.

    The handler owns the protocol (e.g. a virtual board's ``feed``) and keeps its state
    across connections, so a client that reconnects continues where it was. ``tls`` (a
    server context) wraps each connection in TLS, for clients of ``tls://host:port``.
    Returns when ``stop`` is set.
    """
    stop = stop or threading.Event()
    with socket.create_server((host, port), reuse_port=False) as server:
        server.settimeout(0.1)
        if ready:
            ready.set()
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            if tls is not None:
                try:
                    conn.settimeout(5)
                    conn = tls.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):
                    conn.close()
                    continue
            # Frames are small and latency matters more than packing: no Nagle delay.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with conn:
                conn.settimeout(0.01)
                while not stop.is_set():
                    try:
                        data = conn.recv(65536)
                        if not data:
                            break
                    except TimeoutError:
                        data = b""
                    except (OSError, ssl.SSLError):
                        break
                    reply = handler(data)
                    if reply:
                        try:
                            conn.sendall(reply)
                        except OSError:
                            break
