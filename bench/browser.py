"""Lecture pages in headless Chromium: how fast they appear and how fast they respond.

For each topic this starts ``tnn-course lecture TOPIC`` (the real command) and measures the
time from navigation to every widget's figure shown twice: *cold*, the moment the address is
printed, and *warm*, SETTLE seconds later, when Voilà's preheated kernel has the page
executed already (what a lecturer usually sees). On the warm page it then changes every
control ROUNDS times as a user would and measures each time from the change to the
redrawn figure decoded in the browser (kernel draw + PNG + websocket + image decode).
Prints one row per topic; the target is a median change ≤ 300 ms.

    .venv/bin/python bench/browser.py [TOPIC ...] [--rounds 3] [--dpi DPI] [--settle 10]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from browser_tools import Lecture, change_and_time, controls, launch, open_lecture  # noqa: E402

from tnn_lib.widgets import TOPIC_WIDGETS  # noqa: E402

TARGET_MS = 300


def bench_topic(ctx, topic: str, rounds: int, dpi: int, settle: float) -> dict:
    n_widgets = len(TOPIC_WIDGETS[topic][1])
    page = ctx.new_page()
    try:
        with Lecture(topic, extra_args=("--dpi", str(dpi)) if dpi else ()) as lecture:
            # cold: opened the moment the address is printed; warm: opened `settle` s later,
            # when the preheated kernel has the page executed (what a lecturer usually sees)
            cold = open_lecture(page, lecture.url, n_widgets)
            page.close()
            time.sleep(settle)
            page = ctx.new_page()
            load = open_lecture(page, lecture.url, n_widgets)
            times, slowest = [], ("", 0.0)
            cs = controls(page)
            for _ in range(rounds):
                for c in cs:
                    what, secs = change_and_time(page, c)
                    times.append(secs)
                    if secs > slowest[1]:
                        slowest = (what, secs)
        return dict(topic=topic, cold=cold, load=load, n=len(times), controls=len(cs), median=statistics.median(times),
                    p90=sorted(times)[int(0.9 * (len(times) - 1))], max=max(times), slowest=slowest[0])
    finally:
        page.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("topics", nargs="*", default=list(TOPIC_WIDGETS), metavar="TOPIC")
    ap.add_argument("--rounds", type=int, default=3, help="changes per control (default 3)")
    ap.add_argument("--dpi", type=int, default=None, help="passed to the lecture command (default: its default)")
    ap.add_argument("--settle", type=float, default=10.0,
                    help="seconds between the cold and the warm page load (default 10)")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright
    rows = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        ctx = launch(pw, Path(profile))
        try:
            for topic in args.topics:
                rows.append(bench_topic(ctx, topic, args.rounds, args.dpi, args.settle))
                r = rows[-1]
                print(f"  {topic}: done ({r['n']} changes)", file=sys.stderr, flush=True)
        finally:
            ctx.close()
        if ctx.external:
            print(f"warning: the pages tried to reach the web: {ctx.external}", file=sys.stderr)
    print(f"\nlecture pages in headless Chromium, dpi {args.dpi or 'default'}, {args.rounds} change(s) per control")
    print(f"{'topic':<18} {'cold load':>10} {'warm load':>10} {'controls':>8} {'changes':>7} {'median':>8} {'p90':>8} {'max':>8}  "
          f"slowest change")
    for r in rows:
        flag = "" if r["median"] * 1000 <= TARGET_MS else "  > target"
        print(f"{r['topic']:<18} {r['cold']:>8.2f} s {r['load']:>8.2f} s {r['controls']:>8} {r['n']:>7} {r['median'] * 1000:>5.0f} ms "
              f"{r['p90'] * 1000:>5.0f} ms {r['max'] * 1000:>5.0f} ms  {r['slowest']}{flag}")
    worst = max(r["median"] for r in rows) * 1000
    print(f"\nworst median change→redraw: {worst:.0f} ms (target ≤ {TARGET_MS} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
