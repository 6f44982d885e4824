"""gunicorn.conf.py: how many web processes the console is served by."""

import os
import runpy
from pathlib import Path

CONF = str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py")


def test_it_starts_one_process_per_core_and_one_more(monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    assert runpy.run_path(CONF)["workers"] == (os.cpu_count() or 1) + 1


def test_web_concurrency_sets_it(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    assert runpy.run_path(CONF)["workers"] == 5
