"""Monte Carlo sweeps of a network on the crossbar over device instances and parameters, on Dask.

Each task programs a fresh device instance (its own seed) with one combination of the swept
parameters, runs the network and scores it. Tasks run on a Dask ``distributed`` cluster: a
local one made for the call by default, or an existing one when given its scheduler address,
so that moving a sweep from one machine to many changes one argument::

    sweep(net, spikes, labels, {"variability": [0, 1, 2, 4]})                  # local cluster
    sweep(net, spikes, labels, {"variability": [0, 1, 2, 4]},
          scheduler="tcp://10.0.0.5:8786")                                      # a cluster

Swept parameters: ``variability`` (a factor on every random spread, see
:func:`~neuro.crossbar_presets.scale_variability`), ``t_inference`` (s from programming to the
first step: drift time), any numeric :class:`~neuro.crossbar_presets.DevicePreset` field, or
``periphery.<field>``. A rich progress bar follows the tasks; :meth:`SweepResult.plot` draws
mean and spread against the first parameter.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuro.crossbar import CrossbarNetwork
from neuro.crossbar_presets import (
    DevicePreset,
    Periphery,
    PresetError,
    get_preset,
    scale_variability,
)
from neuro.network import FixedNetwork, FloatLayer, FloatNetwork
from neuro.quantise import quantise

_SPECIAL = ("variability", "t_inference")


def _apply(preset: DevicePreset, point: Mapping[str, Any]) -> DevicePreset:
    """The preset with one sweep point's values."""
    changes: dict[str, Any] = {}
    periphery: dict[str, Any] = {}
    for key, value in point.items():
        if key in _SPECIAL:
            continue
        if key.startswith("periphery."):
            periphery[key.removeprefix("periphery.")] = value
        else:
            changes[key] = value
    out = dataclasses.replace(
        preset, periphery=dataclasses.replace(preset.periphery, **periphery), **changes)
    if "variability" in point:
        out = scale_variability(out, float(point["variability"]))
    return out


def _check_parameters(preset: DevicePreset, vary: Mapping[str, Sequence[Any]]) -> None:
    device = {f.name for f in dataclasses.fields(DevicePreset)} - {"name", "periphery",
                                                                   "citations"}
    periphery = {f"periphery.{f.name}" for f in dataclasses.fields(Periphery)}
    for key, values in vary.items():
        if key not in device | periphery | set(_SPECIAL):
            raise PresetError(f"vary: unknown parameter {key!r}; sweep {_SPECIAL}, a device "
                              f"field ({', '.join(sorted(device))}) or periphery.<field>")
        if len(values) == 0:
            raise PresetError(f"vary: {key} needs at least one value")
    for values in itertools.product(*vary.values()):
        _apply(preset, dict(zip(vary, values, strict=True)))  # refuses bad values up front


