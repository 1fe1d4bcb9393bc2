"""What the grading parent does ahead of its first result: on a thread of its own, nicer than
the grading (the workers and their sandboxes boot meanwhile), the gradebook opened and the
similarity report's course texts read and hashed."""
from __future__ import annotations

import os
import threading

from autograder.runners import grade
from autograder.similarity import fingerprints
from autograder.similarity.report import course_sources, warm_course_sources
from grading_tools import ROOT


def test_the_work_ahead_of_the_first_result_runs_nicer_on_a_thread_of_its_own(monkeypatch, tmp_path):
    seen: dict = {}

    class Book:   # stands for the gradebook writer: records where and how nicely it was opened
        def __init__(self, *args):
            pass

        def open(self):
            tid = threading.get_native_id()
            seen["tid"], seen["nice"] = tid, os.getpriority(os.PRIO_PROCESS, tid)

        def close(self):
            seen["closed"] = True

    monkeypatch.setattr(grade, "LazyWriter", Book)
    me = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, me)
    writer = grade.ResultWriter(tmp_path, "sqlite://", None, tmp_path, {}, {}, None, {})
    writer.pending.put(None)   # no result: the writer ends after its work ahead
    writer._drain()
    assert seen["tid"] != me
    assert grade.AHEAD_NICE > 0 and seen["nice"] == min(19, before + grade.AHEAD_NICE)
    assert os.getpriority(os.PRIO_PROCESS, me) == before      # the writer's own thread is not slowed
    assert seen["closed"]


def test_warming_the_course_sources_hashes_every_given_text_for_the_report():
    fingerprints._text_hashes.cache_clear()
    warm_course_sources(ROOT, ["01_divergences"])
    given = course_sources(ROOT, "01_divergences").given
    assert given and sum(len(t) for t in given.values()) > 0
    misses = fingerprints._text_hashes.cache_info().misses
    for texts in given.values():
        fingerprints.given_hashes(texts)
    assert fingerprints._text_hashes.cache_info().misses == misses   # every one was hashed ahead
