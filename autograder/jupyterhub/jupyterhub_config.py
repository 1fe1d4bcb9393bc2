# JupyterHub for the tnn-workbook course: see autograder/JUPYTERHUB.md.
#
#   sudo jupyterhub -f autograder/jupyterhub/jupyterhub_config.py
#
# The deployment tests/test_jupyterhub.py runs: the hub as root, every student and instructor a
# system account that logs in with its own password (PAM) and whose JupyterLab runs as that
# account (LocalProcessSpawner). Students' servers run the student edition's environment, the
# instructors' the course repository. Settings come from the environment (JUPYTERHUB.md).
import grp
import os
import pwd
from pathlib import Path

c = get_config()  # noqa: F821  (provided by traitlets when JupyterHub loads this file)

HERE = Path(__file__).resolve().parent
STATE = Path(os.environ.get("TNN_HUB_STATE", "/srv/tnn-hub"))            # hub database, secrets
EXCHANGE = os.environ.get("TNN_HUB_EXCHANGE", "/srv/nbgrader/exchange")  # nbgrader's exchange
STUDENT_GROUP = os.environ.get("TNN_HUB_STUDENT_GROUP", "tnn-students")
INSTRUCTOR_GROUP = os.environ.get("TNN_HUB_INSTRUCTOR_GROUP", "tnn-instructors")
# the Python environments the users' servers run (JUPYTERHUB.md): the students' has the student
# edition (`pip install ./tnn-workbook-student nbgrader jupyterhub`), the instructors' the
# course repository (`pip install -e ~instructor/tnn-workbook jupyterhub`)
STUDENT_ENV = Path(os.environ.get("TNN_HUB_STUDENT_ENV", "/opt/tnn-student"))
INSTRUCTOR_ENV = Path(os.environ.get("TNN_HUB_INSTRUCTOR_ENV", "/opt/tnn-instructor"))
# users/ (nbgrader's course id and exchange), student/ and instructor/ (nbgrader's extensions
# per role); a copy elsewhere if the users cannot read this folder
USER_CONFIG = Path(os.environ.get("TNN_HUB_USER_CONFIG", HERE))

# --- network: the proxy (configurable-http-proxy, from npm) is the only public port
c.JupyterHub.ip = os.environ.get("TNN_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("TNN_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("TNN_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('TNN_HUB_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [os.environ.get("TNN_HUB_PROXY", "configurable-http-proxy")]
c.ConfigurableHTTPProxy.should_start = True

# --- state (readable by root only)
STATE.mkdir(parents=True, exist_ok=True, mode=0o700)
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True

# --- who may log in: system accounts in the course's groups, with their own password (PAM)
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {STUDENT_GROUP, INSTRUCTOR_GROUP}

# --- each user's JupyterLab: a process running as their system account, in their home
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
# nothing of the hub's own environment (PYTHONPATH, VIRTUAL_ENV, ...) reaches a user's server
c.Spawner.env_keep = ["LANG", "LC_ALL"]


def role_of(name: str) -> str:
    """"instructor" or "student", from the account's groups (instructor wins)."""
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        raise RuntimeError(f"{name} is not a system account") from None
    groups = {grp.getgrgid(g).gr_name for g in os.getgrouplist(name, account.pw_gid)}
    if INSTRUCTOR_GROUP in groups:
        return "instructor"
    if STUDENT_GROUP in groups:
        return "student"
    raise RuntimeError(f"{name} is in neither {STUDENT_GROUP} nor {INSTRUCTOR_GROUP}")


def pre_spawn_hook(spawner):
    """The user's role decides the environment their server runs and nbgrader's extensions
    (students: the Assignments panel and Validate; instructors also Formgrader, Course
    Management and Create Assignment). Nothing is written into the user's home."""
    name = spawner.user.name
    role = role_of(name)
    prefix = INSTRUCTOR_ENV if role == "instructor" else STUDENT_ENV
    spawner.cmd = [str(prefix / "bin" / "jupyterhub-singleuser")]
    env = dict(spawner.environment,
               JUPYTER_CONFIG_PATH=os.pathsep.join([str(USER_CONFIG / role), str(USER_CONFIG / "users")]),
               TNN_HUB_ROLE=role, TNN_HUB_EXCHANGE=EXCHANGE,
               PATH=os.pathsep.join([str(prefix / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
               OPENBLAS_NUM_THREADS="1")
    spawner.environment = env


c.Spawner.pre_spawn_hook = pre_spawn_hook
