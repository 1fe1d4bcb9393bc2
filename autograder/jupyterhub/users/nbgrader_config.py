# nbgrader configuration of every user's JupyterLab on the course's JupyterHub
# (jupyterhub_config.py puts this folder on JUPYTER_CONFIG_PATH). The instructor's course
# directory adds its own nbgrader_config.py (JUPYTERHUB.md). nbgrader names a submission
# after the user's system account, which is also their hub name (PAM, LocalProcessSpawner).
import os

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "tnn-workbook"
c.Exchange.root = os.environ.get("TNN_HUB_EXCHANGE", "/srv/nbgrader/exchange")
