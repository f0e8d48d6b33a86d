"""The ``neurotwin`` command: a thin shell over the packages' Python APIs."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from bridge.client import BoardError
from bridge.transport import LinkError
from neuro import InputError, NetworkError, read_network, run
from neuro.backends import available
from neuro.record import load_spikes

# Modules that add subcommands: each has ``register(subparsers)``, which adds its parser and
# sets ``func`` to a handler taking the parsed arguments and returning an exit status.
_SUBCOMMANDS: list[str] = [
    "host.cmd_board",
    "host.cmd_sense",
    "host.cmd_twin",
    "host.cmd_ppg",
    "host.cmd_ecg",
]


def _cmd_run(args: argparse.Namespace) -> int:
    network = read_network(args.model)
    spikes = load_spikes(args.input)
    # Backend-specific options pass through only when given, so each backend sees its own.
    options = {
        key: value
        for key, value in (("lava_python", args.lava_python), ("sim", args.sim),
                           ("device", args.device))
        if value is not None
    }
    record = run(network, spikes, args.backend, **options)
    record.save(args.out)
    print(f"{args.backend}: {int(record.output.sum())} output spikes -> {args.out}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from host.demo import BACKENDS, run_demo

    summary = run_demo(Path(args.out), tuple(args.backends or BACKENDS), args.backend, args.url,
                       args.seconds, args.quick)
    print(f"report: {Path(args.out) / 'index.html'}")
    return 1 if any("error" in r and r["backend"] == "reference" for r in summary["results"]) \
        else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurotwin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run a network file on one backend")
    p.add_argument("--model", required=True, help="network file (NIR HDF5)")
    p.add_argument("--input", required=True, help=".npz with integer 'spikes' [steps, inputs] "
                   "or [batch, steps, inputs]")
    p.add_argument("--backend", default="reference", choices=available())
    p.add_argument("--out", required=True, help="output .npz")
    p.add_argument("--lava-python", help="lava: Python 3.10 with lava-nc (default: "
                   "$NEUROTWIN_LAVA_PYTHON, else an environment made on first use)")
    p.add_argument("--sim", help="rtl: HDL simulator (icarus or verilator)")
    p.add_argument("--device", help="crossbar: device preset")
    p.set_defaults(func=_cmd_run)
    d = sub.add_parser("demo", help="run the end-to-end demo and write a report")
    d.add_argument("--out", default="neurotwin-demo", help="report folder")
    d.add_argument("--backends", nargs="+", choices=available(),
                   help="backends of the side-by-side comparison section")
    d.add_argument("--backend", default="reference", choices=available(),
                   help="backend of the edge networks")
    d.add_argument("--url", help="board URL (default virtual://BACKEND; socket://host:port "
                   "for co-simulation or serve-board, a serial device for a board)")
    d.add_argument("--seconds", type=float, default=60.0, help="seconds of the recording")
    d.add_argument("--quick", action="store_true", help="smaller twin training (tests)")
    d.set_defaults(func=_cmd_demo)
    for module in _SUBCOMMANDS:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (NetworkError, InputError, LinkError, BoardError, TimeoutError) as exc:
        print(f"neurotwin: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
