"""The shared machinery of the topic widgets: controls -> plain update -> PNG figure."""
from __future__ import annotations

import html
import io
import threading
import time
import traceback
from typing import Callable

import ipywidgets as widgets
from matplotlib.figure import Figure  # (no pyplot: nothing is shown by side effect)

from tnn_lib import student
from tnn_lib.widgets._blit import encode_png
from tnn_lib.widgets.state import WidgetState, widget_state  # noqa: F401 - re-exported


# Text in a figure is at least this size (points): legible on a projector at 1080p, where a
# figure 11 to 12 inches wide spans about 1400 CSS px (12 pt → 19 px), and in JupyterLab.
MIN_FONT_PT = 12.0
# Figures are drawn at this resolution: in JupyterLab an 11-inch figure spans about 1100 CSS px,
# so 144 dpi gives 1.4 image pixels per CSS pixel (0.7 per device pixel at a device pixel ratio of 2).
DPI = 144
# While a control is dragged, frames are drafts at this fraction of the figure's dpi (a quarter
# of the pixels: the Agg render and the PNG cost about a quarter); the full-resolution frame
# follows once no new value came for SETTLE_S seconds (the hand stopped: on a loaded machine
# a drag's values come up to ≈ 250 ms apart, each a browser-kernel round trip; a full frame
# drawn between two of them would delay the next draft by a full frame's cost).
DRAFT_SCALE = 0.5
SETTLE_S = 0.25
# A control's next value within DRAG_GAP_S of its previous one, or while that one's frame is
# still being drawn, is a drag: drafts from then on. (ipywidgets' front end sends a dragged
# slider's next value only once the kernel took the previous one, so values of a drag come
# one kernel round trip apart, often after the frame was drawn.)
DRAG_GAP_S = 0.3
# Once the browser has changed a control and then left the widget alone for WARM_AFTER_S, the
# settings the widget names as worth drawing ahead (WidgetApp's `warm`: 05's surfaces, 08's κ
# stops) are drawn quietly, one at a time, and kept: a first choice of one then shows a kept
# frame. Lecture mode draws them before its page opens; in JupyterLab this is when. A widget
# the browser never touched (Run All, a headless run) draws nothing ahead.
WARM_AFTER_S = 1.0


def legible(fig: Figure, min_pt: float = MIN_FONT_PT, done: set | None = None) -> None:
    """Raise every text of `fig` (titles, labels, legends, annotations, tick labels) to at
    least `min_pt` points. `done` holds the ids of axes whose tick labels were already raised."""
    for ax in fig.axes:
        if done is not None and id(ax) in done:
            continue
        for axis in (ax.xaxis, ax.yaxis):
            labels = axis.get_ticklabels(which="both")
            size = min((t.get_fontsize() for t in labels), default=min_pt)
            if size < min_pt:
                axis.set_tick_params(which="both", labelsize=min_pt)
        if done is not None:
            done.add(id(ax))
    for t in _texts(fig):
        if t.get_fontsize() < min_pt:
            t.set_fontsize(min_pt)


def _texts(fig):
    """The texts of `fig`, as ``fig.findobj(Text)`` finds them but without walking the axes'
    ticks (their labels are raised by `legible` once per axes through the tick parameters;
    making the ticks to walk them cost ≈ 10 ms per redraw): an axis contributes its label
    and its offset text."""
    from matplotlib.axis import Axis  # slow import (see AUTHORING.md)
    from matplotlib.text import Text  # slow import (see AUTHORING.md)

    stack = [fig]
    while stack:
        a = stack.pop()
        if isinstance(a, Text):
            yield a
        if isinstance(a, Axis):
            stack += [a.label, a.offsetText]
            continue
        stack.extend(a.get_children())


