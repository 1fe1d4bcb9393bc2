"""One live widget per topic, each built on the reference functions.

Every widget is an :class:`tnn_lib.widgets.app.WidgetApp`: a row of controls wired to a
plain update function ``draw(fig, **values)`` that redraws a matplotlib figure in
place, shown as a PNG image so the same widget works in JupyterLab, in Voilà (lecture
mode) and headless (nbclient, nbgrader) without waiting for a browser.

Import is lazy: ``import tnn_lib`` never imports ipywidgets or matplotlib.
"""
from __future__ import annotations

import importlib

# topic id -> (module, factory names); the first factory is the topic's main widget,
# lecture mode shows them all. Each factory takes only keyword options with defaults and
# returns a WidgetApp.
from tnn_lib.topics import TOPICS as _TOPICS

TOPIC_WIDGETS = {t.id: (t.name, t.widgets) for t in _TOPICS}

__all__ = [fn for _, fns in TOPIC_WIDGETS.values() for fn in fns] + ["TOPIC_WIDGETS", "widgets_for_topic"]


def widgets_for_topic(topic: str) -> list:
    """Build every live widget of a topic id such as ``"02_batchnorm"`` (WidgetApps)."""
    if topic not in TOPIC_WIDGETS:
        raise ValueError(f"unknown topic {topic!r}; expected one of {sorted(TOPIC_WIDGETS)}")
    mod, fns = TOPIC_WIDGETS[topic]
    module = importlib.import_module(f"tnn_lib.widgets.{mod}")
    return [getattr(module, fn)() for fn in fns]


def __getattr__(name):
    for mod, fns in TOPIC_WIDGETS.values():
        if name in fns:
            return getattr(importlib.import_module(f"tnn_lib.widgets.{mod}"), name)
    raise AttributeError(f"module 'tnn_lib.widgets' has no attribute {name!r}")
