"""Lecture pages in headless Chromium: how fast every control redraws its figure, and how
well a dragged slider's figure follows the hand.

For each topic this starts ``tnn-course lecture TOPIC`` (the real command, 200 dpi unless
``--dpi``), opens the page at 1920×1080 once Voilà's preheated kernel has it executed, and

- changes every control ``--rounds`` times as a user does (slider: PageUp/PageDown on its
  handle; menus, toggles, checkboxes: a click), 0.5 s apart, and times each change from the input to the
  redrawn figure decoded in the browser (kernel draw + PNG + websocket + image decode), on the
  page's clock: from the first key, mouse, input or change event the page sees to the load
  event of the new figure (the "median"/"max" columns); the "with driver" column times the
  same change from the browser driver's call (Playwright locating the control, reading its
  state and focusing it: round trips that cost 50–100 ms on a loaded machine and are not the
  page's latency; the benchmark measured only this before);
- drags every slider's handle across its track for 2.5 s (50 mouse moves) and counts the
  figures shown during the drag (redraws per second), the new values the hand passed meanwhile
  (values per second: no more figures than that can differ; a slider of 21 stops dragged over
  half its track gives about 4 a second), the drafts and full frames, and the time from the
  release to the last (full-resolution) frame;
- leaves the page idle for ``--idle`` seconds and measures the CPU time used meanwhile by the
  lecture command, its Voilà server and its kernels.

``--lab`` measures the same in JupyterLab instead (issue 23 asks for both): one ``jupyter
lab`` server (tests/browser_tools.py's ``JupyterLab``: a fresh user with the workbook's
settings) on a throwaway copy of notebooks/, and for each topic its released notebook opened
at 1920×1080 with only its widget cells run, one after the other as a student does (select,
Ctrl+Enter; the answer cells would raise NotImplementedError and are not needed: each widget
cell imports its factory from tnn_lib.widgets and calls it), at the widgets' own dpi (144, not
the lecture page's 200); then every control of every widget output as above, and the idle CPU
of the JupyterLab server and its kernel.

``--load`` runs the whole benchmark a second time with one other process spinning on one
core (started here, stopped by its PID). The machine's load average is printed with each
run: the machine may be shared, and "idle" means only that this benchmark adds no load.

    .venv/bin/python bench/browser.py [TOPIC ...] [--lab] [--rounds 5] [--dpi DPI] [--load | --load-only] [--idle 10]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
ROOT = Path(__file__).resolve().parent.parent

from browser_tools import (JupyterLab, Lecture, change_and_time_in_page, controls, drag_slider,  # noqa: E402
                           launch, open_lecture, run_widget_cells_in_jupyterlab)

from tnn_lib.widgets import TOPIC_WIDGETS  # noqa: E402
from tnn_lib.widgets.app import DPI  # noqa: E402

MEDIAN_MS, MAX_MS, MIN_RATE = 100, 200, 10
PAUSE_S = 0.5   # between two timed changes: longer than tnn_lib.widgets.app.DRAG_GAP_S
VIEWPORT = {"width": 1920, "height": 1080}


def _cpu_seconds(procs) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except Exception:
            pass
    return total


def time_controls(page, topic: str, rounds: int) -> list[dict]:
    """Every control of the page's widgets (``.tnn-widget``, a lecture page or JupyterLab's
    output areas): `rounds` timed changes, and a drag for each slider; a row per control."""
    rows = []
    for c in controls(page):
        times, walls = [], []
        for _ in range(rounds):
            time.sleep(PAUSE_S)           # separate inputs, as a hand makes them (not a drag)
            _, secs, wall = change_and_time_in_page(page, c)
            times.append(secs)
            walls.append(wall)
        row = dict(topic=topic, widget=c["widget"], control=c["name"], kind=c["kind"],
                   median=statistics.median(times), max=max(times), n=len(times),
                   wall_median=statistics.median(walls), wall_max=max(walls))
        if c["kind"] == "slider":
            d = drag_slider(page, c)
            row.update(rate=d["per_second"], drafts=d["drafts"], full=d["full"], settle_ms=d["settle_ms"],
                       settled=d["settled"], values_rate=d["values_per_second"])
        rows.append(row)
        print(f"  {topic} {c['name']}: median {row['median'] * 1e3:.0f} ms, max {row['max'] * 1e3:.0f} ms "
              f"(with the driver's round trips: {row['wall_median'] * 1e3:.0f} / {row['wall_max'] * 1e3:.0f} ms)"
              + (f", drag {row['rate']:.1f}/s ({_fmt(row['values_rate'])} new values/s)" if "rate" in row else ""),
              file=sys.stderr, flush=True)
    return rows


def idle_cpu(procs, idle: float) -> float:
    """The CPU share `procs` use while the page stays open and nobody touches it."""
    time.sleep(1.0)
    c0 = _cpu_seconds(procs)
    time.sleep(idle)
    return (_cpu_seconds(procs) - c0) / idle


def bench_topic(ctx, topic: str, rounds: int, dpi: int | None, settle: float, idle: float) -> list[dict]:
    import psutil
    n_widgets = len(TOPIC_WIDGETS[topic][1])
    with Lecture(topic, extra_args=("--dpi", str(dpi)) if dpi else ()) as lecture:
        time.sleep(settle)                        # the preheated kernel executes the page
        page = ctx.new_page()
        try:
            open_lecture(page, lecture.url, n_widgets)
            rows = time_controls(page, topic, rounds)
            # idle: the page stays open, nobody touches it
            cpu = idle_cpu([psutil.Process(lecture.proc.pid)] + lecture.descendants(), idle)
            for r in rows:
                r["idle_cpu"] = cpu
        finally:
            page.close()
    return rows


def bench_lab_topic(ctx, lab, topic: str, rounds: int, idle: float) -> list[dict]:
    """`topic`'s released notebook in JupyterLab: its widget cells run (nothing else), then
    every control timed as on the lecture page; the idle CPU is the JupyterLab server's and
    its kernel's (one notebook open, the other topics' kernels shut down)."""
    import nbformat
    import psutil
    rel = f"{topic}/{topic}.ipynb"
    nb = nbformat.read(lab.root / rel, as_version=4)
    page = ctx.new_page()
    try:
        n, secs = run_widget_cells_in_jupyterlab(page, lab, rel, nb, TOPIC_WIDGETS[topic][1])
        if n != len(TOPIC_WIDGETS[topic][1]):
            print(f"warning: {rel} shows {n} of the topic's {len(TOPIC_WIDGETS[topic][1])} widgets",
                  file=sys.stderr)
        print(f"  {topic}: {n} widget cell(s) run in {secs:.1f} s", file=sys.stderr, flush=True)
        rows = time_controls(page, topic, rounds)
        cpu = idle_cpu([psutil.Process(lab.proc.pid)] + psutil.Process(lab.proc.pid).children(recursive=True), idle)
        for r in rows:
            r["idle_cpu"] = cpu
    finally:
        page.close()
    return rows


def run(topics, rounds, dpi, settle, idle, state: str, lab: bool = False) -> list[dict]:
    from playwright.sync_api import sync_playwright
    rows = []
    load0 = os.getloadavg()
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile, tempfile.TemporaryDirectory() as tmp:
        ctx = launch(pw, Path(profile), viewport=VIEWPORT)
        try:
            if lab:   # one server for every topic, on a throwaway copy of notebooks/, as the tests do
                work = Path(tmp) / "notebooks"
                shutil.copytree(ROOT / "notebooks", work)
                with JupyterLab(work, Path(tmp) / "jupyter") as server:
                    for topic in topics:
                        rows += bench_lab_topic(ctx, server, topic, rounds, idle)
            else:
                for topic in topics:
                    rows += bench_topic(ctx, topic, rounds, dpi, settle, idle)
        finally:
            ctx.close()
        if ctx.external:
            print(f"warning: the pages tried to reach the web: {ctx.external}", file=sys.stderr)
    load1 = os.getloadavg()
    report(rows, rounds, dpi, state, load0, load1, lab)
    return rows


def report(rows, rounds, dpi, state, load0, load1, lab: bool = False) -> None:
    where = (f"released notebooks in JupyterLab (widget cells run), {DPI} dpi (the widgets' own)" if lab
             else f"lecture pages at 1920×1080 in headless Chromium, {dpi or 200} dpi")
    print(f"\n## {state}: {where}, "
          f"{rounds} changes per control; load average {load0[0]:.1f} at the start, {load1[0]:.1f} at the end "
          f"({os.cpu_count()} cores)\n")
    print("| topic | control | median ms | max ms | with driver: median / max ms | drag redraws/s "
          "| new values/s passed | drafts / full | release → last frame ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        drag = (f"{r['rate']:.1f} | {_fmt(r['values_rate'])} | {r['drafts']} / {r['full']} | "
                + (f"{r['settle_ms']:.0f}" if r["settle_ms"] is not None else "-")
                + ("" if r["settled"] else " (not settled)")) if "rate" in r else "- | - | - | -"
        flag = "" if r["median"] * 1e3 <= MEDIAN_MS and r["max"] * 1e3 <= MAX_MS else " ✗"
        control = r["control"] if r["widget"] == 0 else f"{r['control']} (widget {r['widget'] + 1})"
        print(f"| {r['topic']} | {control} | {r['median'] * 1e3:.0f}{flag} | {r['max'] * 1e3:.0f} | "
              f"{r['wall_median'] * 1e3:.0f} / {r['wall_max'] * 1e3:.0f} | {drag} |")
    walls = [r["wall_median"] * 1e3 for r in rows]
    meds = [r["median"] * 1e3 for r in rows]
    maxs = [r["max"] * 1e3 for r in rows]
    rates = [r["rate"] for r in rows if "rate" in r]
    # a drag keeps up with the hand when it shows 10 figures a second, or, when the hand passes
    # fewer new values than that, (nearly) one figure per value
    kept_up = [r["rate"] >= min(MIN_RATE, 0.9 * r["values_rate"]) for r in rows
               if "rate" in r and r["values_rate"] is not None]
    idle = {r["topic"]: r["idle_cpu"] for r in rows}
    print(f"\n{state}: {sum(m <= MEDIAN_MS for m in meds)}/{len(meds)} controls with median ≤ {MEDIAN_MS} ms "
          f"(worst {max(meds):.0f} ms), {sum(m <= MAX_MS for m in maxs)}/{len(maxs)} with max ≤ {MAX_MS} ms "
          f"(worst {max(maxs):.0f} ms); with the driver's round trips {sum(m <= MEDIAN_MS for m in walls)}/{len(walls)} "
          f"controls with median ≤ {MEDIAN_MS} ms; drags: {sum(x >= MIN_RATE for x in rates)}/{len(rates)} sliders at "
          f"≥ {MIN_RATE} redraws/s (slowest {min(rates, default=0):.1f}/s), {sum(kept_up)}/{len(kept_up)} at ≥ 10/s or "
          f"≥ 90 % of the new values the hand passed; idle page CPU ("
          + ("JupyterLab server + kernel" if lab else "server + kernels") + "): " + ", ".join(f"{t} {100 * c:.1f} %" for t, c in idle.items()))


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.1f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("topics", nargs="*", default=list(TOPIC_WIDGETS), metavar="TOPIC")
    ap.add_argument("--rounds", type=int, default=5, help="changes per control (default 5)")
    ap.add_argument("--dpi", type=int, default=None, help="passed to the lecture command (default: its own, 200)")
    ap.add_argument("--settle", type=float, default=8.0,
                    help="seconds between the command's start and the page load (default 8)")
    ap.add_argument("--idle", type=float, default=10.0, help="seconds of idle page measured (default 10)")
    ap.add_argument("--load", action="store_true",
                    help="run again with one other process loading one core")
    ap.add_argument("--load-only", action="store_true",
                    help="only the run with one other process loading one core")
    ap.add_argument("--lab", action="store_true",
                    help="the released notebooks in JupyterLab instead of the lecture pages (--dpi, --settle unused)")
    args = ap.parse_args(argv)
    if args.lab and args.dpi:
        ap.error("--dpi applies to the lecture pages; in JupyterLab the widgets draw at their own dpi")
    if not args.load_only:
        run(args.topics, args.rounds, args.dpi, args.settle, args.idle, "no added load", args.lab)
    if args.load or args.load_only:
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            run(args.topics, args.rounds, args.dpi, args.settle, args.idle, "one other process loading one core",
                args.lab)
        finally:
            spinner.kill()
            spinner.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
