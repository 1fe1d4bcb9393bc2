# nbgrader configuration for running nbgrader's own commands on this course, e.g.
#   nbgrader generate_assignment 00_backprop --force --config autograder/nbgrader_config.py
# `tnn-course` builds the same configuration in code (autograder/course.py).
import os

from autograder.course import course_root, ensure_tools_on_path, nbgrader_config

ensure_tools_on_path()   # nbgrader runs `alembic` to open the gradebook: found without an activated venv

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)
c.merge(nbgrader_config())
# the exchange: `workbook.py lab` sets TNN_EXCHANGE to the clone's .exchange/ (see
# workbook.local_exchange), and the student's copy of each assignment is notebooks/<id>/
# (what the Assignment List submits); a course's server sets its own Exchange.root
if os.environ.get("TNN_EXCHANGE"):
    c.Exchange.root = os.environ["TNN_EXCHANGE"]
    c.Exchange.assignment_dir = str(course_root() / "notebooks")
