"""Median update time of every topic widget at its default settings.

    python bench/widgets.py [--repeat N]

For each widget: build it, then time `refresh()` (the plain update function plus the PNG
the browser receives) N times at the default control values, and once per control after
moving it to another value. Prints the median and the slowest control. Aim: <= 50 ms.
"""
from __future__ import annotations

import argparse
import statistics
import time

import ipywidgets as widgets

from tnn_lib.widgets import TOPIC_WIDGETS, widgets_for_topic


def _another_value(control):
    if isinstance(control, (widgets.Dropdown, widgets.RadioButtons, widgets.ToggleButtons, widgets.Select)):
        opts = [o[1] if isinstance(o, tuple) else o for o in control.options]
        others = [o for o in opts if o != control.value]
        return others[0] if others else None
    if isinstance(control, (widgets.Checkbox, widgets.ToggleButton)):
        return not control.value
    if isinstance(control, (widgets.IntSlider, widgets.FloatSlider, widgets.FloatLogSlider)):
        lo, hi = control.min, control.max
        if isinstance(control, widgets.FloatLogSlider):
            return control.base ** ((control.min + control.max) / 2)
        mid = (lo + hi) / 2
        return type(control.value)(mid) if mid != control.value else type(control.value)(hi)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    print(f"{'topic':<20} {'widget':<32} {'median ms':>10} {'min ms':>8} {'slowest control':>28}")
    for topic in TOPIC_WIDGETS:
        try:
            apps = widgets_for_topic(topic)
        except Exception as err:  # a topic still being written: say so, go on
            print(f"{topic:<20} {'(not available: ' + type(err).__name__ + ')':<32}")
            continue
        for app in apps:
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                app.refresh()
                times.append(time.perf_counter() - t0)
            worst, worst_name = 0.0, "-"
            for name, control in app.controls.items():
                value = _another_value(control)
                if value is None:
                    continue
                old = control.value
                t0 = time.perf_counter()
                control.value = value          # triggers the same refresh a browser would
                dt = time.perf_counter() - t0
                control.value = old
                if dt > worst:
                    worst, worst_name = dt, name
            name = getattr(app, "title", type(app).__name__)[:32]
            print(f"{topic:<20} {name:<32} {1e3 * statistics.median(times):>10.1f} {1e3 * min(times):>8.1f} "
                  f"{worst_name + f' {1e3 * worst:.0f} ms':>28}")


if __name__ == "__main__":
    main()
