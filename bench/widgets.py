"""Where a widget's redraw goes, in the kernel: per topic, widget and control.

    python bench/widgets.py [TOPIC ...] [--dpi 200] [--draft-dpi 100] [--repeat 5]

For each control of each widget: move it to another value and back ``--repeat`` times, as a
browser would (``control.value = ...``), and split every redraw into

- *draw*: the plain update function ``draw(state, **values)`` (computation and artists),
- *render*: matplotlib's Agg drawing (only the dynamic artists where the widget blits),
- *encode*: the PNG encoding of the rendered pixels,

at the lecture's resolution (``--dpi``, default 200) and at the draft resolution used while a
slider is dragged (``--draft-dpi``). Prints the medians in ms, the PNG size, and the slowest
control per topic; the browser side (transfer, decode) is ``bench/browser.py``'s.

``--drag`` instead sweeps every slider across its range (25 values, or each of its stops) as a
drag does, a draft frame per value (``app.render("draft", ...)``: new values, so no kept PNG),
and prints the median and worst draft in ms (1000 / median bounds the redraws per second the
kernel can give) and the full frame at the end.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ipywidgets as widgets  # noqa: E402

from tnn_lib.widgets import TOPIC_WIDGETS, widgets_for_topic  # noqa: E402


def another_value(control):
    """A value of `control` other than its current one (None if it has no other)."""
    if isinstance(control, (widgets.Dropdown, widgets.RadioButtons, widgets.ToggleButtons, widgets.Select,
                            widgets.SelectionSlider)):
        opts = [o[1] if isinstance(o, tuple) else o for o in control.options]
        i = opts.index(control.value) if control.value in opts else 0
        return opts[(i + 1) % len(opts)] if len(opts) > 1 else None
    if isinstance(control, widgets.SelectMultiple):
        opts = [o[1] if isinstance(o, tuple) else o for o in control.options]
        chosen = tuple(control.value)
        return chosen[:-1] if len(chosen) > 1 else tuple(opts[:2])
    if isinstance(control, (widgets.Checkbox, widgets.ToggleButton)):
        return not control.value
    if isinstance(control, widgets.FloatLogSlider):
        v = control.base ** ((control.min + control.max) / 2)
        return v if abs(v - control.value) > 1e-12 else control.base ** control.max
    if isinstance(control, (widgets.IntSlider, widgets.FloatSlider)):
        step = control.step or 1
        v = control.value + 3 * step
        return type(control.value)(v if v <= control.max else control.value - 3 * step)
    return None


class Timer:
    """Splits a WidgetApp's refresh into draw / render / encode by wrapping its pieces."""

    def __init__(self):
        import tnn_lib.widgets._blit as blit
        self.blit = blit
        self.encode = blit.encode_png
        self.parts = dict(draw=0.0, encode=0.0)
        self.size = 0

        def encode(rgba, **kw):
            t0 = time.perf_counter()
            out = self.encode(rgba, **kw)
            self.parts["encode"] += time.perf_counter() - t0
            self.size = len(out)
            return out
        blit.encode_png = encode

    def wrap(self, app):
        draw = app.draw

        def timed(state, **values):
            t0 = time.perf_counter()
            out = draw(state, **values)
            self.parts["draw"] += time.perf_counter() - t0
            return out
        app.draw = timed

    def measure(self, fn) -> dict:
        self.parts = dict(draw=0.0, encode=0.0)
        t0 = time.perf_counter()
        fn()
        total = time.perf_counter() - t0
        return dict(total=total, draw=self.parts["draw"], encode=self.parts["encode"],
                    render=total - self.parts["draw"] - self.parts["encode"], size=self.size)


