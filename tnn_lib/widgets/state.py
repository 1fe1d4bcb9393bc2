"""The explicit state of one widget between two draws (no ipywidgets needed)."""
from __future__ import annotations

from typing import Callable


class WidgetState:
    """What one widget keeps between two draws, explicitly: its figure, the artists its draw
    function made on that figure (``artists``, None before the first draw) and anything else
    the widget accumulates (``data``: e.g. the training dashboard's trained histories).

    A draw function takes it as its first argument: ``draw(state, **values)``. Given a bare
    matplotlib Figure instead (tests, benchmarks), it draws on a fresh state of that figure.
    """

    def __init__(self, fig, **data):
        self.fig = fig
        self.artists = None
        self.data = dict(data)
        # True while the draw makes a draft (a frame in the middle of a drag, see
        # tnn_lib.widgets.app.LiveRedraw): a draw may then compute less (e.g. a coarser grid);
        # the full-quality frame that follows when the hand stops is drawn with it False
        self.draft = False

    def __getattr__(self, name):
        # a draw function written for a bare figure, ``draw(fig, **values)``, still works when
        # given the state: what is not the state's own is the figure's
        if name.startswith("__") or name in ("fig", "artists", "data", "draft"):
            raise AttributeError(name)
        return getattr(self.fig, name)

    def ensure(self, build: Callable) -> dict:
        """The artists, made by ``build(fig)`` on the first draw."""
        if self.artists is None:
            self.artists = build(self.fig)
        return self.artists


def widget_state(target) -> WidgetState:
    """`target` if it is a :class:`WidgetState`, else a fresh one for the Figure `target`."""
    from matplotlib.figure import Figure  # slow import (see AUTHORING.md)

    if isinstance(target, WidgetState):
        return target
    if not isinstance(target, Figure):
        raise ValueError(f"expected a WidgetState or a matplotlib Figure, got {type(target).__name__}")
    return WidgetState(target)
