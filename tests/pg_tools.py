"""A throwaway PostgreSQL server for the tests and the benchmark: Debian's ``postgresql``
binaries, a cluster made by ``initdb`` in a temporary folder, run as an unprivileged user
(PostgreSQL refuses to run as root: as root the cluster belongs to ``nobody``), listening
on 127.0.0.1 only, removed at the end."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

UNPRIVILEGED = "nobody"


def find_bindir() -> Path | None:
    """Debian's PostgreSQL binaries (``/usr/lib/postgresql/<version>/bin``), newest first."""
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                    if Path(p).parent.name.isdigit() else 0, reverse=True):
        if Path(d, "initdb").is_file():
            return Path(d)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def ensure_postgresql() -> Path:
    """The binaries; installs Debian's ``postgresql`` with apt-get when missing and allowed."""
    bindir = find_bindir()
    if bindir is None and shutil.which("apt-get"):
        sudo = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
        if sudo is not None:
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            subprocess.run(sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"],
                           env=env, check=False, capture_output=True)
            bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("these tests need Debian's PostgreSQL server: apt-get install postgresql")
    return bindir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """``with Postgres() as pg: pg.url("gradebook")`` — a new database on a fresh cluster."""

    def __init__(self, durable: bool = True):
        self.bin = ensure_postgresql()
        self.dir = Path(tempfile.mkdtemp(prefix="tnn-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.as_user = []
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam(UNPRIVILEGED)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", UNPRIVILEGED, "--"]
        self._run([self.bin / "initdb", "-D", self.data, "-U", "tnn", "--auth=trust", "-E", "UTF8",
                   "--no-instructions"])
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.dir}" + ("" if durable else " -c fsync=off")
        self._run([self.bin / "pg_ctl", "-D", self.data, "-l", self.dir / "server.log", "-o", opts, "-w", "start"])

    def _run(self, cmd) -> None:
        r = subprocess.run(self.as_user + [str(c) for c in cmd], capture_output=True, text=True, cwd=self.dir)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{r.stdout}\n{r.stderr}")

    def url(self, database: str) -> str:
        """Create `database` and return its SQLAlchemy URL."""
        import psycopg
        with psycopg.connect(host="127.0.0.1", port=self.port, user="tnn", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        return f"postgresql://tnn@127.0.0.1:{self.port}/{database}"

    def close(self) -> None:
        try:
            self._run([self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