def accuracy(output_spikes: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of streams whose most active output neuron is their label."""
    return float(np.mean(output_spikes.sum(axis=1).argmax(axis=1) == labels))


def evaluate(network: FixedNetwork, spikes: np.ndarray, labels: np.ndarray,
             preset: DevicePreset, point: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """One Monte Carlo task: program a device instance, run, score (runs on a worker)."""
    device = _apply(preset, point)
    xbar = CrossbarNetwork(network, device, seed=seed)
    t_start = point.get("t_inference")
    result = xbar.run(spikes, t_start=None if t_start is None else float(t_start))
    try:
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):
        worker = "local"
    return {
        **point,
        "seed": seed,
        "accuracy": accuracy(result.record.spikes[-1], labels),
        "energy_per_inference": result.estimate.energy_per_inference,
        "worker": worker,
    }


@dataclass
class SweepResult:
    """What a sweep measured.

    Attributes:
        rows: one dict per task: the point's parameters, ``instance``, ``seed``,
            ``accuracy``, ``energy_per_inference`` (J) and the ``worker`` that ran it.
        parameters: the swept parameter names, in order.
        scheduler: address of the scheduler that ran the tasks.
    """

    rows: list[dict[str, Any]]
    parameters: list[str]
    scheduler: str

    @property
    def workers(self) -> set[str]:
        """Addresses of the workers that ran tasks."""
        return {r["worker"] for r in self.rows}

    def summary(self, metric: str = "accuracy") -> list[dict[str, Any]]:
        """Mean and standard deviation of ``metric`` over instances, per point."""
        out = []
        keys = sorted({tuple(r[p] for p in self.parameters) for r in self.rows})
        for key in keys:
            values = [r[metric] for r in self.rows
                      if tuple(r[p] for p in self.parameters) == key]
            out.append({**dict(zip(self.parameters, key, strict=True)),
                        "mean": float(np.mean(values)), "std": float(np.std(values)),
                        "instances": len(values)})
        return out

    def plot(self, path: str | Path, metric: str = "accuracy", title: str = "") -> Path:
        """Mean +- sd of ``metric`` against the first parameter (a line per second one)."""
        from neuro.crossbar_plots import plot_sweep

        group = self.parameters[1] if len(self.parameters) > 1 else None
        return plot_sweep(self.rows, self.parameters[0], path, metric, group, title)


def sweep(
    network: FixedNetwork,
    spikes: np.ndarray,
    labels: np.ndarray,
    vary: Mapping[str, Sequence[Any]],
    device: Any = "hfox",
    instances: int = 8,
    seed: int = 0,
    scheduler: str | Any | None = None,
    n_workers: int = 2,
    processes: bool = True,
    progress: bool = True,
    plot: str | Path | None = None,
) -> SweepResult:
    """Run ``instances`` device instances at every combination of ``vary`` on Dask.

    Args:
        network, spikes, labels: the network, uint8 spikes [streams, steps, inputs] and the
            class of each stream (scored by :func:`accuracy`).
        vary: parameter name -> values (see the module docstring).
        device: base preset (name, JSON path, dict or DevicePreset).
        instances: device instances per point, each with its own seed.
        seed: root seed; task seeds derive from it, the point and the instance.
        scheduler: an existing cluster's scheduler address (or a ``distributed.Client``);
            None starts a local cluster for the call and closes it after.
        n_workers, processes: size and kind of the local cluster.
        progress: show a rich progress bar.
        plot: write the plot of the first parameter to this PNG.
    """
    from distributed import Client, LocalCluster, as_completed

    preset = get_preset(device)
    if instances < 1:
        raise PresetError(f"instances: must be >= 1, got {instances}")
    if not vary:
        raise PresetError("vary: give at least one parameter to sweep")
    _check_parameters(preset, vary)
    points = [dict(zip(vary, values, strict=True)) for values in itertools.product(*vary.values())]
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes,
                               dashboard_address=None)
        client = Client(cluster)
    elif isinstance(scheduler, str):
        client = Client(scheduler)
    else:
        client = scheduler
    try:
        data = client.scatter([network, np.asarray(spikes, np.uint8), np.asarray(labels)],
                              broadcast=True)
        futures = []
        for i, point in enumerate(points):
            for k in range(instances):
                task_seed = int(np.random.SeedSequence([seed, i, k]).generate_state(1)[0])
                future = client.submit(evaluate, *data, preset, point, task_seed, pure=False)
                futures.append((future, k))
        instance_of = {f.key: k for f, k in futures}
        rows = []
        done = as_completed([f for f, _ in futures])
        if progress:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task(f"crossbar sweep ({preset.name})", total=len(futures))
                for future in done:
                    rows.append({**future.result(), "instance": instance_of[future.key]})
                    bar.advance(task)
        else:
            rows = [{**f.result(), "instance": instance_of[f.key]} for f in done]
        address = client.scheduler_info()["address"]
    finally:
        if scheduler is None or isinstance(scheduler, str):
            client.close()
        if cluster is not None:
            cluster.close()
    rows.sort(key=lambda r: (*(r[p] for p in vary), r["instance"]))
    result = SweepResult(rows, list(vary), address)
    if plot is not None:
        result.plot(plot, title=f"{preset.name}: {len(points)} points x {instances} instances")
    return result


@dataclass(frozen=True)
class RateTask:
    """A small trained classification task: rate-coded spikes of ``n_classes`` patterns.

    Attributes:
        network: one Dense + CUBA-LIF layer whose most active neuron names the class.
        spikes: held-out test streams, uint8 [samples, steps, inputs].
        labels: their classes.
    """

    network: FixedNetwork
    spikes: np.ndarray
    labels: np.ndarray


def rate_task(n_classes: int = 4, n_inputs: int = 32, steps: int = 80, samples: int = 80,
              random_state: int = 0) -> RateTask:
    """Train (ridge regression of one-hot targets on input rates) and quantise a classifier.

    Each class is a prototype vector of input rates; streams draw rates around it and spikes
    as Bernoulli trials. The output layer integrates its input (du = 1, dv = 0) so that the
    correct neuron, driven at about one threshold per four steps, spikes most.
    """
    rng = np.random.default_rng(random_state)
    prototypes = rng.uniform(0.02, 0.3, (n_classes, n_inputs))

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.arange(n) % n_classes
        rates = np.clip(prototypes[labels] + 0.05 * rng.standard_normal((n, n_inputs)), 0, 1)
        return (rng.random((n, steps, n_inputs)) < rates[:, None, :]).astype(np.uint8), labels

    train, train_labels = draw(10 * samples)
    x = np.hstack([train.mean(axis=1), np.ones((len(train), 1))])
    y = 2 * np.eye(n_classes)[train_labels] - 1
    w = np.linalg.solve(x.T @ x + 1e-2 * np.eye(n_inputs + 1), x.T @ y)
    network = quantise(FloatNetwork((FloatLayer(w[:-1].T, du=1.0, dv=0.0, vth=4.0,
                                                bias=w[-1]),)))
    spikes, labels = draw(samples)
    return RateTask(network, spikes, labels)
