"""Co-simulation: the RTL with its UART served on TCP, for ``neurotwin cosim``.

The RTL top ``up5k_link_top`` (the lif_core behind nt_link, as on the iCE40 board) runs in
Icarus Verilog or Verilator under cocotb; :func:`bridge.cosim_bench.relay` drives its UART pins.
This process listens on the TCP port at once, starts the simulator (building it on first use),
and relays bytes between the current TCP client and the simulator's relay socket. Bytes that
arrive before the simulator is up are dropped, as a board that is still booting would drop
them; the host's Hello, repeated until answered, starts the conversation. A client that
reconnects finds the simulated board as it left it.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from neuro.backends import rtl_sim
from neuro.network import FixedNetwork
from neuro.rtl_compile import CoreGeometry, compile_network

TOP = "up5k_link_top"
# The core up5k_link_top instantiates (one 256 x 256 core, four layers, four lanes).
GEOMETRY = CoreGeometry(n_neurons=256, n_inputs=256, n_layers=4, lanes=4, n_cores=1)


def check_fits(network: FixedNetwork) -> None:
    """Raise CompileError, saying what does not fit, if the board's core cannot hold it."""
    compile_network(network, GEOMETRY)


class CosimServer:
    """Listens on ``host:port`` and relays to the simulated UART; :meth:`serve` blocks."""

    def __init__(self, port: int, host: str = "127.0.0.1", sim: str = "icarus",
                 waves: bool = False, log: Callable[[str], None] = print) -> None:
        self.port = port
        self.host = host
        self.sim = sim
        self.waves = waves
        self.log = log
        self.ready = threading.Event()  # the simulator is connected
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="neurotwin-cosim-")
        self.work = Path(self._tmp.name)

    def _simulate(self, relay_path: Path) -> None:
        try:
            build_dir = rtl_sim.build(TOP, {}, self.sim, self.waves)
            rtl_sim.run_cocotb(TOP, build_dir, "bridge.cosim_bench", self.sim,
                               testcase="relay", work_dir=self.work / "sim", waves=self.waves,
                               env={"NEUROTWIN_COSIM_SOCKET": str(relay_path)})
        except BaseException as exc:  # reported by serve()
            self.error = exc
        finally:
            self.stop.set()

    def serve(self) -> None:
        relay_path = self.work / "relay.sock"
        selector = selectors.DefaultSelector()
        with socket.create_server((self.host, self.port)) as server, \
                socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as relay:
            relay.bind(str(relay_path))
            relay.listen(1)
            for s in (server, relay):
                s.setblocking(False)
                selector.register(s, selectors.EVENT_READ)
            self.log(f"cosim: {TOP} on {self.sim}, UART served at "
                     f"socket://{self.host}:{self.port} (building the simulator if needed)")
            thread = threading.Thread(target=self._simulate, args=(relay_path,), daemon=True)
            thread.start()
            sim_conn: socket.socket | None = None
            client: socket.socket | None = None
            try:
                while not self.stop.is_set():
                    for key, _ in selector.select(timeout=0.1):
                        sock = key.fileobj
                        if sock is server:
                            conn, _ = server.accept()
                            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                            if client is not None:  # the newest client wins
                                selector.unregister(client)
                                client.close()
                            client = conn
                            selector.register(client, selectors.EVENT_READ)
                        elif sock is relay:
                            sim_conn, _ = relay.accept()
                            selector.register(sim_conn, selectors.EVENT_READ)
                            self.ready.set()
                            self.log("cosim: simulator ready")
                        elif sock is client:
                            data = _recv(client)
                            if data is None:
                                selector.unregister(client)
                                client.close()
                                client = None
                            elif sim_conn is not None:
                                sim_conn.sendall(data)
                        elif sock is sim_conn:
                            data = _recv(sim_conn)
                            if data is None:
                                self.stop.set()
                            elif client is not None:
                                with contextlib.suppress(OSError):
                                    client.sendall(data)
            finally:
                self.stop.set()
                for s in (client, sim_conn):
                    if s is not None:
                        s.close()
                thread.join(timeout=30)
                self._tmp.cleanup()
        if self.error is not None:
            raise self.error


def _recv(sock: socket.socket) -> bytes | None:
    """What arrived; None when the peer closed."""
    try:
        data = sock.recv(1 << 16)
    except BlockingIOError:
        return b""
    except OSError:
        return None
    return data or None
