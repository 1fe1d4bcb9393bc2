"""The course's JupyterHub (autograder/jupyterhub/jupyterhub_config.py) as a course runs it:
the hub as root on free local ports, configurable-http-proxy from the npm registry installed
into a local prefix, and real system accounts (useradd, chpasswd) that log in through PAM
and whose servers run as themselves (LocalProcessSpawner)."""
from __future__ import annotations

import grp
import json
import os
import pwd
import secrets
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
PREFIX = "tnn-test-"                      # every account and group the tests make
MARK = "tnn-workbook test account"        # their GECOS field: only such accounts are ever removed


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


def quiet_lab_settings(home: Path) -> dict:
    """A user's JupyterLab settings for a test: every cell in the page, no news prompt.
    Returns {path: text}, for Accounts.write_as."""
    base = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"
    return {base / "notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}',
            base / "apputils-extension/notification.jupyterlab-settings":
                '{"fetchNews": "false", "checkForUpdates": false}'}


# ------------------------------------------------------------------------------------------
# system accounts
# ------------------------------------------------------------------------------------------
class Accounts:
    """Groups and users named tnn-test-*, made with groupadd/useradd (homes mode 0700, a
    random password set with chpasswd) and removed with userdel -r/groupdel by remove().
    An existing tnn-test-* account is removed first only if it carries MARK (a test's own
    leftover); anything else of that name is an error, never touched."""

    def __init__(self):
        self.users: dict[str, str] = {}     # name -> password
        self.groups: list[str] = []

    @staticmethod
    def _run(*cmd, stdin=None):
        proc = subprocess.run(list(cmd), input=stdin, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")

    def group(self, name: str) -> str:
        assert name.startswith(PREFIX), name
        try:
            g = grp.getgrnam(name)
            members = [pwd.getpwnam(m) for m in g.gr_mem] + [u for u in pwd.getpwall() if u.pw_gid == g.gr_gid]
            if any(u.pw_gecos != MARK for u in members):
                raise RuntimeError(f"group {name} exists with members not made by this test: not touched")
            for u in members:            # an earlier run's leftovers
                self._kill(u.pw_uid)
                self._run("userdel", "-r", u.pw_name)
            self._run("groupdel", name)
        except KeyError:
            pass
        self._run("groupadd", name)
        self.groups.append(name)
        return name

    def user(self, name: str, groups=()) -> str:
        assert name.startswith(PREFIX) and len(name) <= 32, name
        try:
            old = pwd.getpwnam(name)
            if old.pw_gecos != MARK:
                raise RuntimeError(f"account {name} exists and was not made by this test: not touched")
            self._kill(old.pw_uid)
            self._run("userdel", "-r", name)
        except KeyError:
            pass
        self._run("useradd", "--create-home", "-K", "HOME_MODE=0700", "--shell", "/bin/bash", "--comment", MARK,
                  *(["--groups", ",".join(groups)] if groups else []), name)
        password = secrets.token_urlsafe(18)
        self._run("chpasswd", stdin=f"{name}:{password}\n")
        self.users[name] = password
        return name

    def pw(self, name: str):
        return pwd.getpwnam(name)

    def home(self, name: str) -> Path:
        return Path(self.pw(name).pw_dir)

    def env(self, name: str, **extra) -> dict:
        """A login-like environment for `name` (nothing of this process's Python settings)."""
        p = self.pw(name)
        env = {"HOME": p.pw_dir, "USER": name, "LOGNAME": name, "SHELL": p.pw_shell, "LANG": "C.UTF-8",
               "PATH": "/usr/local/bin:/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"}
        env.update(extra)
        return env

    def run(self, name: str, cmd, cwd, env: dict, timeout: float = 900, check: bool = True):
        """`cmd` as the account `name` (its uid, gid and groups), like a terminal of theirs."""
        p = self.pw(name)
        groups = [g for g in os.getgrouplist(name, p.pw_gid)]
        proc = subprocess.run([str(a) for a in cmd], cwd=cwd, env=env, user=p.pw_uid, group=p.pw_gid,
                              extra_groups=groups, capture_output=True, text=True, timeout=timeout, umask=0o022)
        if check and proc.returncode != 0:
            raise AssertionError(f"as {name}: {' '.join(map(str, cmd))} failed ({proc.returncode}):\n"
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def write_as(self, name: str, files: dict) -> None:
        """Write {path: text} (under the account's home) owned by the account, as it would."""
        p = self.pw(name)
        home = Path(p.pw_dir)
        for path, text in files.items():
            path = Path(path)
            assert home in path.parents, path
            for d in reversed([d for d in path.parents if home in d.parents]):
                if not d.exists():
                    d.mkdir(mode=0o755)
                    os.chown(d, p.pw_uid, p.pw_gid)
            path.write_text(text, encoding="utf-8")
            os.chown(path, p.pw_uid, p.pw_gid)

    @staticmethod
    def _kill(uid: int) -> None:
        """End the processes of a test account (only this test's accounts ever get here)."""
        procs = [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid]
        for p in procs:
            try:
                p.terminate()
            except psutil.Error:
                pass
        for p in psutil.wait_procs(procs, timeout=15)[1]:
            try:
                p.kill()
            except psutil.Error:
                pass

    def remove(self) -> None:
        for name in list(self.users):
            try:
                self._kill(self.pw(name).pw_uid)
                self._run("userdel", "-r", name)
            except (KeyError, RuntimeError):
                pass
            self.users.pop(name, None)
        for g in reversed(self.groups):
            try:
                self._run("groupdel", g)
            except RuntimeError:
                pass
        self.groups.clear()


# ------------------------------------------------------------------------------------------
# the hub
# ------------------------------------------------------------------------------------------
class Hub:
    """`jupyterhub -f autograder/jupyterhub/jupyterhub_config.py` as root in a child process."""

    def __init__(self, state: Path, exchange: Path, *, student_group: str, instructor_group: str,
                 student_env: Path, instructor_env: Path, user_config: Path):
        self.state = state
        self.port = free_port()
        api, proxy_api = free_port(), free_port()
        while len({self.port, api, proxy_api}) < 3:
            api, proxy_api = free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("JUPYTER", "TNN_", "PYTHON", "VIRTUAL_ENV"))}
        self.env.update(TNN_HUB_STATE=str(state), TNN_HUB_EXCHANGE=str(exchange), TNN_HUB_PORT=str(self.port),
                        TNN_HUB_API_PORT=str(api), TNN_HUB_PROXY_API_PORT=str(proxy_api),
                        TNN_HUB_PROXY=str(ensure_proxy()), TNN_HUB_STUDENT_GROUP=student_group,
                        TNN_HUB_INSTRUCTOR_GROUP=instructor_group, TNN_HUB_STUDENT_ENV=str(student_env),
                        TNN_HUB_INSTRUCTOR_ENV=str(instructor_env),
                        TNN_HUB_USER_CONFIG=str(user_config),
                        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}")
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log = state.parent / "jupyterhub.log"

    def start(self, timeout: float = 120) -> "Hub":
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(CONFIG)],
                                         cwd=self.state.parent, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
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
