#!/usr/bin/env python3
"""Set up the workbook and open it, or set it up and run the whole test suite.

    python3 workbook.py lab     # create .venv, install, open the workbook in JupyterLab
    python3 workbook.py test    # create .venv, install with test extras, run all tests

Only a Python >= 3.10 with venv and pip is needed; everything else is installed here
(the browser tests' Chromium, grading's sandbox bubblewrap, npm for the JupyterHub test's
configurable-http-proxy, and the PostgreSQL server the gradebook's tests start, from Debian's
packages when run as root or with sudo).
Extra arguments after ``test`` go to pytest, after ``lab`` to JupyterLab.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
CHROMIUM = "/usr/bin/chromium"


def run(cmd, **kw) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], **kw)


def run_forwarding(cmd, **kw) -> int:
    """Run the long-lived command (JupyterLab, pytest) and pass on SIGTERM and SIGHUP, so
    that stopping workbook.py stops what it started instead of leaving it orphaned."""
    print("+", " ".join(str(c) for c in cmd), flush=True)
    proc = subprocess.Popen([str(c) for c in cmd], **kw)
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            sig = getattr(signal, name)
            previous[sig] = signal.signal(sig, lambda signum, _frame: proc.poll() is None and proc.send_signal(signum))
    # Ctrl-C reaches the child from the terminal itself; here it must not end the wait early
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        rc = proc.wait()
        return 128 - rc if rc < 0 else rc  # killed by signal N: the shell's 128 + N
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def must(cmd, **kw) -> None:
    rc = run(cmd, **kw)
    if rc != 0:
        sys.exit(f"workbook.py: command failed with exit status {rc}: {' '.join(map(str, cmd))}")


def setup(extras: str) -> None:
    if sys.version_info < (3, 10):
        sys.exit(f"workbook.py: Python >= 3.10 is needed, this is {sys.version.split()[0]}")
    if not PY.exists():
        must([sys.executable, "-m", "venv", VENV])
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    must([PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--upgrade", "pip"])
    target = f".[{extras}]" if extras else "."
    # setuptools' "Editable installation ... folders with the same name as your package" is
    # about running from the clone, which is the point here: not shown
    quiet = dict(os.environ, PYTHONWARNINGS="ignore:Editable installation")
    must([PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", target], cwd=ROOT, env=quiet)
    # an editable install leaves the project's own modules uncompiled (pip compiles those it
    # copies): compiled here once, a grading does not compile the grader's 65 modules at every
    # start where bytecode is not written (PYTHONDONTWRITEBYTECODE); a changed file is simply
    # compiled again when imported
    run([PY, "-m", "compileall", "-q", "autograder", "tnn_lib"], cwd=ROOT, stdout=subprocess.DEVNULL)
    stamp.write_text(digest)


def ensure_system_packages() -> None:
    """The browser tests drive Debian's chromium, grading runs students' code under Debian's
    bubblewrap, the JupyterHub test installs configurable-http-proxy with Debian's npm, and the
    PostgreSQL gradebook's tests start Debian's postgresql server; install what is missing when
    we may (root, or sudo without a password)."""
    missing = []
    if not (Path(CHROMIUM).exists() or os.environ.get("TNN_CHROMIUM")):
        missing += ["chromium", "fonts-dejavu-core"]
    if not shutil.which("bwrap"):
        missing.append("bubblewrap")
    if not shutil.which("npm"):   # the JupyterHub test gets configurable-http-proxy from the npm registry
        missing.append("npm")
    if not (list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or shutil.which("initdb")):
        missing.append("postgresql")       # the PostgreSQL gradebook's tests start a throwaway server
    if not missing:
        return
    if not shutil.which("apt-get"):
        sys.exit("workbook.py: the tests need " + " and ".join(missing) + " (Chromium at /usr/bin/chromium, or "
                 "TNN_CHROMIUM set to a Chromium binary; bubblewrap's bwrap and npm on PATH); apt-get is not available "
                 "to install them")
    sudo = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if sudo is None:
        sys.exit(f"workbook.py: the tests need Debian's {' '.join(missing)}: run `apt-get install -y "
                 f"{' '.join(missing)}` as root")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    must(sudo + ["apt-get", "update", "-q"], env=env)
    must(sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing, env=env)


# the workbook's JupyterLab settings, jupyterlab/overrides.json: no "get notified about
# Jupyter news?" prompt over the widgets, no update check
LAB_SETTINGS = [f"--LabApp.app_settings_dir={ROOT / 'jupyterlab'}"]


COURSE_ID = "tnn-workbook"


def local_exchange(root: Path = ROOT, exchange: Path | None = None) -> Path:
    """nbgrader's exchange for the repository, in ``.exchange/`` of the clone (where the user
    can write; nbgrader's default ``/srv/nbgrader/exchange`` usually does not exist): every
    assignment of ``notebooks/`` released as ``nbgrader release_assignment`` lays it out
    (``tnn-workbook/outbound/<assignment>/``), and the ``inbound/`` that *Submit* writes to.
    JupyterLab's Assignment List then lists the assignments as fetched (``notebooks/<id>/``
    is where the student works) and submits them; ``nbgrader collect`` with the same
    exchange (``TNN_EXCHANGE``) brings them to ``submitted/`` for ``tnn-course grade``."""
    exchange = Path(exchange) if exchange else root / ".exchange"
    course = exchange / COURSE_ID
    for sub in ("inbound", "outbound", "feedback_public"):
        (course / sub).mkdir(parents=True, exist_ok=True)
    for folder in sorted((root / "notebooks").iterdir()):
        if not (folder.is_dir() and any(folder.glob("*.ipynb"))):
            continue
        out = course / "outbound" / folder.name
        released = sorted(p.name for p in folder.glob("*.ipynb"))
        if out.is_dir() and all((out / n).is_file() and (out / n).read_bytes() == (folder / n).read_bytes()
                                for n in released):
            continue
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        for n in released:                      # the released notebooks, never a student's edits
            shutil.copy2(folder / n, out / n)
    return exchange


def ipc_fits() -> bool:
    """Whether a kernel's socket files fit in Jupyter's runtime folder: a Unix socket's path
    has at most 107 bytes, and a kernel's is ``<runtime>/kernel-<36-character id>-ipc-<n>``.
    When it does not fit (a long home folder), kernels keep TCP on 127.0.0.1."""
    try:
        out = subprocess.run([str(PY), "-c", "from jupyter_core.paths import jupyter_runtime_dir as d; print(d())"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    runtime = out.stdout.strip()
    return out.returncode == 0 and bool(runtime) and len(os.fsencode(runtime)) + len("/kernel--ipc-10") + 36 <= 100


def lab(args) -> int:
    setup("")
    cmd = [BIN / "jupyter", "lab", "--notebook-dir", ROOT / "notebooks", *LAB_SETTINGS]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in args:
        cmd.append("--allow-root")
    if os.name == "posix" and not any(a.startswith("--KernelManager.transport") for a in args) \
            and ipc_fits():
        # kernels on local sockets, not TCP: nothing to eavesdrop on, and no "Kernel is running
        # over TCP without encryption" warning at every kernel start
        cmd.append("--KernelManager.transport=ipc")
    # nbgrader's lab extensions load nbgrader_config.py from the Jupyter config path (and from
    # the folder they chdir to, notebooks/): put the course's autograder/ on that path
    env = dict(os.environ)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(ROOT / "autograder")] + [
        p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p])
    env["TNN_EXCHANGE"] = str(local_exchange(ROOT, env.get("TNN_EXCHANGE")))
    return run_forwarding(cmd + list(args), cwd=ROOT, env=env)


def test(args) -> int:
    setup("test")
    ensure_system_packages()
    rc = run_forwarding([PY, "-m", "pytest"] + list(args), cwd=ROOT)
    if rc == 5:
        print("workbook.py: pytest collected no tests — that is a failure, not a pass", file=sys.stderr)
        return 1
    return rc


def main(argv) -> int:
    if not argv or argv[0] not in ("lab", "test"):
        print(__doc__)
        return 2
    return {"lab": lab, "test": test}[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