def new_figure(width: float = 9.0, height: float = 4.0, dpi: int = DPI) -> Figure:
    """A figure that belongs to no pyplot state; the update functions draw into it."""
    return Figure(figsize=(width, height), dpi=dpi, layout="constrained")


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes, as ``fig.savefig(format="png")`` draws it, but faster.

    One Agg render (savefig with a layout engine — even the ``"none"`` placeholder — lays
    all text out twice) and a zlib level-1 encode (matplotlib's default level costs several
    times more for a PNG that is only ~1.5× smaller). A figure with a blitting canvas
    (:mod:`tnn_lib.widgets._blit`) redraws only its dynamic artists.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # slow import (see AUTHORING.md)
    from matplotlib.layout_engine import PlaceHolderLayoutEngine  # slow import (see AUTHORING.md)


    canvas = fig.canvas
    if hasattr(canvas, "render_png"):
        return canvas.render_png()
    if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        fig.set_layout_engine(None)           # same positions; no second text layout
    if type(canvas) is not FigureCanvasAgg:
        canvas = FigureCanvasAgg(fig)         # attaches itself to the figure (no pyplot state)
    canvas.draw()
    return encode_png(canvas.buffer_rgba())


def reference_png(fig: Figure) -> bytes:
    """matplotlib's own ``savefig`` PNG of `fig`, every artist drawn (slow; for comparisons in tests)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, metadata={"Software": None})  # (options: no blitting)
    return buf.getvalue()


# The widgets' own layout, in JupyterLab and in lecture mode alike (the header carries it):
# controls as wide as their text (no label cut off, ipywidgets otherwise gives every control
# a fixed width), sliders of a readable length, toggle buttons as wide as their caption.
STYLE = """<style>
.tnn-widget .tnn-control.widget-inline-hbox { width: auto; max-width: 100%; }
.tnn-widget .tnn-control .widget-label { overflow: visible; text-overflow: clip; max-width: none; }
.tnn-widget .tnn-control.widget-hslider .slider-container { flex: 0 0 auto; width: 220px; }
.tnn-widget .tnn-control .widget-toggle-button { width: auto !important; min-width: 3em; padding: 0 0.8em;
  white-space: nowrap; overflow: visible; }