def bench_app(timer, app, dpi, draft_dpi, repeat):
    """One row per control: medians of total/draw/render/encode (full dpi) and total at the draft dpi."""
    timer.wrap(app)
    app.fig.set_dpi(dpi)
    app.refresh()
    rows = []
    for name, control in app.controls.items():
        value = another_value(control)
        if value is None:
            continue
        full, draft = [], []
        old = control.value
        for _ in range(repeat):
            for v in (value, old):
                full.append(timer.measure(lambda: setattr(control, "value", v)))
        if draft_dpi:
            for _ in range(repeat):
                for v in (value, old):
                    draft.append(timer.measure(lambda: app.render("draft", {**app.values(), name: v})))
            app.refresh()
        med = {k: statistics.median(m[k] for m in full) for k in full[0]}
        med["max"] = max(m["total"] for m in full)
        med["draft"] = statistics.median(m["total"] for m in draft) if draft else None
        med["draft_size"] = statistics.median(m["size"] for m in draft) if draft else None
        rows.append((name, med))
    return rows


def slider_values(control) -> list | None:
    """The values a drag across `control` passes (None: not a slider)."""
    import numpy as np

    if isinstance(control, widgets.SelectionSlider):
        return [o[1] if isinstance(o, tuple) else o for o in control.options]
    if isinstance(control, widgets.FloatLogSlider):
        return list(control.base ** np.linspace(control.min, control.max, 25))
    if isinstance(control, widgets.IntSlider):
        return sorted({int(round(v)) for v in np.linspace(control.min, control.max, 25)})
    if isinstance(control, widgets.FloatSlider):
        return [float(v) for v in np.linspace(control.min, control.max, 25)]
    return None


def bench_drag(topics, dpi) -> None:
    print(f"kernel-side drag: one draft per value across each slider, {dpi} dpi, ms")
    print(f"{'topic':<28} {'control':<18} {'draft':>6} {'max':>6} {'full':>6} {'values':>6}")
    for topic in topics:
        for app in widgets_for_topic(topic):
            app.fig.set_dpi(dpi)
            app.refresh()
            for name, control in app.controls.items():
                values = slider_values(control)
                if not values:
                    continue
                times = []
                for v in values:
                    t0 = time.perf_counter()
                    app.render("draft", {**app.values(), name: v})
                    times.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                app.render("full", {**app.values(), name: values[-1]})
                full = time.perf_counter() - t0
                app.refresh()
                print(f"{topic:<28} {name:<18} {1e3 * statistics.median(times):>6.0f} {1e3 * max(times):>6.0f} "
                      f"{1e3 * full:>6.0f} {len(values):>6}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("topics", nargs="*", default=list(TOPIC_WIDGETS), metavar="TOPIC")
    ap.add_argument("--dpi", type=int, default=200, help="the full-quality resolution (default 200, the lecture's)")
    ap.add_argument("--draft-dpi", type=int, default=None,
                    help="the draft resolution during a drag (default: the widgets' own, DRAFT_SCALE × dpi; 0: skip)")
    ap.add_argument("--repeat", type=int, default=3, help="changes there and back per control (default 3)")
    ap.add_argument("--drag", action="store_true", help="sweep every slider as a drag does, draft frames")
    args = ap.parse_args(argv)
    if args.drag:
        bench_drag(args.topics, args.dpi)
        return 0
    from tnn_lib.widgets import app as app_mod
    draft_dpi = args.draft_dpi if args.draft_dpi is not None else round(args.dpi * app_mod.DRAFT_SCALE)
    timer = Timer()
    print(f"kernel-side redraw at {args.dpi} dpi (draft {draft_dpi or '-'} dpi), medians of {2 * args.repeat} "
          f"changes per control, ms")
    print(f"{'topic':<28} {'control':<18} {'total':>6} {'max':>6} {'draw':>6} {'render':>6} {'encode':>6} "
          f"{'PNG kB':>7} {'draft':>6} {'kB':>5}")
    for topic in args.topics:
        for app in widgets_for_topic(topic):
            for name, m in bench_app(timer, app, args.dpi, draft_dpi, args.repeat):
                d = f"{1e3 * m['draft']:>6.0f} {m['draft_size'] / 1e3:>5.0f}" if m["draft"] is not None else ""
                print(f"{topic:<28} {name:<18} {1e3 * m['total']:>6.0f} {1e3 * m['max']:>6.0f} {1e3 * m['draw']:>6.0f} "
                      f"{1e3 * m['render']:>6.0f} {1e3 * m['encode']:>6.0f} {m['size'] / 1e3:>7.0f} {d}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
