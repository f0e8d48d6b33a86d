"""Shared fixtures: random generators and the full data sets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def full_data() -> Path:
    """The folder NEUROTWIN_DATA names (laid out like shared/data), or skip; CI (which sets
    NEUROTWIN_CI) fails instead of skipping."""
    root = os.environ.get("NEUROTWIN_DATA")
    if not root:
        message = ("NEUROTWIN_DATA is unset: point it at a folder laid out like shared/data "
                   "(mitdb/, spc2015/, nstdb-118em/, emgdb/, eeglab-sample/) to run this")
        if os.environ.get("NEUROTWIN_CI"):
            pytest.fail(message)
        pytest.skip(message)
    if not Path(root).is_dir():
        pytest.fail(f"NEUROTWIN_DATA={root} is not a folder")
    return Path(root)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
