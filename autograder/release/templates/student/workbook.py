#!/usr/bin/env python3
"""Set up the workbook and open it in JupyterLab:

    python3 workbook.py          # create .venv, install the workbook into it, open JupyterLab

Only a Python >= 3.10 with venv and pip is needed. Arguments go to JupyterLab
(e.g. ``python3 workbook.py --port 8890``). Ctrl-C stops JupyterLab.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def must(cmd, **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    rc = subprocess.call([str(c) for c in cmd], **kw)
    if rc != 0:
        sys.exit(f"workbook.py: command failed with exit status {rc}: {' '.join(map(str, cmd))}")


def setup() -> None:
    if sys.version_info < (3, 10):
        sys.exit(f"workbook.py: Python >= 3.10 is needed, this is {sys.version.split()[0]}")
    if not PY.exists():
        must([sys.executable, "-m", "venv", VENV])
    stamp = VENV / ".installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    must([PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", "."], cwd=ROOT)
    stamp.write_text(digest)


def main(argv) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    setup()
    # jupyterlab/overrides.json: no "get notified about Jupyter news?" question, no update check;
    # jupyter/: where nbgrader is installed (a course's JupyterHub), its student extensions only
    cmd = [str(BIN / "jupyter"), "lab", "--notebook-dir", str(ROOT / "notebooks"),
           f"--LabApp.app_settings_dir={ROOT / 'jupyterlab'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in argv:
        cmd.append("--allow-root")
    env = dict(os.environ)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(ROOT / "jupyter")] + [
        p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p])
    print("+", " ".join(cmd + list(argv)), flush=True)
    proc = subprocess.Popen(cmd + list(argv), cwd=ROOT, env=env)
    # stopping this script stops JupyterLab; Ctrl-C reaches JupyterLab from the terminal itself
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), lambda signum, _frame: proc.poll() is None and proc.send_signal(signum))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    rc = proc.wait()
    return 128 - rc if rc < 0 else rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
