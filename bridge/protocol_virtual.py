"""pyserial URL handler ``virtual://BACKEND``: a virtual board inside this process.

Registered by :mod:`bridge.transport` (``serial.protocol_handler_packages``), so every link
API that takes a URL can talk to an in-process board: ``virtual://reference``.
"""

from __future__ import annotations

from urllib.parse import urlparse

import serial

from bridge.board import VirtualBoard


class Serial(serial.SerialBase):
    """A port whose other end is a :class:`VirtualBoard`."""

    def open(self) -> None:
        parts = urlparse(self.portstr)
        if parts.scheme != "virtual":
            raise serial.SerialException(f"expected virtual://BACKEND, got {self.portstr!r}")
        self._board = VirtualBoard(parts.netloc or "reference")
        self._rx = bytearray()
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def _reconfigure_port(self) -> None:
        """Nothing to configure: no line."""

    @property
    def in_waiting(self) -> int:
        self._rx += self._board.feed(b"")
        return len(self._rx)

    def read(self, size: int = 1) -> bytes:
        self._rx += self._board.feed(b"")
        data = bytes(self._rx[:size])
        del self._rx[:size]
        return data

    def write(self, data: bytes) -> int:
        self._rx += self._board.feed(bytes(data))
        return len(data)

    def reset_input_buffer(self) -> None:
        self._rx.clear()

    def reset_output_buffer(self) -> None:
        """Writes are handed to the board at once; nothing is buffered."""
