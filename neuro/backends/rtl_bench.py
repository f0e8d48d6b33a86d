"""The cocotb side of the RTL co-simulation: drivers, monitors and a Testbench for lif_chain.

Runs inside the HDL simulator (Icarus or Verilator), started by :mod:`neuro.backends.rtl_sim`
or by the benches in rtl/. Components stay single-purpose (after cocotb's examples): the
:class:`ConfigPort` and :class:`AerDriver` only apply transactions, the :class:`AerMonitor`
only collects output events, the :class:`TraceReader` only decodes the state trace, and the
:class:`Testbench` wires them to run a compiled network. Expected values are never computed
here: callers compare with :mod:`neuro.backends.reference`.

Every transaction is applied at a falling clock edge, where the DUT's registered outputs are
settled, so the handshakes read the same on every simulator; `cfg_ready` also depends on the
address, so it is read in the ReadOnly phase after the address is set.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import Event, FallingEdge, ReadOnly, RisingEdge

from neuro.record import Record
from neuro.rtl_compile import (
    AER_TICK,
    REG_CYCLES,
    REG_LANES,
    REG_N_INPUTS,
    REG_N_LAYERS,
    REG_N_NEURONS,
    REG_STATUS,
    STATUS_BUSY,
    ChainImage,
    CoreGeometry,
    address,
    aer_words,
)

CLOCK_NS = 10
# Bytes per trace line: 32 hex digits and a newline (see rtl/lif_core/lif_chain_sim.v).
_TRACE_LINE = 33
_HEX = np.full(256, 255, np.uint8)
_HEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16, dtype=np.uint8)

# Returns the Dense outputs a (integers; the core adds a << 6 to u) of an activation-port layer
# at a step, given the layer's index, the step and the spikes [inputs] that fed it at the step
# before, as the RTL produced them.
DriveFunction = Callable[[int, int, np.ndarray], np.ndarray]


class ConfigPort:
    """Driver of the configuration port: pipelined writes and reads of 32-bit words."""

    def __init__(self, dut) -> None:
        self.clk = dut.clk
        self.valid, self.ready, self.we = dut.cfg_valid, dut.cfg_ready, dut.cfg_we
        self.addr, self.wdata = dut.cfg_addr, dut.cfg_wdata
        self.rvalid, self.rdata = dut.cfg_rvalid, dut.cfg_rdata

    async def write(self, writes: np.ndarray) -> None:
        """Issue ``writes`` (uint32 [n, 2] of address, data) in order, one per cycle at best."""
        self.we.value = 1
        for addr, data in writes.tolist():
            self.addr.value = addr
            self.wdata.value = data
            self.valid.value = 1
            await ReadOnly()
            while not int(self.ready.value):
                await FallingEdge(self.clk)
                await ReadOnly()
            await FallingEdge(self.clk)
        self.valid.value = 0

    async def read(self, addresses: Sequence[int] | np.ndarray) -> np.ndarray:
        """Read words (uint32) at ``addresses``; reads are pipelined and answered in order."""
        addresses = np.asarray(addresses, np.uint32).tolist()
        words: list[int] = []
        issued = 0
        self.we.value = 0
        while len(words) < len(addresses):
            if issued < len(addresses):
                self.addr.value = addresses[issued]
                self.valid.value = 1
            else:
                self.valid.value = 0
            await ReadOnly()
            accepted = issued < len(addresses) and int(self.ready.value)
            if int(self.rvalid.value):
                words.append(self.rdata.value.to_unsigned())
            await FallingEdge(self.clk)
            issued += bool(accepted)
        self.valid.value = 0
        return np.asarray(words, np.uint32)


class AerDriver:
    """Driver of the AER input: pushes 16-bit words with valid/ready."""

    def __init__(self, dut) -> None:
        self.clk, self.data = dut.clk, dut.in_data
        self.valid, self.ready = dut.in_valid, dut.in_ready

    async def send(self, words: Sequence[int] | np.ndarray) -> None:
        for word in np.asarray(words).tolist():
            self.data.value = word
            self.valid.value = 1
            # in_ready is registered: read at the falling edge it holds until the next rise.
            while not int(self.ready.value):
                await RisingEdge(self.ready)
                await FallingEdge(self.clk)
            await FallingEdge(self.clk)
        self.valid.value = 0


class AerMonitor:
    """Monitor of the AER output: always ready; collects events per time step (tick)."""

    def __init__(self, dut) -> None:
        self.clk, self.valid, self.data = dut.clk, dut.out_valid, dut.out_data
        dut.out_ready.value = 1
        self.steps: list[np.ndarray] = []
        self._current: list[int] = []
        self._target = 0
        self._reached = Event()
        self._task = cocotb.start_soon(self._run())  # runs until the test ends

    def reset(self) -> None:
        """Forget collected steps (a new run starts after a CLEAR)."""
        self.steps, self._current = [], []

    async def wait_steps(self, count: int) -> None:
        """Wait until ``count`` ticks have arrived since :meth:`reset`, and one more edge.

        The extra edge is the one at which the last tick leaves the FIFO; the simulation top
        flushes the trace file there.
        """
        if len(self.steps) < count:
            self._target = count
            self._reached.clear()
            await self._reached.wait()
        await FallingEdge(self.clk)

    async def _run(self) -> None:
        await FallingEdge(self.clk)
        while True:
            if not int(self.valid.value):
                await RisingEdge(self.valid)
                await FallingEdge(self.clk)
            word = self.data.value.to_unsigned()
            if word & AER_TICK:
                self.steps.append(np.asarray(self._current, np.int64))
                self._current = []
                if len(self.steps) >= self._target:
                    self._reached.set()
            else:
                self._current.append(word & 0xFF)
            await FallingEdge(self.clk)


class TraceReader:
    """Decodes the state-trace file written by lif_chain_sim, from where it last stopped."""

    FIELDS = ("step", "core", "layer", "neuron", "spike", "u", "v")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def read_new(self) -> dict[str, np.ndarray]:
        """Records written since the last call, as arrays (u and v int32, the rest int64)."""
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        data = data[: len(data) // _TRACE_LINE * _TRACE_LINE]
        self.offset += len(data)
        digits = _HEX[np.frombuffer(data, np.uint8).reshape(-1, _TRACE_LINE)[:, :32]]
        if digits.size and digits.max() > 15:
            raise ValueError(f"{self.path}: trace holds a digit that is not hex (X or Z?)")
        digits = digits.astype(np.int64)

        def field(first: int, count: int) -> np.ndarray:
            weights = 16 ** np.arange(count - 1, -1, -1, dtype=np.int64)
            return digits[:, first:first + count] @ weights

        spans = {"step": (0, 8), "core": (8, 2), "layer": (10, 2), "neuron": (12, 2),
                 "spike": (14, 2), "u": (16, 8), "v": (24, 8)}
        out = {name: field(*spans[name]) for name in self.FIELDS}
        out["u"] = out["u"].astype(np.uint32).view(np.int32)
        out["v"] = out["v"].astype(np.uint32).view(np.int32)
        return out


@dataclass
class RunResult:
    """What one run of a compiled network produced, per network layer [steps, neurons]."""

    spikes: tuple[np.ndarray, ...]
    u: tuple[np.ndarray, ...]
    v: tuple[np.ndarray, ...]
    output_events: list[np.ndarray]
    readback: dict[int, tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]] = field(
        default_factory=dict)
    cycles: list[int] = field(default_factory=list)
    flags: list[int] = field(default_factory=list)


class Scoreboard:
    """In-order checker: a :class:`RunResult` against the reference's record of the same run.

    Compares every traced spike, u and v, the AER output events and each state read back
    through the configuration port; :meth:`check` lists the first difference of each kind.
    """

    @staticmethod
    def first_difference(name: str, got: np.ndarray, want: np.ndarray) -> str | None:
        if got.shape != want.shape:
            return f"{name}: shape {got.shape}, reference {want.shape}"
        bad = np.argwhere(got != want)
        if not len(bad):
            return None
        at = tuple(int(i) for i in bad[0])
        return f"{name} at {at}: RTL {got[at]}, reference {want[at]}"

    def check(self, reference: Record, result: RunResult, batch: int = 0) -> list[str]:
        """Differences between ``result`` and stream ``batch`` of ``reference``."""
        found = []
        for i in range(len(reference.spikes)):
            for name, got, want in (("spikes", result.spikes, reference.spikes),
                                    ("u", result.u, reference.u), ("v", result.v, reference.v)):
                found.append(self.first_difference(f"{name}_{i} [step, neuron]", got[i],
                                                   np.asarray(want[i][batch])))
        want_out = np.asarray(reference.spikes[-1][batch])
        events = np.zeros_like(want_out)
        for t, idx in enumerate(result.output_events[: len(events)]):
            events[t, idx] = 1
        if len(result.output_events) != len(want_out):
            found.append(f"AER output: {len(result.output_events)} ticks for {len(want_out)} "
                         "steps")
        found.append(self.first_difference("AER output [step, neuron]", events, want_out))
        for step, (us, vs) in result.readback.items():
            for i, (u, v) in enumerate(zip(us, vs, strict=True)):
                found.append(self.first_difference(
                    f"u_{i} read back after step {step} [neuron]", u,
                    np.asarray(reference.u[i][batch][step])))
                found.append(self.first_difference(
                    f"v_{i} read back after step {step} [neuron]", v,
                    np.asarray(reference.v[i][batch][step])))
        return [f for f in found if f]


def assemble(image: ChainImage, trace: dict[str, np.ndarray], steps: int
             ) -> tuple[tuple[np.ndarray, ...], ...]:
    """Per-layer spikes, u and v [steps, neurons] from trace records; every update once."""
    spikes, us, vs = [], [], []
    for p in image.placements:
        mine = (trace["core"] == p.core) & (trace["layer"] == p.slot)
        t, n = trace["step"][mine], trace["neuron"][mine]
        seen = np.zeros((steps, p.count), np.int64)
        np.add.at(seen, (t, n), 1)
        if len(t) != steps * p.count or not np.all(seen == 1):
            raise AssertionError(
                f"layer {p.layer}: trace has {len(t)} updates for {steps} steps x {p.count} "
                "neurons, not one per neuron and step")
        s = np.zeros((steps, p.count), np.uint8)
        u = np.zeros((steps, p.count), np.int32)
        v = np.zeros((steps, p.count), np.int32)
        s[t, n] = trace["spike"][mine]
        u[t, n] = trace["u"][mine]
        v[t, n] = trace["v"][mine]
        spikes.append(s)
        us.append(u)
        vs.append(v)
    return tuple(spikes), tuple(us), tuple(vs)


class Testbench:
    """lif_chain_sim under test: clock, reset, the port components and a network runner."""

    __test__ = False  # a bench, not a pytest test class

    def __init__(self, dut, trace_path: Path | None = None) -> None:
        self.dut = dut
        self.cfg = ConfigPort(dut)
        self.aer = AerDriver(dut)
        self.monitor: AerMonitor | None = None
        self.trace = TraceReader(trace_path) if trace_path else None
        self.geometry: CoreGeometry | None = None

    async def start(self) -> CoreGeometry:
        """Start the clock, reset, and read the cores' parameters back from the DUT."""
        dut = self.dut
        Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start()
        for sig in (dut.in_valid, dut.cfg_valid, dut.cfg_we, dut.act_valid):
            sig.value = 0
        dut.in_data.value = 0
        dut.cfg_addr.value = 0
        dut.cfg_wdata.value = 0
        dut.act_addr.value = 0
        dut.act_data.value = 0
        dut.rst.value = 1
        for _ in range(3):
            await FallingEdge(dut.clk)
        dut.rst.value = 0
        self.monitor = AerMonitor(dut)
        await FallingEdge(dut.clk)
        regs = await self.cfg.read([REG_N_NEURONS, REG_N_INPUTS, REG_N_LAYERS, REG_LANES])
        self.geometry = CoreGeometry(int(regs[0]), int(regs[1]), int(regs[2]), int(regs[3]),
                                     n_cores=len(dut.flags) // 6)
        return self.geometry

    async def wait_idle(self, image: ChainImage) -> None:
        """Wait until no used core is busy (after a CLEAR, or while steps are pending)."""
        while any(w & STATUS_BUSY for w in await self.read_core_registers(image, REG_STATUS)):
            pass

    async def read_state(self, image: ChainImage) -> tuple[tuple[np.ndarray, ...], ...]:
        """u and v of every layer through the configuration port (the chain must be idle)."""
        us, vs = [], []
        for layer in range(len(image.placements)):
            u_addr, v_addr = image.state_addresses(layer)
            words = await self.cfg.read(np.concatenate([u_addr, v_addr]))
            us.append(words[: len(u_addr)].view(np.int32))
            vs.append(words[len(u_addr):].view(np.int32))
        return tuple(us), tuple(vs)

    async def read_core_registers(self, image: ChainImage, reg: int) -> list[int]:
        words = await self.cfg.read(address(np.arange(image.cores_used), reg))
        return [int(w) for w in words]

    async def write_activations(self, core: int, base: int, drive: np.ndarray) -> None:
        """Write Dense outputs a (int32) for neurons base.. of a core to the activation port."""
        dut = self.dut
        dut.act_valid.value = 1
        for i, word in enumerate(np.asarray(drive, np.int64).tolist()):
            dut.act_addr.value = (core << 8) | (base + i)
            dut.act_data.value = word & 0xFFFFFFFF
            await FallingEdge(dut.clk)
        dut.act_valid.value = 0

    async def run(self, image: ChainImage, spikes: np.ndarray, *, configure: bool = True,
                  checkpoints: Sequence[int] = (), drive: DriveFunction | None = None
                  ) -> RunResult:
        """Run one input train [steps, inputs] through the compiled network.

        ``configure`` loads the whole image (else only a CLEAR, between runs of one network);
        after each step in ``checkpoints`` and after the last step the state of every neuron
        is read back through the configuration port. Layers compiled for the activation port
        get their Dense outputs from ``drive`` before each step, which sees the spikes the RTL
        produced at the step before (a closed loop, as with a crossbar on the chip).
        """
        assert self.monitor is not None and self.trace is not None
        await self.cfg.write(image.writes if configure else image.clear_writes())
        self.monitor.reset()
        self.trace.read_new()
        steps = spikes.shape[0]
        words = aer_words(spikes)
        stops = sorted({s for s in checkpoints if 0 <= s < steps} | {steps - 1})
        readback = {}
        acts = [p for p in image.placements if p.activation]
        trace: list[dict[str, np.ndarray]] = []
        first = 0
        for stop in stops:
            if acts:
                for t in range(first, stop + 1):
                    await self.monitor.wait_steps(t)
                    trace.append(self.trace.read_new())
                    await self._drive_step(image, acts, spikes, trace, t, drive)
                    await self.aer.send(words[t])
            else:
                await self.aer.send(np.concatenate(words[first:stop + 1]))
            await self.monitor.wait_steps(stop + 1)
            readback[stop] = await self.read_state(image)
            first = stop + 1
        trace.append(self.trace.read_new())
        merged = {k: np.concatenate([tr[k] for tr in trace]) for k in TraceReader.FIELDS}
        s, u, v = assemble(image, merged, steps)
        return RunResult(
            s, u, v, list(self.monitor.steps), readback,
            cycles=await self.read_core_registers(image, REG_CYCLES),
            flags=[f & 0x3F for f in await self.read_core_registers(image, REG_STATUS)],
        )

    async def _drive_step(self, image: ChainImage, acts, spikes: np.ndarray,
                          trace: list[dict[str, np.ndarray]], t: int,
                          drive: DriveFunction | None) -> None:
        if drive is None:
            raise ValueError("the image has activation-port layers but no drive function")
        for p in acts:
            if t == 0:
                feeding = np.zeros(image.placements[p.layer].fan_in, np.uint8)
            elif p.layer == 0:
                feeding = spikes[t - 1]
            else:
                q = image.placements[p.layer - 1]
                last = trace[-1]
                mine = (last["core"] == q.core) & (last["layer"] == q.slot) \
                    & (last["step"] == t - 1)
                feeding = np.zeros(q.count, np.uint8)
                feeding[last["neuron"][mine]] = last["spike"][mine]
            await self.write_activations(p.core, p.base, drive(p.layer, t, feeding))


@cocotb.test()
async def run_job(dut) -> None:
    """Entry point of the ``rtl`` backend: runs the job file, writes the result file."""
    job = pickle.loads(Path(os.environ["NEUROTWIN_RTL_JOB"]).read_bytes())
    tb = Testbench(dut, Path(os.environ["NEUROTWIN_RTL_TRACE"]))
    await tb.start()
    image: ChainImage = job["image"]
    spikes: np.ndarray = job["spikes"]
    results = [await tb.run(image, spikes[b], configure=b == 0) for b in range(len(spikes))]
    out = {}
    for i in range(len(image.placements)):
        out[f"spikes_{i}"] = np.stack([r.spikes[i] for r in results])
        out[f"u_{i}"] = np.stack([r.u[i] for r in results])
        out[f"v_{i}"] = np.stack([r.v[i] for r in results])
    last = len(image.placements) - 1
    for b, r in enumerate(results):
        # The output layer's spikes also leave through the AER output: they must agree.
        events = np.zeros_like(r.spikes[last])
        for t, idx in enumerate(r.output_events):
            events[t, idx] = 1
        if not np.array_equal(events, r.spikes[last]):
            raise AssertionError(f"batch {b}: AER output differs from the traced spikes")
    out["cycles"] = np.asarray([r.cycles for r in results])
    out["flags"] = np.asarray([r.flags for r in results])
    np.savez(os.environ["NEUROTWIN_RTL_RESULT"], **out)