.tnn-widget .tnn-control.widget-dropdown, .tnn-widget .tnn-control.widget-select-multiple { width: auto; }
.tnn-widget .tnn-control.widget-dropdown select { width: auto; max-width: 100%; }
.tnn-widget .tnn-controls { gap: 4px 24px; align-items: flex-start; }
</style>"""


class WidgetApp:
    """Controls wired to ``draw(state, **values)``; the figure is shown as a PNG image.

    Parameters
    ----------
    title : str
        Shown above the controls.
    controls : dict of name -> ipywidgets control
        Their ``value`` s are passed to `draw` by name.
    draw : callable
        ``draw(state, **values) -> dict`` redraws ``state.fig`` in place and returns the
        numbers it plotted (tests and benchmarks call it directly, without a browser).
    fig : matplotlib Figure, or a :class:`WidgetState` (its figure)
    extra : list of widgets shown under the figure (e.g. a text summary), optional.
    adjust : callable, optional
        ``adjust(app, name, new)`` runs when control `name` changes, before the redraw; the
        control values it sets cause no redraw of their own (one redraw per change).
    warm : list of dicts of control values, optional
        Settings worth drawing ahead, while lecture mode preheats the kernel
        (:meth:`warm_drafts`): e.g. the other surfaces of a menu, whose first choice would
        otherwise compute and render a new background. Each is drawn at full quality with the
        other controls as they are then, and kept as the browser's own frames are (see
        :meth:`render`): choosing it first shows its kept PNG.

    A change made in the browser is drawn by a :class:`LiveRedraw` thread (the last value
    wins, drafts while values come faster than frames, a full frame when the hand stops); a change made in Python
    (``control.value = ...``, :meth:`set_values`, :meth:`refresh`) is drawn at once, so
    tests and benchmarks see the new figure when the call returns.
    """

    def __init__(self, title: str, controls: dict, draw: Callable, fig, extra=None,
                 description: str = "", adjust: Callable | None = None, warm=None):
        self.title = title
        self.warm = [dict(w) for w in (warm or [])]
        self.controls = dict(controls)
        self.draw = draw
        self.state = widget_state(fig)
        self.adjust = adjust
        self._holding = False
        self._legible_axes = set()
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%", max_width="1400px"))
        self.image.add_class("tnn-figure")
        self.status = widgets.HTML(value="")
        self.status.add_class("tnn-status")
        self.last = {}
        self.last_seconds = 0.0
        self.needed = None       # the one line "implement `X` first (…)" while the draw needs it
        self.driven_by = ""      # "driven by your `X`" when the draw ran on the student's code
        self.driven_extra = set()  # exercises an action (the Train button) ran on the student's code
        self.used = set()          # the exercises the last draw (and actions) ran on the student's code
        self._frozen = None   # (layout engine, axes it laid out): see refresh
        self._drawing = threading.RLock()   # one draw of this figure at a time (kernel thread, LiveRedraw)
        self._frames = {}                   # frame key -> PNG of a setting drawn for the browser (see render)
        self.live = LiveRedraw(self)
        header = widgets.HTML(STYLE + f"<h3 class='tnn-title'>{title}</h3>"
                              + (f"<p class='tnn-description'>{description}</p>" if description else ""))
        header.add_class("tnn-header")
        for name, c in self.controls.items():
            c.add_class("tnn-control")
            c.add_class(f"tnn-control-{name}")
            c.style.description_width = "initial"
            if hasattr(c, "continuous_update") and "slider" in type(c).__name__.lower():
                c.continuous_update = True      # the figure follows a dragged slider (LiveRedraw)
            c.observe(lambda change, name=name: self._changed(name, change), names="value")
        box = widgets.Box(list(self.controls.values()),
                          layout=widgets.Layout(display="flex", flex_flow="row wrap"))
        box.add_class("tnn-controls")
        self.widget = widgets.VBox([header, box, self.image, self.status] + list(extra or []))
        self.widget.add_class("tnn-widget")
        self.render("full", reuse=True)       # the first figure is kept too: the browser may come back to it

    @property
    def fig(self) -> Figure:
        return self.state.fig

    def values(self) -> dict:
        return {name: c.value for name, c in self.controls.items()}

    def set_values(self, **values) -> None:
        """Set controls without a redraw per control; then one redraw (unless inside `adjust`)."""
        holding, self._holding = self._holding, True
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._holding = holding
        if not holding:
            self.refresh()

    def _changed(self, name: str, change) -> None:
        if self._holding:
            return
        if self.adjust is not None:
            self._holding = True
            try:
                self.adjust(self, name, change["new"])
            finally:
                self._holding = False
        if from_browser(change):
            self.live.request(name)
        else:
            self.refresh()

    def update(self, values: dict) -> dict:
        """The widget's plain update: ``draw(state, **values)``, the numbers it plotted.
        (Every redraw goes through here, at either quality.)"""
        return self.draw(self.state, **values) or {}

    def refresh(self):
        """Redraw from the current control values and publish the new image (full quality).

        In the student edition a draw may need an exercise the student has not implemented
        yet: the status then says, in one line, which to implement first (and where) and the
        figure stays as it was; a draw that ran on the student's own implementations says so
        ("driven by your `adam_step`"). See :mod:`tnn_lib.student`."""
        self.render("full")

    def render(self, quality: str = "full", values: dict | None = None, reuse: bool = False,
               publish: bool = True) -> bool:
        """Draw for `values` (default: the controls' current values) and publish the image:
        at the figure's dpi (``"full"``) or at DRAFT_SCALE of it (``"draft"``, during a drag).

        ``reuse=True`` (the browser's changes, drawn by :class:`LiveRedraw`) keeps the PNG of
        each setting drawn that way and publishes it again when the controls come back to that
        setting (a toggle clicked back, a slider dragged back): the draw still runs, so the
        figure's artists and the returned numbers are those of the setting, but the render and
        the encoding are skipped. Any other render (a change from Python, a Train button's
        epochs, an answer registered by the student edition) forgets the kept PNGs.

        ``publish=False`` (drawing ahead, see :meth:`warm_quietly`) keeps the frame and
        changes nothing the page or a caller sees: not the image, the status nor the numbers.
        Returns False when the draw needs an exercise not implemented yet."""
        if quality not in ("full", "draft"):
            raise ValueError(f"quality: expected 'full' or 'draft', got {quality!r}")
        with self._drawing:
            t0 = time.perf_counter()
            values = self.values() if values is None else dict(values)
            key = self._frame_key(quality, values) if reuse else None
            if key is None:
                self._frames.clear()
            if publish:
                self.needed = None
            self.state.draft = quality == "draft"      # a draw may compute less for a draft
            try:
                with student.tracking(isolated=True) as used:
                    last = self.update(values)
            except NotImplementedError as err:
                line = student.needed_first(err)
                if line is None:
                    raise
                if publish:
                    self.last, self.needed, self.driven_by = {}, line, ""
                    self.last_seconds = time.perf_counter() - t0
                    self.status.value = f"<span class='tnn-needed'>{html.escape(line)}</span>"
                return False
            finally:
                self.state.draft = False
            if publish:
                self.last = last
                self.used = set(used) | self.driven_extra
            png = self._frames.get(key) if key is not None else None
            if png is None:
                legible(self.fig, done=self._legible_axes)
                dpi = self.fig.dpi
                canvas = self.fig.canvas
                if quality == "draft":
                    self.fig.set_dpi(dpi * DRAFT_SCALE)
                    canvas.drafting = True          # a blitting canvas draws a new range once, plainly
                try:
                    png = self._png()
                finally:
                    if quality == "draft":
                        self.fig.set_dpi(dpi)
                        canvas.drafting = False
                if key is not None:
                    self._frames[key] = png
                    while len(self._frames) > self.KEEP_FRAMES:
                        self._frames.pop(next(iter(self._frames)))
            elif key is not None:
                self._frames[key] = self._frames.pop(key)       # the newest last
            if not publish:
                return True
            self.image.value = png
            self.last_seconds = time.perf_counter() - t0
            self.last_quality, self.last_values = quality, values
            self._show_status()
            return True

    def warm_drafts(self) -> None:
        """Prepare the draft frames of a drag ahead of the hand: render the current figure
        once at the draft resolution without showing it (a blitting figure keeps that
        background; the text's glyphs and layouts at that dpi are kept too), so the first
        draft of the first drag costs what the later ones do. The settings named by the
        widget's `warm` are drawn first, at full quality, and kept (then the current setting
        again). Lecture mode calls this while its kernel is preheated, before the page is
        opened."""
        with self._drawing:
            if self.needed is not None or not self.fig.axes:
                return
            canvas = self.fig.canvas
            keep = getattr(canvas, "keep_backgrounds", None)
            if keep is not None:
                canvas.keep_backgrounds = True      # every background made here is kept (plain_first)
            try:
                current = self.values()
                ahead = [v for v in (dict(current, **w) for w in self.warm) if v != current]
                for values in ahead:              # the settings the widget names (see `warm`), kept
                    self.render("full", values=values, reuse=True)
                if ahead:                          # the controls' own setting shown again (and kept)
                    self.render("full", values=current, reuse=True)
                    if self.needed is not None:
                        return
                elif keep is not None and getattr(canvas, "plain_first", False):
                    self._png()     # the full-resolution background, which a plain first frame did not keep
                dpi = self.fig.dpi
                self.fig.set_dpi(dpi * DRAFT_SCALE)
                try:
                    self._png()
                finally:
                    self.fig.set_dpi(dpi)
            finally:
                if keep is not None:
                    canvas.keep_backgrounds = keep

    def warm_quietly(self, stop: Callable[[], bool]) -> bool:
        """Draw the settings named by `warm` (with the other controls as they are) at full
        quality and keep their frames, without showing them (see ``render(publish=False)``),
        one at a time, asking `stop()` before each: the browser's next change goes first.
        Settings already kept are skipped. When all are kept, the current setting is drawn
        again (its kept frame: the figure's artists are those of the page's figure again).
        Returns True when every setting is kept (or none can be: an exercise is missing)."""
        current = self.values()
        for values in (dict(current, **w) for w in self.warm):
            if values == current or self._frame_key("full", values) in self._frames:
                continue
            if stop():
                return False
            with self._drawing:
                if self.values() != current:           # changed meanwhile (browser or Python): next time
                    return False
                if not self.render("full", values=values, reuse=True, publish=False):
                    return True                        # the student edition: not implemented yet
        with self._drawing:
            if self.values() == current and self.needed is None:
                self.render("full", values=current, reuse=True, publish=False)
        return True

    KEEP_FRAMES = 48   # PNGs kept for settings the browser comes back to (≈ 0.5 MB each at 200 dpi)

    def _frame_key(self, quality: str, values: dict):
        """What a kept PNG depends on: the quality, the figure's size and dpi, the student
        edition's answers and the control values (None when a value is not hashable)."""
        try:
            key = (quality, float(self.fig.dpi), tuple(self.fig.get_size_inches()), student._GENERATION[0],
                   tuple(sorted(values.items())))
            hash(key)
        except TypeError:
            return None
        return key

    def _show_status(self) -> None:
        """The status line: the draw's summary, then whose code drove it (the student edition)."""
        self.driven_by = student.driven_by(self.used)
        summary = self.last.get("summary") if isinstance(self.last, dict) else None
        parts = [f"<span>{summary}</span>"] if summary else []
        if self.driven_by:
            parts.append(f"<span class='tnn-driven'>{html.escape(self.driven_by)}</span>")
        self.status.value = "<br>".join(parts)

    def run_action(self, action: Callable) -> bool:
        """Run `action()` (a button's work, e.g. training) the way :meth:`refresh` runs a draw:
        an exercise not implemented yet shows as one line in the status (False is returned);
        the exercises it ran on the student's own code are named under later draws."""
        with self._drawing:
            self._frames.clear()           # an action changes what a setting shows (e.g. trained epochs)
        try:
            with student.tracking(isolated=True) as used:
                action()
        except NotImplementedError as err:
            line = student.needed_first(err)
            if line is None:
                raise
            self.needed = line
            self.status.value = f"<span class='tnn-needed'>{html.escape(line)}</span>"
            return False
        self.driven_extra |= used
        if self.needed is None:
            self.used |= used
            self._show_status()
        return True

    def show_error(self, err: BaseException) -> None:
        """Show a failed redraw's Python error under the figure (a background redraw has no output area)."""
        text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        self.status.value = f"<pre class='tnn-error'>{html.escape(text[-3000:])}</pre>"

    def _png(self) -> bytes:
        """The figure's PNG; a constrained/tight layout is computed on the first render and
        then frozen (a layout engine re-lays out all text on every draw), and computed again
        only when the draw function replaced the figure's axes."""
        from matplotlib.layout_engine import PlaceHolderLayoutEngine  # slow import (see AUTHORING.md)

        fig = self.fig
        axes = list(fig.axes)
        if self._frozen is not None and fig.get_layout_engine() is None:
            engine, laid_out = self._frozen
            if len(laid_out) != len(axes) or any(a is not b for a, b in zip(laid_out, axes)):
                fig.set_layout_engine(engine)
        png = figure_png(fig)
        engine = fig.get_layout_engine()
        if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine) and fig.axes:
            self._frozen = (engine, list(fig.axes))
            fig.set_layout_engine(None)
        return png

    def _ipython_display_(self):  # displaying the app shows its widget
        from IPython.display import display  # slow import (see AUTHORING.md)
        display(self.widget)


def from_browser(change) -> bool:
    """Whether a trait change came from the front end: ipywidgets applies a comm message's
    values inside ``_lock_property``, which holds them in the widget's ``_property_lock``.
    A selection control (menu, toggle buttons, selection slider) syncs its ``index``: its
    ``value`` follows from the browser's ``index``."""
    lock = getattr(change.get("owner"), "_property_lock", None)
    if not lock:
        return False
    name = change.get("name")
    return name in lock or (name == "value" and "index" in lock)


class LiveRedraw:
    """Redraws one WidgetApp on a thread of its own, so that the kernel keeps taking the
    browser's new control values while a frame is drawn: the last value wins, never a backlog.

    :meth:`request` (the kernel's thread, on a change from the browser) only notes the change
    and wakes the thread. The thread draws the newest values: a full frame for a single
    change; once a control's next value comes within DRAG_GAP_S of its previous one or while
    that one's frame is still being drawn (a drag), drafts at DRAFT_SCALE of the dpi, and the
    full frame once no value came for SETTLE_S. Between changes the thread waits on a condition: an idle
    page costs no CPU. It is started on the first change from the browser; once the browser then
    leaves the widget alone for WARM_AFTER_S, it draws the widget's `warm` settings ahead, quietly
    and one at a time (:meth:`WidgetApp.warm_quietly`), and then waits again.
    """

    def __init__(self, app: WidgetApp, settle: float = SETTLE_S, drag_gap: float = DRAG_GAP_S,
                 warm_after: float = WARM_AFTER_S):
        self.app, self.settle, self.drag_gap, self.warm_after = app, settle, drag_gap, warm_after
        self._warm_due = True        # the widget's `warm` settings (if any) not all drawn ahead yet
        self._warming = False
        self._cond = threading.Condition()
        self._pending = False        # values newer than the last frame
        self._dragging = False
        self._busy = False
        self._last = (None, -1e9)    # (control, time) of the previous request
        self._thread = None
        self.frames = []             # (quality, seconds) of each frame drawn here (tests, benchmarks)

    def request(self, name: str | None = None) -> None:
        """New control values (of control `name`) to show."""
        now = time.monotonic()
        with self._cond:
            last, when = self._last
            if name is not None and name == last and (self._busy or self._pending or now - when < self.drag_gap):
                self._dragging = True
            self._last = (name, now)
            self._pending = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"tnn-redraw {self.app.title[:30]}", daemon=True)
                self._thread.start()
            self._cond.notify()

    def idle(self, timeout: float = 30.0, warmed: bool = False) -> bool:
        """Wait until every requested frame is drawn, the full-quality one included (tests);
        with `warmed`, also until the settings drawn ahead (see WARM_AFTER_S) are drawn."""
        with self._cond:
            return self._cond.wait_for(lambda: not (self._pending or self._busy or self._dragging or self._warming
                                                    or (warmed and self._warm_due and bool(self.app.warm))), timeout)

    def _wait_or_warm(self) -> None:
        """Wait for a change (no CPU meanwhile); once no change came for `warm_after` seconds,
        draw the widget's `warm` settings ahead, quietly, stopping for any change (the
        condition's lock is held on entry and on return)."""
        while not self._pending:
            if not (self._warm_due and self.app.warm):
                self._cond.wait_for(lambda: self._pending)
                return
            if self._cond.wait_for(lambda: self._pending, self.warm_after):
                return
            self._warming = True
            self._cond.release()
            try:
                done = self.app.warm_quietly(lambda: self._pending)
            except Exception:                  # drawing ahead is an optimisation: never an error shown
                done = True
            finally:
                self._cond.acquire()
                self._warming = False
                self._cond.notify_all()
            self._warm_due = not done

    def _run(self) -> None:
        while True:
            with self._cond:
                self._wait_or_warm()
                self._pending, self._busy = False, True
                quality = "draft" if self._dragging else "full"
            t0 = time.perf_counter()
            try:
                self.app.render(quality, reuse=True)
            except Exception as err:       # shown on the page; the next change tries again
                self.app.show_error(err)
            self.frames.append((quality, time.perf_counter() - t0))
            del self.frames[:-1000]
            with self._cond:
                self._busy = False
                if quality == "draft" and not self._cond.wait_for(lambda: self._pending, self.settle):
                    self._dragging, self._pending = False, True      # the hand stopped: the full frame
                self._cond.notify_all()
