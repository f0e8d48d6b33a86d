"""Backends: one narrow interface, chosen by name in a run configuration.

Every backend is a function ``run(network, spikes, **options) -> Record`` taking a
:class:`~neuro.network.FixedNetwork` and validated uint8 spikes [batch, steps, inputs].
Backends register by name with the module that implements them, so that heavy simulators
(Brian2, Lava) are imported only when chosen.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuro.network import FixedNetwork
from neuro.record import Record, as_spike_batch

_REGISTRY: dict[str, str] = {
    "reference": "neuro.backends.reference:run",
    "lava": "neuro.backends.lava_host:run",
    "brian2": "neuro.backends.brian2_sim:run",
    "rtl": "neuro.backends.rtl_sim:run",
    "crossbar": "neuro.backends.crossbar_sim:run",
}


def register(name: str, target: str) -> None:
    """Register a backend as ``"package.module:function"``."""
    _REGISTRY[name] = target


def available() -> list[str]:
    """Names of the registered backends."""
    return sorted(_REGISTRY)


def resolve(name: str) -> Callable[..., Record]:
    """The run function of a backend, imported on first use."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(available())}")
    module, func = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), func)


@dataclass(frozen=True)
class RunConfig:
    """Which backend runs a network, with backend-specific options."""

    backend: str = "reference"
    options: dict[str, Any] = field(default_factory=dict)


def run(
    network: FixedNetwork,
    spikes: np.ndarray,
    backend: str | RunConfig = "reference",
    **options: Any,
) -> Record:
    """Run ``spikes`` ([steps, inputs] or [batch, steps, inputs], 0/1 integers) on a backend.

    The returned record has a batch axis only if the input did.
    """
    config = backend if isinstance(backend, RunConfig) else RunConfig(backend, options)
    batch, batched = as_spike_batch(spikes, network.n_inputs)
    record = resolve(config.backend)(network, batch, **{**config.options, **options})
    return Record(record.spikes, record.u, record.v, batched=batched)
