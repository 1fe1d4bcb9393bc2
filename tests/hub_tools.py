"""The course's JupyterHub (autograder/jupyterhub/jupyterhub_config.py) on free local ports,
with configurable-http-proxy from the npm registry installed into a local prefix."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from browser_tools import free_port

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "autograder" / "jupyterhub" / "jupyterhub_config.py"
CHP_PREFIX = Path(os.environ.get("TNN_CHP_PREFIX") or ROOT / ".venv" / "chp")   # .venv is not committed


def _chp_version() -> str:
    """configurable-http-proxy 5 needs Node.js 20 or later; Debian 12's Node.js 18 runs 4.x."""
    try:
        out = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=60).stdout
        major = int(out.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        major = 0
    return "5" if major >= 20 else "4"


def ensure_proxy() -> Path:
    """configurable-http-proxy from npm, installed once into CHP_PREFIX (`npm install --prefix`)."""
    exe = CHP_PREFIX / "node_modules" / ".bin" / "configurable-http-proxy"
    if exe.exists():
        return exe
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("the JupyterHub test needs npm (Debian's `npm`, which .ci/run and `python3 workbook.py "
                           "test` install when root) to get configurable-http-proxy from the npm registry")
    CHP_PREFIX.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([npm, "install", "--prefix", str(CHP_PREFIX), "--no-audit", "--no-fund", "--loglevel=error",
                           f"configurable-http-proxy@{_chp_version()}"], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not exe.exists():
        raise RuntimeError(f"npm install configurable-http-proxy failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return exe


def quiet_lab_settings(home: Path) -> None:
    """A user's JupyterLab settings for a test: every cell in the page, no news prompt."""
    base = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"
    for rel, text in (("notebook-extension/tracker.jupyterlab-settings", '{"windowingMode": "none"}'),
                      ("apputils-extension/notification.jupyterlab-settings",
                       '{"fetchNews": "false", "checkForUpdates": false}')):
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(text)


class Hub:
    """`jupyterhub -f autograder/jupyterhub/jupyterhub_config.py` in a child process."""

    def __init__(self, state: Path, exchange: Path, students, instructors=("instructor",), password="tnn-course-pw"):
        self.state, self.password = state, password
        self.port = free_port()
        api, proxy_api = free_port(), free_port()
        while len({self.port, api, proxy_api}) < 3:
            api, proxy_api = free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "TNN_"))}
        self.env.update(TNN_HUB_STATE=str(state), TNN_HUB_EXCHANGE=str(exchange), TNN_HUB_PORT=str(self.port),
                        TNN_HUB_API_PORT=str(api), TNN_HUB_PROXY_API_PORT=str(proxy_api),
                        TNN_HUB_PROXY=str(ensure_proxy()), TNN_HUB_PASSWORD=password,
                        TNN_HUB_STUDENTS=",".join(students), TNN_HUB_INSTRUCTORS=",".join(instructors),
                        TNN_HUB_USER_ENV=sys.prefix,
                        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}")
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log = state / "jupyterhub.log"

    def home(self, user: str) -> Path:
        return self.state / "homes" / user

    def start(self, timeout: float = 120) -> "Hub":
        self.state.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(CONFIG)],
                                         cwd=self.state, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/hub/api/", timeout=5) as r:
                    json.loads(r.read())
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterHub did not start:\n" + self.log.read_text()[-4000:])
                time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # the proxy and the users' servers: the hub stops them (cleanup_servers), and what is
        # left of what it started is ended here, by process id
        started = psutil.Process(self.proc.pid).children(recursive=True)
        for p in list(started):
            try:
                started += p.children(recursive=True)
            except psutil.Error:
                pass
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        alive = [p for p in started if p.is_running()]
        for p in alive:
            try:
                p.terminate()
            except psutil.Error:
                pass
        for p in psutil.wait_procs(alive, timeout=15)[1]:
            p.kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
