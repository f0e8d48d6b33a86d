"""Fixtures: the shipped sample folder, the full sets (NEUROTWIN_DATA) and chunking."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """host/data: the excerpts the project ships."""
    return Path(str(resources.files("host.data")))


def _random_chunks(x: np.ndarray, rng: np.random.Generator,
                   pieces: int = 12) -> list[np.ndarray]:
    n = x.shape[1]
    cuts = np.sort(np.concatenate([rng.integers(0, n + 1, pieces), [n // 2, n // 2, n // 2 + 1]]))
    return np.split(x, np.minimum(cuts, n), axis=1)


@pytest.fixture
def random_chunks() -> Callable[..., list[np.ndarray]]:
    """``random_chunks(x, rng)``: x [channels, samples] cut at random points, with an empty
    and a one-sample chunk among them."""
    return _random_chunks
