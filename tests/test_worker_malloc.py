"""A grading process started with glibc's malloc thresholds pinned (a Dask nanny sets
MALLOC_TRIM_THRESHOLD_=65536 for its worker) unpins them: numpy's temporaries of a few hundred
kB come from the heap again instead of a fresh mapping, and its page faults, at each one."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

PROBE = """
import resource, sys
import numpy as np
from autograder.runners.worker import malloc_unpinned, prepare_process
if sys.argv[1] == "prepared":
    prepare_process()
    print("unpinned", malloc_unpinned())
else:
    print("unpinned", False)
a = np.ones(2**17)                       # 1 MiB, once: the heap grows to hold it
del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    a = np.ones(2**17)                   # written: every page touched
    del a
print("faults", resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _probe(mode: str, **env) -> tuple[bool, int]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], env=dict(base, PYTHONPATH=str(ROOT), **env),
                         capture_output=True, text=True, timeout=120, check=True).stdout.split()
    return out[1] == "True", int(out[3])


def test_a_pinned_malloc_is_unpinned_by_a_grading_process():
    pinned_faults = _probe("plain", MALLOC_TRIM_THRESHOLD_="65536")[1]
    unpinned, faults = _probe("prepared", MALLOC_TRIM_THRESHOLD_="65536")
    # pinned: each 1 MiB array is a new mapping, its 256 pages faulted in one by one
    assert pinned_faults >= 200 * 200, pinned_faults
    assert unpinned and faults < 2000, faults


def test_an_unpinned_malloc_is_left_alone():
    unpinned, faults = _probe("prepared")
    assert not unpinned and faults < 2000, faults     # glibc's own threshold had grown past 1 MiB
