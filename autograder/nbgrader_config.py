# nbgrader configuration for running nbgrader's own commands on this course, e.g.
#   nbgrader generate_assignment 00_backprop --force --config autograder/nbgrader_config.py
# `tnn-course` builds the same configuration in code (autograder/course.py).
from autograder.course import nbgrader_config

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)
c.merge(nbgrader_config())
