# JupyterHub for the tnn-workbook course: see autograder/JUPYTERHUB.md.
#
#   jupyterhub -f autograder/jupyterhub/jupyterhub_config.py
#
# Settings come from the environment so that one file serves a trial run and the test
# (tests/test_jupyterhub.py); for a real course replace the authenticator and the spawner
# (JUPYTERHUB.md, "A real course").
import json
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (provided by traitlets when JupyterHub loads this file)

HERE = Path(__file__).resolve().parent
STATE = Path(os.environ.get("TNN_HUB_STATE", "/srv/tnn-hub"))            # hub database, secrets, homes
EXCHANGE = os.environ.get("TNN_HUB_EXCHANGE", "/srv/nbgrader/exchange")  # nbgrader's exchange
INSTRUCTORS = {u for u in os.environ.get("TNN_HUB_INSTRUCTORS", "instructor").split(",") if u}
STUDENTS = {u for u in os.environ.get("TNN_HUB_STUDENTS", "").split(",") if u}
USER_BIN = Path(os.environ.get("TNN_HUB_USER_ENV", sys.prefix)) / "bin"  # the users' Python environment

# --- network: the proxy (configurable-http-proxy, from npm) is the only public port
c.JupyterHub.ip = os.environ.get("TNN_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("TNN_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("TNN_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('TNN_HUB_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [os.environ.get("TNN_HUB_PROXY", "configurable-http-proxy")]
c.ConfigurableHTTPProxy.should_start = True

# --- state
STATE.mkdir(parents=True, exist_ok=True)
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True

# --- who may log in: one shared password (a trial run, the test). A real course uses its
# institution's login instead (OAuthenticator, LTI, PAM): JUPYTERHUB.md, "A real course".
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ.get("TNN_HUB_PASSWORD", "")
c.Authenticator.allowed_users = INSTRUCTORS | STUDENTS

# --- each user's JupyterLab: a local process, home STATE/homes/<user>. SimpleLocalProcessSpawner
# runs every user as the hub's own OS account (no isolation: trials and tests only).
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "homes" / "{username}")
c.Spawner.cmd = [str(USER_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
if hasattr(os, "geteuid") and os.geteuid() == 0:
    c.Spawner.args = ["--allow-root"]
c.Spawner.environment = {
    # users/nbgrader_config.py: the course id and the exchange, for every user
    "JUPYTER_CONFIG_PATH": str(HERE / "users"),
    "TNN_HUB_EXCHANGE": EXCHANGE,
    "PATH": f"{USER_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
    "OPENBLAS_NUM_THREADS": "1",
}

# nbgrader's lab extensions per role: students get the Assignments panel (and Validate);
# instructors also Formgrader, Course Management and Create Assignment
INSTRUCTOR_ONLY_LAB = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list",
                       "@jupyter/nbgrader:create-assignment")
INSTRUCTOR_ONLY_SERVER = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list")


def _merge_json(path: Path, update) -> None:
    data = json.loads(path.read_text()) if path.is_file() else {}
    update(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


def pre_spawn_hook(spawner):
    """The user's home, their role, and nbgrader's extensions for that role."""
    name = spawner.user.name
    role = "instructor" if name in INSTRUCTORS else "student"
    home = Path(spawner.home_dir)
    home.mkdir(parents=True, exist_ok=True)
    spawner.environment = dict(spawner.environment, TNN_HUB_ROLE=role)
    student = role == "student"
    _merge_json(home / ".jupyter" / "labconfig" / "page_config.json", lambda d: d.setdefault(
        "disabledExtensions", {}).update({ext: student for ext in INSTRUCTOR_ONLY_LAB}))
    _merge_json(home / ".jupyter" / "jupyter_server_config.json", lambda d: d.setdefault("ServerApp", {}).setdefault(
        "jpserver_extensions", {}).update({ext: not student for ext in INSTRUCTOR_ONLY_SERVER}))


c.Spawner.pre_spawn_hook = pre_spawn_hook
