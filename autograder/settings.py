"""The settings of one grading run, in one frozen object.

Filled from :mod:`autograder.defaults` and the command line (:meth:`Settings.from_args`),
checked once (:meth:`Settings.checked`), and handed as it is to every layer: :func:`grade
<autograder.runners.grade.grade>`, the local worker pool, the Dask runner, each worker's
:class:`~autograder.runners.worker.Grader` and the student process's output cap, and the
self-check (``tnn-course check``). It becomes JSON only where it crosses a process boundary
(:meth:`to_json` / :meth:`from_json`: a local worker's pipe, a Dask task).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from autograder import defaults


@dataclass(frozen=True)
class Settings:
    timeout: float = defaults.TIMEOUT_SECONDS         # seconds per cell (a student's cell, a test cell)
    budget: float | None = defaults.BUDGET_SECONDS    # seconds per submission; None: no limit
    memory_mb: int = defaults.MEMORY_MB                # address-space limit of the student process
    max_output_bytes: int = defaults.MAX_OUTPUT_BYTES  # output kept per cell (the student process cuts the rest)
    workers: int = 1                                   # local worker processes
    course: str | None = None                          # the course directory
    db_url: str | None = None                          # the gradebook
    sandbox: bool | None = None                        # None: bubblewrap where it runs; False: never
    scratch_base: str | None = None                    # a worker's scratch and cgroup ledger

    def checked(self) -> Settings:
        """These settings, or a ValueError saying which one is wrong and what it must be."""
        if not (isinstance(self.workers, int) and self.workers >= 1):
            raise ValueError(f"--workers must be at least 1, got {self.workers}")
        if not self.timeout > 0:
            raise ValueError(f"--timeout must be a positive number of seconds, got {self.timeout}")
        if self.budget is not None and not self.budget > 0:
            raise ValueError(f"--budget must be a positive number of seconds, got {self.budget}")
        if not self.memory_mb > 0:
            raise ValueError(f"--memory-mb must be a positive number of MiB, got {self.memory_mb}")
        if not self.max_output_bytes > 0:
            raise ValueError(f"the output cap must be a positive number of bytes, got {self.max_output_bytes}")
        return self

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)

    def fingerprint_text(self) -> str:
        """What of the settings decides a submission's result (a result file graded with other
        values of these is graded again)."""
        return f"{self.timeout}|{self.budget}|{self.memory_mb}|{self.max_output_bytes}"

    def watchdog_seconds(self) -> float:
        """How long a worker may spend on one submission before it is given up
        (:func:`autograder.defaults.watchdog_seconds`)."""
        return defaults.watchdog_seconds({"budget": self.budget, "timeout": self.timeout})

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Settings:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_args(cls, args, **more) -> Settings:
        """From a parsed command line: each option the command has, the defaults for the rest."""
        found = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name, None)
                 is not None}
        return cls(**found, **more)


__all__ = ["Settings"]
