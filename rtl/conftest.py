"""Running the cocotb benches in rtl/ from pytest.

Each ``rtl/<block>/test_<block>.py`` holds ``@cocotb.test()`` coroutines and plain pytest
functions that ask the :func:`bench` fixture to build an HDL top (cached by
:func:`neuro.backends.rtl_sim.build`) and run one coroutine in the simulator. ``SIM`` picks the
simulator (``icarus``, the default, or ``verilator``); ``WAVES=1`` records an FST waveform in
the run's folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from neuro.backends import rtl_sim


@dataclass
class Bench:
    """Builds and runs the cocotb coroutines of one bench module."""

    module: str
    sim: str
    waves: bool
    root: Path

    def run(self, top: str, testcase: str | None, parameters: Mapping[str, int], *,
            env: Mapping[str, str] | None = None, waves: bool | None = None,
            plusargs: tuple[str, ...] = (), name: str | None = None,
            check: bool = True) -> bool:
        """Run ``testcase`` (all coroutines if None) on ``top`` in ``root/name``.

        Returns whether every coroutine passed; with ``check`` a failure fails the test
        with the tail of the simulator log.
        """
        waves = self.waves if waves is None else waves
        work = self.root / (name or testcase or self.module)
        build_dir = rtl_sim.build(top, parameters, self.sim, waves)
        tests, failed = rtl_sim.run_cocotb(
            top, build_dir, self.module, self.sim, testcase=testcase, work_dir=work,
            env=env, waves=waves, plusargs=plusargs)
        passed = bool(tests) and not failed
        if check and not passed:
            log = "\n".join((work / "sim.log").read_text(errors="replace").splitlines()[-60:])
            pytest.fail(f"{testcase} failed on {self.sim} (folder {work}):\n{log}",
                        pytrace=False)
        return passed

    def waveform(self, top: str, work: Path) -> Path:
        """The FST file a run with waves left in ``work``."""
        return rtl_sim.waveform(work, top, self.sim)


@pytest.fixture
def bench(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
          tmp_path: Path) -> Bench:
    """A :class:`Bench` for the requesting test module, on ``$SIM``."""
    # The simulator imports the bench module by name; cocotb's runner passes sys.path on.
    monkeypatch.syspath_prepend(str(request.path.parent))
    sim = os.environ.get("SIM", "icarus")
    return Bench(request.path.stem, sim, os.environ.get("WAVES", "0") == "1", tmp_path)
