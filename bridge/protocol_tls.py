"""pyserial URL handler ``tls://host:port``: the TCP transport inside TLS.

For links that others can reach (the roadmap's Box 2: connected sensors can be attacked).
Query options: ``cafile`` (CA or self-signed certificate that the server must present),
``certfile`` and ``keyfile`` (client certificate, for servers that ask for one), and
``servername`` (name to check, default the host). Certificates are always verified.
"""

from __future__ import annotations

import select
import socket
import ssl
from urllib.parse import parse_qs, urlsplit

import serial


class Serial(serial.SerialBase):
    """A TLS client socket with pyserial's read/write interface."""

    def open(self) -> None:
        parts = urlsplit(self.portstr)
        if parts.scheme != "tls" or not parts.hostname or parts.port is None:
            raise serial.SerialException(f"expected tls://host:port, got {self.portstr!r}")
        options = {k: v[0] for k, v in parse_qs(parts.query).items()}
        unknown = set(options) - {"cafile", "certfile", "keyfile", "servername"}
        if unknown:
            raise serial.SerialException(f"unknown tls:// options: {sorted(unknown)}")
        context = ssl.create_default_context(cafile=options.get("cafile"))
        if "certfile" in options:
            context.load_cert_chain(options["certfile"], options.get("keyfile"))
        try:
            raw = socket.create_connection((parts.hostname, parts.port), timeout=5)
            self._sock = context.wrap_socket(
                raw, server_hostname=options.get("servername", parts.hostname))
        except (OSError, ssl.SSLError) as exc:
            raise serial.SerialException(f"could not open {self.portstr}: {exc}") from exc
        self.is_open = True

    def _reconfigure_port(self) -> None:
        """Nothing to configure on a socket."""

    def close(self) -> None:
        if self.is_open:
            self._sock.close()
            self.is_open = False

    @property
    def in_waiting(self) -> int:
        # Decrypted bytes may wait inside the TLS object where select() cannot see them.
        pending = self._sock.pending()
        if pending:
            return pending
        return int(bool(select.select([self._sock], [], [], 0)[0]))

    def read(self, size: int = 1) -> bytes:
        self._sock.settimeout(self._timeout)
        try:
            data = self._sock.recv(size)
        except (TimeoutError, ssl.SSLWantReadError, BlockingIOError):
            return b""
        except (OSError, ssl.SSLError) as exc:
            raise serial.SerialException(f"read failed: {exc}") from exc
        if not data:
            raise serial.SerialException("TLS connection closed")
        return data

    def write(self, data: bytes) -> int:
        self._sock.settimeout(None)
        try:
            self._sock.sendall(bytes(data))
        except (OSError, ssl.SSLError) as exc:
            raise serial.SerialException(f"write failed: {exc}") from exc
        return len(data)

    def reset_input_buffer(self) -> None:
        """Nothing buffered outside the socket."""

    def reset_output_buffer(self) -> None:
        """Writes go straight to the socket."""
