# nbgrader configuration of every user's JupyterLab on the course's JupyterHub
# (jupyterhub_config.py puts this folder on JUPYTER_CONFIG_PATH). The instructor's course
# directory adds its own nbgrader_config.py (JUPYTERHUB.md).
import os

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "tnn-workbook"
c.Exchange.root = os.environ.get("TNN_HUB_EXCHANGE", "/srv/nbgrader/exchange")
if os.environ.get("TNN_HUB_ROLE") == "student" and os.environ.get("JUPYTERHUB_USER"):
    # nbgrader names a submission after the OS account; under SimpleLocalProcessSpawner every
    # user shares one, so the student's id is their hub name (with system users it is the same)
    c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
