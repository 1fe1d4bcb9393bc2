"""Run a notebook the way grading runs it: one fresh kernel per notebook, a memory limit,
a timeout per cell, capped output, and a kernel that dies or hangs costs only its cell.

:class:`Runner` keeps a spare kernel started in the background, so a long-lived grading
worker does not wait for a kernel to boot for every submission. When a cell times out or
kills its kernel, the cell gets an error output that says so, a new kernel replays the
cells before it (their recorded outputs are kept) and execution goes on after it.
"""
from __future__ import annotations

import asyncio
import copy
import json
import os
import subprocess
import sys

from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from traitlets import Int

# the same in every kernel, so that results do not depend on how many graders run at once
KERNEL_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "MPLBACKEND": "module://matplotlib_inline.backend_inline", "PYTHONHASHSEED": "0",
              "PYDEVD_DISABLE_FILE_VALIDATION": "1", "TQDM_DISABLE": "1"}
# imported into a spare kernel while it waits: modules every notebook imports anyway
WARMUP = ("import numpy, matplotlib\nmatplotlib.use('module://matplotlib_inline.backend_inline')\n"
          "import matplotlib.pyplot\nimport tnn_lib, autograder.checks\n"
          "from autograder.catalogue import all_exercises as _tnn_all\n_tnn_all(); del _tnn_all\n")

TIMEOUT_ENAME = "CellTimeout"
DEAD_ENAME = "KernelDied"
NOT_RUN_ENAME = "NotRun"
TRUNCATED_NOTE = "\n[... output truncated by the grader: this cell printed more than {kb} kB ...]\n"


class LimitedKernelManager(AsyncKernelManager):
    """ipykernel started through ``python -m autograder.kernel`` with an address-space limit."""

    memory_mb = Int(0, help="address-space limit of the kernel process in MiB (0: none)").tag(config=True)

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        if self.memory_mb > 0:
            cmd = [sys.executable, "-m", "autograder.kernel", str(self.memory_mb), "--"] + cmd
        return cmd


