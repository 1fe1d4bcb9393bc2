"""What the student and the lecturer see, per topic, in headless Chromium at a device pixel ratio of 2.

Lecture mode (``tnn-course lecture TOPIC``) at 1280×720 and 1920×1080, and every released
notebook in JupyterLab after Run All (1600×1000): control labels cut off, the shortest
slider, the smallest text, where the main figure ends (viewport height), the figure's image
pixels per device pixel (sharpness; ≥ 1 is sharp), the smallest text inside the figures in
CSS px, widget errors, and for JupyterLab how many code cells Run All ran.

    .venv/bin/python bench/layout.py [TOPIC ...] [--no-lab] [--no-lecture]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from browser_tools import (ROOT, JupyterLab, Lecture, launch, layout_row, measure_layout,  # noqa: E402
                           open_lecture, run_all_in_jupyterlab)

from tnn_lib.topics import TOPICS  # noqa: E402

SIZES = ((1280, 720), (1920, 1080))


def figure_text_pt(topic) -> list:
    """Per widget of `topic`: (smallest font in points of its figure's texts, figure width in inches)."""
    from tnn_lib.widgets import widgets_for_topic
    out = []
    for app in widgets_for_topic(topic.id):
        fig = app.fig
        sizes = [t.get_fontsize() for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
                 if t.get_visible() and t.get_text().strip()]
        out.append((min(sizes) if sizes else None, fig.get_size_inches()[0]))
    return out


def fig_text_px(row_fig_width_css, pt_width):
    pt, width_in = pt_width
    return None if pt is None else pt / 72 * row_fig_width_css / width_in


def show(label, row, extra=""):
    print(f"{label:<34} cut {row['truncated']:>2}  slider {row['min_slider'] or '-':>4}  "
          f"text {row['min_font'] or 0:>4.1f}  main fig bottom {row['main_bottom']:>5} "
          f"{'fits' if row['fits'] else 'BELOW'}  img/device px {row['sharpness']:.2f}  err {row['errors']}{extra}",
          flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("topics", nargs="*", default=[t.id for t in TOPICS])
    ap.add_argument("--no-lab", action="store_true")
    ap.add_argument("--no-lecture", action="store_true")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright
    topics = [t for t in TOPICS if t.id in args.topics]
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        ctx = launch(pw, Path(tmp) / "profile", device_scale_factor=2)
        try:
            if not args.no_lecture:
                for topic in topics:
                    pts = figure_text_pt(topic)
                    with Lecture(topic.id) as lecture:
                        page = ctx.new_page()
                        for w, h in SIZES:
                            page.set_viewport_size({"width": w, "height": h})
                            open_lecture(page, lecture.url, len(topic.widgets))
                            m = measure_layout(page)
                            figs = [x.get("figure") or {"width": 0} for x in m["widgets"]]
                            fig_px = [fig_text_px(f["width"], p) for f, p in zip(figs, pts)]
                            show(f"lecture {topic.id} {w}×{h}", layout_row(m),
                                 f"  fig text {min(x for x in fig_px if x):.1f} px")
                        page.close()
            if not args.no_lab:
                work = Path(tmp) / "notebooks"
                shutil.copytree(ROOT / "notebooks", work)
                import nbformat
                with JupyterLab(work, Path(tmp) / "jupyter") as lab:
                    page = ctx.new_page()
                    page.set_viewport_size({"width": 1600, "height": 1000})
                    for topic in topics:
                        rel = f"{topic.id}/{topic.id}.ipynb"
                        n = len(nbformat.read(work / rel, as_version=4).cells)
                        state = run_all_in_jupyterlab(page, lab, rel, n)
                        m = measure_layout(page)
                        pts = figure_text_pt(topic)
                        figs = [x.get("figure") or {"width": 0} for x in m["widgets"]]
                        fig_px = [x for x in (fig_text_px(f["width"], p) for f, p in zip(figs, pts)) if x]
                        show(f"lab {topic.id}", layout_row(m) if m["widgets"] else dict(
                            truncated=0, min_slider=None, min_font=0, main_bottom=0, fits=False, sharpness=0, errors=0),
                             f"  ran {state['ran']}/{state['code']} code cells, {state['errors']} with an error, "
                             f"{len(m['widgets'])}/{len(topic.widgets)} widgets, news prompt {state['news']}, "
                             f"{state['seconds']:.0f} s" + (f", fig text {min(fig_px):.1f} px" if fig_px else ""))
                        page.goto("about:blank")
                    page.close()
        finally:
            ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
