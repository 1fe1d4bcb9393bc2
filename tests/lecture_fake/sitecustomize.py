"""Test-only (on PYTHONPATH of a lecture started by the browser tests): registers topic
``99_fake``, one small widget with a control of every kind the driver knows, so the
lecture machinery is tested independently of the real topic widgets."""
import sys

import tnn_lib.widgets

import tnn_fake_widget

tnn_lib.widgets.TOPIC_WIDGETS["99_fake"] = ("_fake_for_tests", ("fake_widget",))
sys.modules["tnn_lib.widgets._fake_for_tests"] = tnn_fake_widget