class CappedClient(NotebookClient):
    """nbclient's notebook client that keeps at most `max_output_bytes` of each cell's
    streams and displays (errors and results are always kept: grades depend on them)."""

    max_output_bytes = Int(200_000).tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._out_bytes: dict[int, int] = {}
        self.truncated: set[int] = set()

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] in ("stream", "display_data", "update_display_data"):
            content = msg.get("content", {})
            size = len(content.get("text", "")) if msg["msg_type"] == "stream" else len(json.dumps(content))
            used = self._out_bytes.get(cell_index, 0) + size
            self._out_bytes[cell_index] = used
            if used > self.max_output_bytes:
                if cell_index not in self.truncated:
                    self.truncated.add(cell_index)
                    outs.append(NotebookNode(output_type="stream", name="stdout",
                                             text=TRUNCATED_NOTE.format(kb=self.max_output_bytes // 1000)))
                is_stderr = msg["msg_type"] == "stream" and content.get("name") == "stderr"
                if is_stderr and not any(o.get("name") == "stderr" for o in outs):
                    outs.append(NotebookNode(output_type="stream", name="stderr",
                                             text=content.get("text", "")[:1000]))
                return None
        return super().output(outs, msg, display_id, cell_index)


def error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class _Restart(Exception):
    pass


async def kernel_output(kc, code: str, timeout: float) -> str:
    """Run `code` in the kernel outside the notebook; return what it printed ("" on error)."""
    chunks = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            chunks.append(msg["content"].get("text", ""))

    try:
        await kc.execute_interactive(code, store_history=False, allow_stdin=False, timeout=timeout,
                                     output_hook=hook)
    except TimeoutError:
        raise  # the kernel is stuck: the caller restarts it
    except Exception:
        return ""
    return "".join(chunks)


class Runner:
    """Executes notebooks in fresh memory-limited kernels; keeps one spare kernel warm."""

    def __init__(self, timeout: float = 30, memory_mb: int = 4096, max_output_bytes: int = 200_000,
                 env: dict | None = None, spare: bool = True, startup_timeout: float = 120):
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.max_output_bytes = max_output_bytes
        self.env = dict(os.environ, **KERNEL_ENV, **(env or {}))
        self.keep_spare = spare
        self.startup_timeout = startup_timeout
        self._spare: asyncio.Task | None = None

    # -- kernels ---------------------------------------------------------------------------
    async def _start_kernel(self):
        km = LimitedKernelManager(kernel_name="python3", memory_mb=self.memory_mb)
        await km.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"], env=self.env,
                              cwd=os.getcwd(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=self.startup_timeout)
            await kc.execute_interactive(WARMUP, silent=True, store_history=False, timeout=self.startup_timeout)
        except BaseException:
            await self._stop(km, kc)
            raise
        return km, kc

    async def _kernel(self):
        """A ready kernel: the spare if there is one, then start the next spare."""
        task, self._spare = self._spare, None
        if task is None:
            task = asyncio.ensure_future(self._start_kernel())
        try:
            km, kc = await task
            if not await km.is_alive():
                raise RuntimeError("spare kernel died")
        except Exception:
            km, kc = await self._start_kernel()
        if self.keep_spare:
            self._spare = asyncio.ensure_future(self._start_kernel())
        return km, kc

    @staticmethod
    async def _stop(km, kc):
        try:
            kc.stop_channels()
        except Exception:
            pass
        try:
            await km.shutdown_kernel(now=True)
        except Exception:
            try:
                await km.kill_kernel()
            except Exception:
                pass

    async def close(self):
        task, self._spare = self._spare, None
        if task is not None:
            try:
                km, kc = await task
                await self._stop(km, kc)
            except Exception:
                pass

    # -- execution -------------------------------------------------------------------------
    async def run(self, nb: NotebookNode, cwd: str, after_cell=None) -> dict:
        """Execute every code cell of `nb` in place. Returns ``{"timeouts": [...], "died": [...],
        "truncated": [...], "not_run": [...]}`` (cell indices). ``await after_cell(index, cell,
        kernel_client)`` runs after each cell that finished."""
        report = {"timeouts": [], "died": [], "truncated": [], "not_run": []}
        broken: set[int] = set()
        start, restarts = 0, 0
        n = len(nb.cells)
        while start < n:
            if restarts > 6:
                for i in range(start, n):
                    if nb.cells[i].cell_type == "code":
                        nb.cells[i].outputs = [error_output(NOT_RUN_ENAME, "not run: the kernel had to be "
                                                            "restarted too many times")]
                        report["not_run"].append(i)
                break
            km, kc = await self._kernel()
            client = CappedClient(nb, km=km, timeout=self.timeout, allow_errors=True, interrupt_on_timeout=False,
                                  record_timing=False, max_output_bytes=self.max_output_bytes,
                                  raise_on_iopub_timeout=False, iopub_timeout=10, shutdown_kernel="immediate")
            client.kc = kc
            client.reset_execution_trackers()
            try:
                async with client.async_setup_kernel():
                    await kc.execute_interactive(f"import os as _o; _o.chdir({cwd!r}); del _o", silent=True,
                                                 store_history=False, timeout=30)
                    for i in range(start):  # replay after a restart; keep the recorded outputs
                        cell = nb.cells[i]
                        if cell.cell_type != "code" or i in broken:
                            continue
                        try:
                            await client.async_execute_cell(copy.deepcopy(cell), i, store_history=True)
                        except (CellTimeoutError, DeadKernelError, asyncio.TimeoutError, RuntimeError):
                            broken.add(i)
                            raise _Restart from None
                    for i in range(start, n):
                        cell = nb.cells[i]
                        if cell.cell_type != "code":
                            continue
                        try:
                            await client.async_execute_cell(cell, i, store_history=True)
                            if after_cell is not None:
                                await after_cell(i, cell, kc)
                        except (CellTimeoutError, asyncio.TimeoutError):
                            cell.outputs.append(error_output(
                                TIMEOUT_ENAME, f"this cell did not finish within {self.timeout:g} s "
                                               "(an endless loop?); it was stopped and grading went on"))
                            report["timeouts"].append(i)
                            broken.add(i)
                            start = i + 1
                            raise _Restart from None
                        except (DeadKernelError, RuntimeError) as err:
                            if isinstance(err, RuntimeError) and "Kernel" not in str(err) and \
                                    "kernel" not in str(err):
                                raise
                            cell.outputs.append(error_output(
                                DEAD_ENAME, "the Python kernel died while running this cell (out of memory? "
                                            f"the limit is {self.memory_mb} MiB); grading went on without it"))
                            report["died"].append(i)
                            broken.add(i)
                            start = i + 1
                            raise _Restart from None
                    start = n
            except _Restart:
                restarts += 1
            finally:
                report["truncated"].extend(sorted(client.truncated))
                await self._stop(km, kc)
        report["truncated"] = sorted(set(report["truncated"]))
        return report
