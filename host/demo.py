"""The end-to-end demo: a shipped recording through sensors, the edge networks, the bridge and
into the host twin, with a report folder.

Stages (each a section of ``index.html``; a stage whose parts are not in this tree says so
instead of showing anything):

1. **sensors** — a shipped MIT-BIH excerpt (record 208 by default: normal, ventricular and
   fusion beats), lead MLII delta-encoded at 0.05 mV;
2. **edge over the bridge** — the R-wave detector network (:mod:`host.edge`) on a board at
   ``url`` (default ``virtual://BACKEND``: the serial-port API with an in-process board;
   ``socket://host:port`` for co-simulation or ``neurotwin serve-board``, a device path for an
   FPGA), streamed in 10-s chunks and ingested into the twin's SQLite database as it goes;
   beat classes from the spiking ECG classifier (:mod:`neuro.ecg`) when a trained model file
   ``models/*ecg*.nir`` exists;
3. **PPG** — the SP Cup 2015 excerpt (wrist PPG under running) through the spiking motion
   artefact canceller (:mod:`neuro.canceller_ppg`), with the motion the accelerometer
   reference shows;
4. **twin** — a virtual subject's two weeks of hourly state (:mod:`host.cohort`) plus the
   heart rate measured from the recording as the latest hour; a level-2 forecaster and
   level-3 edit model trained here on a small virtual cohort; the 24-h forecast, a what-if
   (50 mg metoprolol now) and an explanation (captum attributions and counterfactuals);
5. **backends** — one network (``models/demo.nir``) on the same delta spikes on every chosen
   backend, side by side, with bit-exactness against the reference.

Writes ``index.html``, PNG plots, ``summary.json`` and ``twin.db`` to the output folder.
"""

from __future__ import annotations

import html
import itertools
import json
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from neuro import FixedNetwork, FloatLayer, FloatNetwork, quantise, read_network, run
from sensors.encoders import DeltaEncoder
from sensors.events import to_raster

SAMPLE = "mitdb100_10s.npz"
SAMPLE_FS = 360.0
ROOT = Path(__file__).resolve().parent.parent
DEMO_MODEL = ROOT / "models" / "demo.nir"
BACKENDS = ("reference", "lava", "brian2")
# Delta threshold of 0.05 mV in ADC units (200 adu/mV).
DELTA_ADU = 10.0
RECORD = "mitdb:208"
PPG_RECORD = "spc2015:DATA_01_TYPE01"
SUBJECT = "demo"
HISTORY_DAYS = 14
CHUNK_S = 10.0
MOTION_G = 0.1


def build_demo_network(seed: int = 7) -> FixedNetwork:
    """The backend comparison's 4-32-16-4 network (seeded float weights, quantised)."""
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


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _raster(path: Path, record_spikes: list[np.ndarray], title: str) -> None:
    plt = _plt()
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


