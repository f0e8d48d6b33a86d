"""lif_datapath, the neuron update, against the reference at the limits of the contract.

Each case is a one-layer network (per-neuron bias, layer decays and threshold) and, per step
and neuron, a Dense output a on the activation input (added to u as a << 6) or a sum of weight
mantissas. The bench feeds the datapath its own previous outputs as state, one neuron per
clock, and compares every u, v and spike with ``integrate`` of neuro's reference simulator on
the contract's drive (``fixed_point``'s shift and wraps); the bench computes none itself.
"""

from __future__ import annotations

import cocotb
import numpy as np
import pytest
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from neuro import fixed_point as fp
from neuro.backends.reference import integrate
from neuro.network import FixedLayer

ACC_W = 16
U_LIMIT = fp.STATE_LIMIT  # 2**23
PARAMETERS = {"ACC_W": ACC_W, "TAG_W": 16}


class DatapathDriver:
    """Applies one step of neuron vectors and collects the results (by tag)."""

    def __init__(self, dut) -> None:
        self.dut = dut

    async def start(self) -> None:
        dut = self.dut
        Clock(dut.clk, 10, unit="ns", impl="gpi").start()
        dut.in_valid.value = 0
        dut.rst.value = 1
        await FallingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.rst.value = 0

    async def step(self, layer: FixedLayer, u: np.ndarray, v: np.ndarray, *,
                   act: np.ndarray | None = None, acc: np.ndarray | None = None
                   ) -> dict[str, np.ndarray]:
        """Update every neuron once from state (u, v) with drive ``act`` or summed ``acc``."""
        dut = self.dut
        n = len(u)
        out = {k: np.zeros(n, np.int64) for k in ("u", "v", "spike", "u_wrap", "v_sat", "i32")}
        dut.in_act_mode.value = int(act is not None)
        dut.in_wexp.value = layer.weight_exp & 0xF
        dut.in_du.value = layer.du
        dut.in_dv.value = layer.dv
        dut.in_vth.value = layer.vth
        issued = received = 0
        while received < n:
            if issued < n:
                i = issued
                dut.in_valid.value = 1
                dut.in_tag.value = i
                dut.in_u.value = int(u[i]) & 0xFFFFFFFF
                dut.in_v.value = int(v[i]) & 0xFFFFFF
                dut.in_act.value = int(act[i]) & 0xFFFFFFFF if act is not None else 0
                dut.in_acc.value = int(acc[i]) & 0xFFFF if acc is not None else 0
                dut.in_bias_mant.value = int(layer.bias_mant[i]) & 0x1FFF
                dut.in_bias_exp.value = int(layer.bias_exp[i])
                issued += 1
            else:
                dut.in_valid.value = 0
            if int(dut.out_valid.value):
                j = dut.out_tag.value.to_unsigned()
                out["u"][j] = dut.out_u.value.to_signed()
                out["v"][j] = dut.out_v.value.to_signed()
                out["spike"][j] = int(dut.out_spike.value)
                out["u_wrap"][j] = int(dut.out_u_wrap.value)
                out["v_sat"][j] = int(dut.out_v_sat.value)
                out["i32"][j] = int(dut.out_i32_wrap.value)
                received += 1
            await FallingEdge(dut.clk)
        dut.in_valid.value = 0
        return out

    async def run(self, layer: FixedLayer, *, act: np.ndarray | None = None,
                  acc: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Run [steps, neurons] of Dense outputs (activation input) or summed mantissas."""
        inputs = act if act is not None else acc
        steps, n = inputs.shape
        u = np.zeros(n, np.int64)
        v = np.zeros(n, np.int64)
        trace: dict[str, list[np.ndarray]] = {}
        for t in range(steps):
            if act is not None:
                out = await self.step(layer, u, v, act=act[t])
            else:
                out = await self.step(layer, u, v, acc=acc[t])
            u, v = out["u"], out["v"]
            for key, value in out.items():
                trace.setdefault(key, []).append(value)
        return {key: np.stack(values) for key, values in trace.items()}


def drive_of(act: np.ndarray) -> np.ndarray:
    """The contract's input to u for Dense outputs a: a << 6 in an int32 word."""
    return fp.wrap_int32(np.asarray(act, np.float64) * 2.0**fp.ACT_SHIFT)


def expect(layer: FixedLayer, drive: np.ndarray) -> dict[str, np.ndarray]:
    """The reference's spikes, u and v [steps, neurons] for a drive [steps, neurons]."""
    s, u, v = integrate(layer, drive[None].astype(np.float64))
    return {"spike": s[0].astype(np.int64), "u": u[0].astype(np.int64),
            "v": v[0].astype(np.int64)}


def assert_matches(got: dict[str, np.ndarray], want: dict[str, np.ndarray], case: str) -> None:
    for key in ("u", "v", "spike"):
        bad = np.argwhere(got[key] != want[key])
        assert not len(bad), (
            f"{case}: {key} differs at [step, neuron] {tuple(bad[0])}: RTL "
            f"{got[key][tuple(bad[0])]}, reference {want[key][tuple(bad[0])]}")


def layer_of(n: int, **kw) -> FixedLayer:
    """A layer of n neurons; the weights are irrelevant to the datapath."""
    return FixedLayer(np.zeros((n, 1), int), **kw)


async def started(dut) -> DatapathDriver:
    """A driver on a clocked, reset datapath (one per test: one clock per test)."""
    driver = DatapathDriver(dut)
    await driver.start()
    return driver


async def check_act(driver: DatapathDriver, layer: FixedLayer, act: np.ndarray, case: str
                    ) -> dict[str, np.ndarray]:
    got = await driver.run(layer, act=act)
    assert_matches(got, expect(layer, drive_of(act)), case)
    return got


@cocotb.test()
async def voltage_saturates_both_ways(dut):
    # dv = 0 integrates; the inputs push v far past +-(2**23 - 1) within a few steps. A
    # positive v above the threshold fires, so the positive neurons also show the reset.
    steps, n = 12, 4
    act = np.zeros((steps, n))
    act[:, 0] = 2**16
    act[:, 1] = -(2**16)
    act[:, 2] = 2**17
    act[:, 3] = -(2**17) + 1
    layer = layer_of(n, du=4095, dv=0, vth=fp.VTH_MAX, bias_mant=[0, -4096, 4095, -4096],
                     bias_exp=[0, 7, 7, 7])
    got = await check_act(await started(dut), layer, act, "saturation")
    at_limit = np.abs(expect(layer, drive_of(act))["v"]) == fp.V_MAX
    assert at_limit.any() and got["v_sat"][at_limit].all()
    assert got["spike"][:, 2].any(), "a saturated-high voltage is above every threshold"


@cocotb.test()
async def decays_at_zero_and_full_scale(dut):
    rng = np.random.default_rng(1)
    driver = await started(dut)
    pairs = [(du, dv) for du in (0, 1, 4094, 4095) for dv in (0, 1, 4094, 4095)]
    for du, dv in pairs:
        layer = layer_of(6, du=du, dv=dv, vth=2000, bias_mant=rng.integers(-50, 50, 6))
        act = rng.integers(-(2**10), 2**10, size=(25, 6)) * (rng.random((25, 6)) < 0.5)
        await check_act(driver, layer, act, f"du={du} dv={dv}")


@cocotb.test()
async def negative_currents_decay_toward_zero(dut):
    # Products of negative states are truncated toward zero, not floored: a negative u decays
    # toward zero by at least one unit a step and never overshoots it.
    act = np.zeros((30, 5))
    act[0] = [-1, -64, -65, -(2**14) - 3, -(2**17) + 1]
    layer = layer_of(5, du=1, dv=7, vth=fp.VTH_MAX)
    got = await check_act(await started(dut), layer, act, "negative currents")
    assert (got["u"] <= 0).all() and (np.diff(got["u"], axis=0) > 0).all()


@cocotb.test()
async def threshold_is_strict(dut):
    # One step from rest: v = (a << 6) + bias. With a = vth and biases -1, 0, 1 the neurons
    # sit at vth << 6 - 1, vth << 6 and vth << 6 + 1, for the smallest and largest thresholds.
    driver = await started(dut)
    for vth in (0, 1, 4095, fp.VTH_MAX):
        act = np.array([[vth] * 3, [0] * 3])
        layer = layer_of(3, du=4095, dv=4095, vth=vth, bias_mant=[-1, 0, 1])
        got = await check_act(driver, layer, act, f"vth={vth}")
        assert got["spike"][0].tolist() == [0, 0, 1]


@cocotb.test()
async def current_wraps_with_lavas_asymmetric_edge(dut):
    # du = 4095 clears u each step, so u = the step's a << 6 before the 24-bit wrap; the edges
    # are one Dense unit (64) either side of +-2**23 and 2**24.
    unit = 2**fp.ACT_SHIFT
    edges = [U_LIMIT - unit, U_LIMIT, U_LIMIT + unit, -U_LIMIT + unit, -U_LIMIT,
             -U_LIMIT - unit, 2**24 - unit, -(2**24) + unit]
    act = np.array([edges, edges[::-1]]) // unit
    layer = layer_of(len(edges), du=4095, dv=4095, vth=fp.VTH_MAX)
    got = await check_act(await started(dut), layer, act, "current wrap")
    assert got["u"][0, :3].tolist() == [U_LIMIT - unit, U_LIMIT, -U_LIMIT + unit]
    wrapped = drive_of(act) != got["u"]
    assert (got["u_wrap"].astype(bool) == wrapped).all()


@cocotb.test()
async def int32_words_wrap_beyond_two_to_the_24(dut):
    # Dense outputs whose a << 6 reaches (or passes) 2**31, with slow decays, take u and v
    # sums past the 32-bit words.
    act = np.array([[2**25 - 1, -(2**25), 2**24, -(2**24) - 7, 2**18 + 5, 2**26 + 3]] * 6)
    layer = layer_of(6, du=0, dv=0, vth=fp.VTH_MAX, bias_mant=4095, bias_exp=7)
    got = await check_act(await started(dut), layer, act, "int32 wrap")
    assert got["i32"].any()


@cocotb.test()
async def dense_input_from_summed_mantissas(dut):
    # Sums of mantissas over a fan-in of 256 reach [-32768, 32512]; every weight exponent.
    sums = np.array([-32768, -32767, -129, -128, -1, 0, 1, 127, 128, 32512, 12345, -9999])
    driver = await started(dut)
    for wexp in range(fp.WEIGHT_EXP_MIN, fp.WEIGHT_EXP_MAX + 1):
        layer = layer_of(len(sums), weight_exp=wexp, du=4095, dv=4095, vth=fp.VTH_MAX)
        acc = np.stack([sums, np.clip(-sums, -32768, 32512)])
        got = await driver.run(layer, acc=acc)
        drive = fp.synaptic_input(acc.astype(np.float64), wexp)
        assert_matches(got, expect(layer, drive), f"weight_exp={wexp}")


@cocotb.test()
async def bias_extremes(dut):
    layer = layer_of(4, du=100, dv=100, vth=fp.VTH_MAX, bias_mant=[-4096, 4095, -4096, 4095],
                     bias_exp=[0, 0, 7, 7])
    await check_act(await started(dut), layer, np.zeros((40, 4)), "bias extremes")


@cocotb.test()
async def random_parameters_and_drives(dut):
    rng = np.random.default_rng(2024)
    driver = await started(dut)
    for case in range(12):
        n = 8
        layer = layer_of(
            n, du=int(rng.integers(0, 4096)), dv=int(rng.integers(0, 4096)),
            vth=int(rng.integers(0, 2**17)), bias_mant=rng.integers(-4096, 4096, n),
            bias_exp=rng.integers(0, 8, n))
        scale = 2 ** int(rng.integers(2, 27))
        act = rng.integers(-scale, scale, size=(20, n)) * (rng.random((20, n)) < 0.6)
        got = await driver.run(layer, act=act)
        assert_matches(got, expect(layer, drive_of(act)), f"random case {case}")


@pytest.mark.rtl
def test_datapath_matches_reference_at_the_limits(bench):
    bench.run("lif_datapath", None, PARAMETERS)
