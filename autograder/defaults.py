"""Grading's defaults, in one place (the command line, grading, the self-check and the
sandbox read them from here)."""

TIMEOUT_SECONDS = 30.0          # per cell: a student's cell, or a graded test cell and its calls
BUDGET_SECONDS = 300.0          # per submission: every cell, replay and test of all its notebooks together
MEMORY_MB = 4096                # address-space limit of the student process
MAX_OUTPUT_BYTES = 200_000      # output kept per cell; more is cut, with a note
CPU_SECONDS = 600               # CPU time of one student process
PROCESSES = 64                  # processes the student's code may run at once
FILE_MB = 200                   # largest file the student's code may write
TMP_MB = 64                     # each student process's own /tmp (a memory file system)
SHM_MB = 64                     # each student process's own /dev/shm (a memory file system)
MAX_WORKERS = 4                 # --workers default: one per usable CPU, at most this

# bumped when grading changes what a result file holds (results of older versions are regraded)
GRADER_VERSION = "3"


def watchdog_seconds(settings: dict) -> float:
    """How long a worker may spend on one submission before it is given up: twice the
    submission's budget and two minutes more, for what the budget does not cover (a new
    worker's imports and warm sandbox on a loaded machine, loading, sanitising, stopping the
    student process)."""
    budget = settings.get("budget")
    if budget:
        return 2 * float(budget) + 120.0
    return max(600.0, 40 * float(settings.get("timeout", TIMEOUT_SECONDS)))