def compare_backends(out: Path, backends: tuple[str, ...], progress: Any = None
                     ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The demo network on the MIT-BIH 100 spikes on each backend: rows with timings, spike
    counts and bit-exactness against the reference, and a raster PNG per backend."""
    network = read_network(DEMO_MODEL) if DEMO_MODEL.exists() else build_demo_network()
    spikes = sample_spikes()
    rows, reference = [], None
    task = progress.add_task("backends", total=len(backends)) if progress else None
    for name in backends:
        if progress:
            progress.update(task, description=f"backend {name}")
        start = time.perf_counter()
        try:
            record = run(network, spikes, name)
        except Exception as exc:  # a missing simulator must not hide the others
            rows.append({"backend": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
            if progress:
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
            row["spike_agreement_with_reference"] = [
                float((a == b).mean()) for a, b in zip(record.spikes, reference.spikes,
                                                       strict=True)]
            row["bit_exact_with_reference"] = all(
                np.array_equal(x, y) for x, y in
                zip(record.arrays().values(), reference.arrays().values(), strict=True))
        png = out / f"raster_{name}.png"
        _raster(png, [s[0] for s in record.spikes], f"{name}: spikes per layer")
        row["plot"] = png.name
        rows.append(row)
        if progress:
            progress.advance(task)
    return {"network": network.sizes, "steps": int(spikes.shape[0])}, rows


# -- stage 1-2: sensors, the edge over the bridge, ingestion ---------------------------------

def _ecg_classifier() -> tuple[Any, Path] | None:
    """The trained spiking ECG classifier, if this tree has one (models/*ecg*.nir)."""
    files = sorted((ROOT / "models").glob("*ecg*.nir"))
    if not files:
        return None
    try:
        from neuro.ecg import EcgBeatClassifier
    except ImportError:
        return None
    return EcgBeatClassifier.load(files[0]), files[0]


def edge_stage(out: Path, repo: Any, url: str, backend: str, seconds: float, t0: float,
               progress: Any = None) -> dict[str, Any]:
    """Stream the ECG through the detector on the board at ``url``; store beats as they come;
    classify them with the ECG classifier (if any) on ``backend`` in this process."""
    from bridge.client import BoardClient
    from bridge.transport import Link
    from host.cmd_sense import sample_folder
    from host.edge import DELTA_MV, beat_events, beat_samples, heart_rate, rwave_network
    from host.ingest import EdgeIngester
    from neuro.qrs import match_beats
    from sensors.records import load

    recording = load(RECORD, sample_folder()).excerpt(0.0, seconds).select(["MLII"])
    fs = recording.fs
    x = recording.signal
    events = DeltaEncoder(DELTA_MV, fs, origin=x[:, 0])(x)
    spikes = to_raster(events, fs, x.shape[1], 1)
    source = f"edge:{RECORD}"
    last: list[int | None] = [None]

    def decode(outputs: np.ndarray, start: int) -> list:
        samples = beat_samples(outputs[:, 0], fs, start, last[0])
        if samples.size:
            last[0] = int(samples[-1])
        return beat_events(SUBJECT, samples, fs, t0, source)

    task = progress.add_task("edge over the bridge", total=spikes.shape[0]) if progress else None
    link = Link(url)
    started = time.perf_counter()
    try:
        client = BoardClient(link, timeout=120.0)
        board = client.hello()
        client.upload(rwave_network(fs))
        ingester = EdgeIngester(repo, client, decode, chunk_steps=int(CHUNK_S * fs),
                                warmup_steps=0)
        report, _ = ingester.run(
            spikes, progress=(lambda done, total: progress.update(task, completed=done))
            if progress else None)
        status = client.status()
    finally:
        link.close()
    seconds_taken = time.perf_counter() - started
    samples = np.array([e.seq for e in repo.events(SUBJECT, "beat") if e.t < t0 + seconds + 1])
    reference = recording.beats["sample"]
    i_ref, i_det = match_beats(reference, samples, fs)
    classes = _classify(recording, samples, backend)
    result = {
        "record": RECORD, "seconds": seconds, "url": url, "board": board,
        "delta_events": int(events.size), "edge_seconds": round(seconds_taken, 2),
        "beats_detected": int(samples.size), "beats_annotated": int(reference.size),
        "sensitivity": len(i_ref) / max(1, reference.size),
        "positive_predictivity": len(i_det) / max(1, samples.size),
        "heart_rate_bpm": heart_rate(samples, fs),
        "stored": report.stored, "link_counters": status,
        "classes": classes,
    }
    _plot_ecg(out / "ecg.png", recording, events, samples, fs)
    if classes.get("available"):
        _plot_classes(out / "beat_classes.png", recording, samples, classes)
    return result


def _classify(recording: Any, samples: np.ndarray, backend: str) -> dict[str, Any]:
    found = _ecg_classifier()
    if found is None:
        return {"available": False, "why": "no trained ECG classifier in this tree "
                "(models/*ecg*.nir): the beat-class stage is not available yet"}
    model, path = found
    from neuro.ecg import beat_features, lead_signal
    from neuro.qrs import match_beats

    try:
        encoding = model.encoding_
        X, r = beat_features(lead_signal(recording), recording.fs, samples, encoding.before_s,
                             encoding.after_s)
        predicted = np.asarray(model.predict(X, backend))
    except (AttributeError, TypeError, ValueError) as exc:  # an interface still in the works
        return {"available": False, "why": f"the ECG classifier {path.name} could not run "
                f"here: {type(exc).__name__}: {exc}"}
    truth = recording.beats
    i_ref, i_det = match_beats(truth["sample"], r, recording.fs)
    agree = float(np.mean(predicted[i_det] == truth["aami"][i_ref])) if i_det.size else \
        float("nan")
    counts = {str(c): int(np.sum(predicted == c)) for c in np.unique(predicted)}
    return {"available": True, "model": path.name, "predicted": predicted.tolist(),
            "samples": r.tolist(), "counts": counts, "agreement_with_annotations": agree}


def _plot_ecg(path: Path, recording: Any, events: np.ndarray, samples: np.ndarray,
              fs: float) -> None:
    plt = _plt()
    span = slice(0, int(min(10.0, recording.duration_s) * fs))
    t = np.arange(recording.n_samples)[span] / fs
    x = recording.signal[0, span]
    fig, axes = plt.subplots(2, 1, figsize=(10, 4.5), sharex=True)
    axes[0].plot(t, x, lw=0.7, color="k")
    beats = samples[samples < span.stop]
    axes[0].plot(beats / fs, x[beats], "rv", ms=6, label="beats from the edge detector")
    ref = recording.beats["sample"]
    ref = ref[ref < span.stop]
    axes[0].plot(ref / fs, x[ref] + 0.3, "b.", label="annotated beats")
    axes[0].set_ylabel("MLII (mV)")
    axes[0].legend(loc="upper right", fontsize=8)
    et = events["t"] / 1e6
    keep = et < span.stop / fs
    axes[1].scatter(et[keep], events["p"][keep], s=2, marker="|", color="k")
    axes[1].set_yticks([0, 1], ["DOWN", "UP"])
    axes[1].set_xlabel("time (s)")
    axes[1].set_title("delta events (0.05 mV) sent to the edge", fontsize=9)
    fig.suptitle(f"{recording.name}: raw signal, delta events, detected beats (first 10 s)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_classes(path: Path, recording: Any, samples: np.ndarray, classes: dict) -> None:
    plt = _plt()
    fs = recording.fs
    r = np.array(classes["samples"])
    labels = np.array(classes["predicted"])
    fig, ax = plt.subplots(figsize=(10, 3))
    rr = np.diff(r, prepend=r[0]) / fs
    for c, color in zip("NSVFQ", ("tab:green", "tab:orange", "tab:red", "tab:purple", "k"),
                        strict=True):
        mine = labels == c
        if mine.any():
            ax.scatter(r[mine] / fs, rr[mine], s=12, color=color, label=c)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("RR before the beat (s)")
    ax.legend(title="class", fontsize=8)
    ax.set_title(f"beat classes from the spiking classifier ({classes['model']})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- stage 3: PPG ---------------------------------------------------------------------------

def ppg_stage(out: Path, backend: str, seconds: float) -> dict[str, Any]:
    """The spiking canceller on the SP Cup excerpt; motion flagged from the accelerometer."""
    try:
        from neuro.canceller_ppg import PPGFrontEnd, evaluate_recording, ppg_channels
    except ImportError as exc:
        return {"available": False, "why": f"the PPG artefact canceller is not available "
                f"yet ({exc})"}
    from host.cmd_sense import sample_folder
    from sensors.records import load

    recording = load(PPG_RECORD, sample_folder()).excerpt(0.0, max(seconds, 16.0))
    started = time.perf_counter()
    result = evaluate_recording(recording, "snn", backend, keep_signal=True)
    ppg, acc = ppg_channels(recording)
    primary, reference = PPGFrontEnd()(ppg, acc, recording.fs)
    fs = recording.fs
    window = int(2 * fs)
    n = primary.shape[1] // window
    motion_rms = np.sqrt((reference[:, : n * window] ** 2).sum(axis=0)
                         .reshape(n, window).mean(axis=1))
    moving = motion_rms > MOTION_G
    _plot_ppg(out / "ppg.png", primary[0], result.cleaned[0], moving, window, fs)
    return {"available": True, "record": PPG_RECORD, "seconds": recording.duration_s,
            "backend": backend, "hr_mae_bpm": result.mae_bpm, "windows": result.windows,
            "motion_windows": int(moving.sum()), "windows_2s": int(n),
            "canceller_seconds": round(time.perf_counter() - started, 2)}


def _plot_ppg(path: Path, raw: np.ndarray, cleaned: np.ndarray, moving: np.ndarray,
              window: int, fs: float) -> None:
    plt = _plt()
    t = np.arange(raw.size) / fs
    fig, axes = plt.subplots(2, 1, figsize=(10, 4.5), sharex=True)
    for ax in axes:
        for i in np.flatnonzero(moving):
            ax.axvspan(i * window / fs, (i + 1) * window / fs, color="orange", alpha=0.2,
                       lw=0)
    axes[0].plot(t, raw, lw=0.6, color="k")
    axes[0].set_ylabel("PPG1 raw")
    axes[0].set_title("shaded: motion detected (accelerometer rms > 0.1 g per 2 s)",
                      fontsize=9)
    axes[1].plot(t, cleaned, lw=0.6, color="tab:blue")
    axes[1].set_ylabel("PPG1 cleaned")
    axes[1].set_xlabel("time (s)")
    fig.suptitle("wrist PPG under motion: raw and after the spiking canceller")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- stage 4: the twin ----------------------------------------------------------------------

def twin_stage(out: Path, repo: Any, measured_hr: float, quick: bool, progress: Any = None
               ) -> dict[str, Any]:
    """History, models, forecast, what-if and explanation for the demo subject."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return {"available": False, "why": "levels 2-5 need torch (pip install "
                "'torch==2.13.0')"}
    from host.cohort import EPOCH_S, HOUR_S, CohortConfig, cohort, simulate, to_events
    from host.explain import Explainer
    from host.forecast import Level2Forecaster, Series
    from host.interventions import EditModel, intervention_examples
    from host.storage import Event

    task = progress.add_task("twin", total=4) if progress else None

    def step(text: str) -> None:
        if progress:
            progress.update(task, description=text)
            progress.advance(task)

    subjects = cohort(CohortConfig(subjects=6 if quick else 12, days=HISTORY_DAYS + 7,
                                   seed=11))
    me = subjects[0]
    history = simulate(me)
    hours = HISTORY_DAYS * 24
    latest = EPOCH_S + (hours - 1) * HOUR_S
    # The simulated history, but the latest hour's heart rate is the one the edge measured.
    events = [e for e in to_events(history, SUBJECT, "cohort:demo")
              if e.t < latest + HOUR_S and not (e.t == latest and e.name == "hr_bpm"
                                                and np.isfinite(measured_hr))]
    if np.isfinite(measured_hr):
        events.append(Event(SUBJECT, latest, "state", "hr_bpm", measured_hr,
                            f"edge:{RECORD}:hr", 0))
    repo.append(events)
    series = Series.from_repository(repo, SUBJECT)
    step("training level 2")
    train = [Series.from_trajectory(simulate(s)) for s in subjects[1:]]
    level2 = Level2Forecaster(hidden=16, epochs=1 if quick else 3,
                              max_windows=1500 if quick else 5000, random_state=0).fit(train)
    step("training level 3")
    examples, _ = intervention_examples(subjects[1:], 20, random_state=0)
    edit = EditModel(epochs=100 if quick else 300).fit(level2, examples)
    step("forecast, what-if, explanation")
    forecast = level2.forecast(series)
    what_if = edit.what_if(series, [("metoprolol", 0, 50.0)])
    explainer = Explainer(level2, edit)
    attribution = explainer.attribute(series, series.hours)
    counterfactual = explainer.counterfactual(series, series.hours, ("activity",))
    truth = simulate(me).hr[series.hours:series.hours + 24]
    _plot_forecast(out / "forecast.png", series, forecast, truth)
    _plot_whatif(out / "whatif.png", what_if)
    _plot_explanation(out / "explanation.png", attribution, counterfactual)
    step("twin done")
    return {"available": True, "history_hours": int(series.hours),
            "latest_hr_bpm": float(series.hr[-1]), "measured_hr_bpm": measured_hr,
            "forecast_hr_bpm": forecast["hr_bpm"],
            "forecast_mae_vs_simulated_bpm": float(np.mean(np.abs(
                np.array(forecast["hr_bpm"]) - truth))),
            "naive_mae_vs_simulated_bpm": float(np.mean(np.abs(
                np.array(forecast["baseline_hr_bpm"]) - truth))),
            "what_if": {"dose": "50 mg metoprolol now",
                        "mean_effect_bpm": float(np.mean(what_if["effect_hr_bpm"])),
                        "largest_effect_bpm": float(np.min(what_if["effect_hr_bpm"]))},
            "attribution_bpm": attribution["drivers"],
            "counterfactual_without_activity_bpm": float(np.mean(
                counterfactual["effect_hr_bpm"])),
            "training_subjects": len(subjects) - 1}


def _plot_forecast(path: Path, series: Any, forecast: dict, truth: np.ndarray) -> None:
    plt = _plt()
    past = np.arange(-72, 0)
    future = np.arange(24)
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.plot(past, series.hr[-72:], color="k", lw=1, label="stored level-1 state (hourly)")
    ax.plot(-1, series.hr[-1], "ro", label="latest hour: measured from the recording")
    ax.plot(future, forecast["hr_bpm"], color="tab:blue", lw=2, label="level-2 forecast")
    ax.plot(future, forecast["baseline_hr_bpm"], color="gray", ls="--",
            label="seasonal naive (yesterday)")
    ax.plot(future, truth, color="tab:green", lw=1, alpha=0.7, label="simulator (truth)")
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("hours from now")
    ax.set_ylabel("heart rate (bpm)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_whatif(path: Path, what_if: dict) -> None:
    plt = _plt()
    h = np.arange(1, 25)
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.plot(h, what_if["without_hr_bpm"], color="tab:blue", label="forecast as planned")
    ax.plot(h, what_if["hr_bpm"], color="tab:red", label="what if: 50 mg metoprolol now")
    ax.fill_between(h, what_if["without_hr_bpm"], what_if["hr_bpm"], color="tab:red",
                    alpha=0.15)
    ax.set_xlabel("horizon (h)")
    ax.set_ylabel("heart rate (bpm)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_explanation(path: Path, attribution: dict, counterfactual: dict) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    drivers = list(attribution["drivers"])
    values = [attribution["drivers"][d] for d in drivers]
    axes[0].barh(drivers, values, color=["tab:red" if v > 0 else "tab:blue" for v in values])
    axes[0].set_xlabel("attribution to mean 24-h HR (bpm)")
    axes[0].set_title("Integrated Gradients (captum)", fontsize=9)
    for d, series in attribution["per_hour"].items():
        axes[1].plot(np.arange(-len(series), 0), series, label=d, lw=1)
    axes[1].set_xlabel("input hour (0 = now; doses include the next 24 h)")
    axes[1].set_ylabel("attribution (bpm)")
    axes[1].legend(fontsize=7)
    axes[1].set_title(f"without activity in the last 48 h: "
                      f"{np.mean(counterfactual['effect_hr_bpm']):+.1f} bpm", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- the report -----------------------------------------------------------------------------

def _section(title: str, body: str, images: tuple[str, ...] = ()) -> str:
    imgs = "".join(f"<p><img src='{i}' style='max-width:100%'></p>" for i in images)
    return f"<h2>{html.escape(title)}</h2>\n{body}\n{imgs}"


def _unavailable(why: str) -> str:
    return f"<p><b>Not available yet.</b> {html.escape(why)}</p>"


def _report(out: Path, summary: dict[str, Any]) -> None:
    edge, ppg, twin = summary["edge"], summary["ppg"], summary["twin"]
    parts = ["<html><head><meta charset='utf-8'><title>NeuroTwin Edge demo</title></head>"
             "<body style='font-family:sans-serif;max-width:1000px'>",
             "<h1>NeuroTwin Edge demo</h1>",
             f"<p>{html.escape(summary['what'])}</p>"]
    parts.append(_section(
        "1-2. Sensors, edge network over the bridge, ingestion",
        f"<p>{edge['record']}, first {edge['seconds']:g} s, lead MLII: "
        f"{edge['delta_events']} delta events streamed in {CHUNK_S:g}-s chunks to "
        f"<code>{html.escape(edge['url'])}</code> (board {html.escape(edge['board'])}); the "
        f"R-wave detector found {edge['beats_detected']} beats "
        f"({edge['beats_annotated']} annotated: sensitivity {edge['sensitivity']:.1%}, "
        f"positive predictivity {edge['positive_predictivity']:.1%}), heart rate "
        f"{edge['heart_rate_bpm']:.1f} bpm; {edge['stored']} beat events committed to "
        f"<code>twin.db</code>. Link counters: {html.escape(str(edge['link_counters']))}.</p>",
        ("ecg.png",)))
    classes = edge["classes"]
    if classes["available"]:
        parts.append(_section(
            "Beat classes", f"<p>{classes['counts']}; agreement with the annotations "
            f"{classes['agreement_with_annotations']:.1%} ({html.escape(classes['model'])}).</p>",
            ("beat_classes.png",)))
    else:
        parts.append(_section("Beat classes", _unavailable(classes["why"])))
    if ppg["available"]:
        parts.append(_section(
            "3. Motion artefacts in wrist PPG: detected and removed",
            f"<p>{ppg['record']}, {ppg['seconds']:g} s at 125 Hz: spiking canceller "
            f"(backend {ppg['backend']}), heart-rate error after cleaning "
            f"{ppg['hr_mae_bpm']:.1f} bpm over {ppg['windows']} windows; motion in "
            f"{ppg['motion_windows']} of {ppg['windows_2s']} 2-s windows.</p>", ("ppg.png",)))
    else:
        parts.append(_section("3. Motion artefacts in wrist PPG", _unavailable(ppg["why"])))
    if twin["available"]:
        w = twin["what_if"]
        rounded = {k: round(v, 2) for k, v in twin["attribution_bpm"].items()}
        parts.append(_section(
            "4. Host twin: forecast, what-if, explanation",
            f"<p>History: {twin['history_hours']} h of a simulated virtual subject "
            f"(host.cohort); its latest hour is the heart rate measured above "
            f"({twin['measured_hr_bpm']:.1f} bpm). Models trained in this run on "
            f"{twin['training_subjects']} other virtual subjects. 24-h forecast MAE against "
            f"the simulator: {twin['forecast_mae_vs_simulated_bpm']:.1f} bpm (seasonal naive "
            f"{twin['naive_mae_vs_simulated_bpm']:.1f} bpm; the latest hour is the real "
            f"recording's, so the simulator is only a guide here). What if "
            f"{w['dose']}: mean effect {w['mean_effect_bpm']:+.1f} bpm, largest "
            f"{w['largest_effect_bpm']:+.1f} bpm. Attributions (bpm): "
            f"{html.escape(json.dumps(rounded))}.</p>",
            ("forecast.png", "whatif.png", "explanation.png")))
    else:
        parts.append(_section("4. Host twin", _unavailable(twin["why"])))
    rows = summary["results"]
    table = ["<table border=1 cellpadding=4><tr><th>backend</th><th>seconds</th>"
             "<th>spikes per layer</th><th>bit-exact vs reference</th></tr>"]
    for r in rows:
        table.append(f"<tr><td>{r['backend']}</td><td>{r.get('seconds', '-')}</td>"
                     f"<td>{html.escape(str(r.get('spikes_per_layer', r.get('error'))))}</td>"
                     f"<td>{r.get('bit_exact_with_reference', '-')}</td></tr>")
    table.append("</table>")
    parts.append(_section(
        "5. One network, every backend",
        f"<p>Network {summary['network']}; input: MIT-BIH record 100, first 10 s, "
        "delta-encoded (UP/DOWN per lead).</p>" + "".join(table),
        tuple(r["plot"] for r in rows if "plot" in r)))
    parts.append("</body></html>")
    (out / "index.html").write_text("\n".join(parts))


def run_demo(out: Path, backends: tuple[str, ...] = BACKENDS, backend: str = "reference",
             url: str | None = None, seconds: float = 60.0, quick: bool = False) -> dict:
    """Run the demo, write the report to ``out`` and return the summary."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from host.cohort import EPOCH_S, HOUR_S
    from host.storage import open_repository

    out.mkdir(parents=True, exist_ok=True)
    db = out / "twin.db"
    for stale in (db, out / "twin.db-wal", out / "twin.db-shm"):
        stale.unlink(missing_ok=True)
    url = url or f"virtual://{backend}"
    t0 = EPOCH_S + (HISTORY_DAYS * 24 - 1) * HOUR_S
    started = time.perf_counter()
    with open_repository(db) as repo, Progress() as progress:
        repo.set_consent(SUBJECT, True)
        edge = edge_stage(out, repo, url, backend, seconds, t0, progress)
        ppg = ppg_stage(out, backend, seconds)
        twin = twin_stage(out, repo, edge["heart_rate_bpm"], quick, progress)
        meta, rows = compare_backends(out, backends, progress)
    summary = {
        "what": f"{RECORD} through sensors, the edge (backend {backend}) over the bridge "
                f"({url}) into the host twin; wall time {time.perf_counter() - started:.0f} s.",
        "edge": edge, "ppg": ppg, "twin": twin, **meta, "results": rows,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    _report(out, summary)
    console = Console()
    table = Table(title="NeuroTwin Edge demo")
    table.add_column("stage")
    table.add_column("result")
    table.add_row("edge over the bridge",
                  f"{edge['beats_detected']} beats ({edge['sensitivity']:.0%} of annotated), "
                  f"{edge['heart_rate_bpm']:.0f} bpm, {edge['stored']} events stored")
    table.add_row("beat classes", str(edge["classes"].get("counts", "not available yet")))
    table.add_row("PPG canceller", f"HR error {ppg['hr_mae_bpm']:.1f} bpm" if ppg["available"]
                  else "not available yet")
    table.add_row("twin", f"24-h forecast, what-if {twin['what_if']['mean_effect_bpm']:+.1f} "
                  "bpm" if twin["available"] else twin["why"])
    for r in rows:
        table.add_row(f"backend {r['backend']}", r.get("error", f"{r['seconds']} s, bit-exact "
                      f"{r.get('bit_exact_with_reference', '-')}"))
    console.print(table)
    return summary
