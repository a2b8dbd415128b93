"""Every zoo entry gets its verdict and diagnosis; the docs table is current."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handgrad.gradcheck import last_report
from tests.check.zoo import ENTRIES, write_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_the_zoo_is_large():
    bugs = [e for e in ENTRIES if e.expect != "ok"]
    assert len(bugs) >= 60, len(bugs)
    assert len({(e.family, e.name) for e in ENTRIES}) == len(ENTRIES)


@pytest.mark.parametrize("e", ENTRIES, ids=lambda e: f"{e.family}-{e.name}")
def test_zoo_entry(e):
    with np.errstate(all="ignore"):
        ok = e.run()
    rep = last_report()
    if e.expect == "ok":
        assert ok, rep["message"]
        return
    assert not ok, f"a wrong backward passed: {e.family} {e.name} ({e.line})"
    if e.expect != "any":
        assert rep["diagnosis"] == e.expect, rep["message"]


def test_docs_table_is_current(tmp_path):
    with np.errstate(all="ignore"):
        text = write_markdown(str(tmp_path / "zoo.md"))
    assert (ROOT / "docs" / "gradcheck-zoo.md").read_text(encoding="utf-8") == text, \
        "docs/gradcheck-zoo.md is stale: run python -m tests.check.zoo"
