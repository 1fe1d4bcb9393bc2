"""Shared fixtures: where the course is, and which assignments exist."""
from __future__ import annotations

import os

# small matrix products are ~10x slower when the BLAS pool fights other processes for the
# two cores; one thread per process (kernels started by the tests inherit it)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
