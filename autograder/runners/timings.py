"""Where one grading's seconds go (``bench/grading.py --stages``).

With ``TNN_GRADE_TIMINGS=FILE`` in the environment, the parent and every worker append one
line per step of a grading to FILE: the wall clock, the process's CPU seconds, its pid and
the step. Without it :func:`mark` does nothing. Nothing here reads what a student's process
wrote: the steps are the grader's own.
"""
from __future__ import annotations

import os
import time

_PATH = os.environ.get("TNN_GRADE_TIMINGS")


def enabled() -> bool:
    """Whether timings were asked for."""
    return bool(_PATH)


def mark(step: str) -> None:
    """Record that `step` ends now (when timings are asked for)."""
    if _PATH:
        with open(_PATH, "a", encoding="utf-8") as f:
            f.write(f"{time.time():.4f} {time.process_time():.4f} {os.getpid()} {step}\n")
