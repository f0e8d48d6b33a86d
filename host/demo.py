"""The end-to-end demo: a sample ECG, spike-encoded, through one network on every backend.

Writes a report folder with ``index.html``, a spike-raster PNG per backend and
``summary.json``, and prints a side-by-side table.
"""

from __future__ import annotations

import itertools
import json
import time
from importlib import resources
from pathlib import Path

import numpy as np

from neuro import FixedNetwork, FloatLayer, FloatNetwork, quantise, read_network, run
from sensors.encoders import DeltaEncoder
from sensors.events import to_raster

SAMPLE = "mitdb100_10s.npz"
SAMPLE_FS = 360.0
DEMO_MODEL = Path(__file__).resolve().parent.parent / "models" / "demo.nir"
BACKENDS = ("reference", "lava", "brian2")
# Delta threshold of 0.05 mV in ADC units (200 adu/mV).
DELTA_ADU = 10.0


def build_demo_network(seed: int = 7) -> FixedNetwork:
    """The demo's 4-32-16-4 network (seeded float weights, quantised)."""
    rng = np.random.default_rng(seed)
    sizes = (4, 32, 16, 4)
    layers = tuple(
        FloatLayer(
            weights=rng.normal(0.0, 1.0, size=(n_out, n_in)) + 0.3,
            du=0.2,
            dv=0.1,
            vth=1.0,
        )
        for n_in, n_out in itertools.pairwise(sizes)
    )
    return quantise(FloatNetwork(layers, dt=1 / 360))


def sample_spikes() -> np.ndarray:
    """The shipped MIT-BIH 100 excerpt as delta spikes [steps, 4] (UP/DOWN per lead): the
    encoder starts at each lead's first sample; a step of several thresholds is one spike."""
    with resources.files("host.data").joinpath(SAMPLE).open("rb") as f, np.load(f) as d:
        adu = d["adu"].astype(np.float64)
    events = DeltaEncoder(DELTA_ADU, SAMPLE_FS, origin=adu[:, 0])(adu)
    return to_raster(events, SAMPLE_FS, adu.shape[1], adu.shape[0])


def _raster(path: Path, record_spikes: list[np.ndarray], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(record_spikes), 1, figsize=(9, 1.6 * len(record_spikes)),
                             sharex=True)
    for i, (ax, s) in enumerate(zip(np.atleast_1d(axes), record_spikes, strict=True)):
        t, n = np.nonzero(s)
        ax.scatter(t, n, s=1, marker="|", color="k")
        ax.set_ylabel(f"layer {i}")
    np.atleast_1d(axes)[-1].set_xlabel("step")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_demo(out: Path, backends: tuple[str, ...] = BACKENDS) -> dict:
    """Run the demo, write the report to ``out`` and return the summary."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    out.mkdir(parents=True, exist_ok=True)
    network = read_network(DEMO_MODEL) if DEMO_MODEL.exists() else build_demo_network()
    spikes = sample_spikes()
    rows, reference = [], None
    with Progress() as progress:
        task = progress.add_task("backends", total=len(backends))
        for name in backends:
            progress.update(task, description=f"running {name}")
            start = time.perf_counter()
            try:
                record = run(network, spikes, name)
            except Exception as exc:  # a missing simulator must not hide the others
                rows.append({"backend": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
                progress.advance(task)
                continue
            seconds = time.perf_counter() - start
            reference = record if name == "reference" else reference
            row = {
                "backend": name,
                "seconds": round(seconds, 3),
                "output_spikes": int(record.output.sum()),
                "spikes_per_layer": [int(s.sum()) for s in record.spikes],
            }
            if reference is not None:
                agree = [float((a == b).mean()) for a, b in
                         zip(record.spikes, reference.spikes, strict=True)]
                row["spike_agreement_with_reference"] = agree
                row["bit_exact_with_reference"] = all(
                    np.array_equal(x, y) for x, y in
                    zip(record.arrays().values(), reference.arrays().values(), strict=True)
                )
            png = out / f"raster_{name}.png"
            _raster(png, [s[0] for s in record.spikes], f"{name}: spikes per layer")
            row["plot"] = png.name
            rows.append(row)
            progress.advance(task)
    summary = {"network": network.sizes, "steps": int(spikes.shape[0]), "results": rows}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    table = Table(title=f"network {network.sizes}, {spikes.shape[0]} steps of MIT-BIH 100")
    for col in ("backend", "seconds", "spikes per layer", "bit-exact vs reference"):
        table.add_column(col)
    for r in rows:
        if "error" in r:
            table.add_row(r["backend"], "-", r["error"], "-")
        else:
            table.add_row(r["backend"], str(r["seconds"]), str(r["spikes_per_layer"]),
                          str(r.get("bit_exact_with_reference", "-")))
    Console().print(table)
    html = ["<html><head><title>NeuroTwin Edge demo</title></head><body>",
            "<h1>NeuroTwin Edge demo</h1>",
            f"<p>Network {network.sizes}; input: MIT-BIH record 100, first 10 s, "
            "delta-encoded (UP/DOWN per lead).</p><table border=1><tr><th>backend</th>"
            "<th>seconds</th><th>spikes per layer</th><th>bit-exact</th></tr>"]
    for r in rows:
        html.append(f"<tr><td>{r['backend']}</td><td>{r.get('seconds', '-')}</td>"
                    f"<td>{r.get('spikes_per_layer', r.get('error'))}</td>"
                    f"<td>{r.get('bit_exact_with_reference', '-')}</td></tr>")
    html.append("</table>")
    html += [f"<h2>{r['backend']}</h2><img src='{r['plot']}'>" for r in rows if "plot" in r]
    html.append("</body></html>")
    (out / "index.html").write_text("\n".join(html))
    return summary
