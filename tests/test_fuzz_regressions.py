"""The fuzz targets on their seeds and on every finding kept in fuzz/regressions/TARGET/.

Each file in fuzz/regressions/ is an input a fuzz target once failed on (a crash, a hang,
a broken promise); replaying it through the same target must now pass. The seeds are
built by fuzz/make_corpus.py with the project's own tools.
"""

from __future__ import annotations

import os

import pytest

from fuzz import make_corpus
from fuzz.targets import TARGETS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGRESSIONS = os.path.join(ROOT, "fuzz", "regressions")
# Findings whose fix is on another branch: name -> what fixes it. Remove an entry when it lands.
PENDING: dict[str, str] = {}  # regression inputs whose fix has not landed yet: name -> why (strict xfail)


def _regressions() -> list:
    cases = []
    for target in sorted(os.listdir(REGRESSIONS)):
        for name in sorted(os.listdir(os.path.join(REGRESSIONS, target))):
            key = f"{target}/{name}"
            marks = [pytest.mark.xfail(strict=True, reason=PENDING[key])] if key in PENDING else []
            cases.append(pytest.param(target, name, id=key, marks=marks))
    return cases


@pytest.mark.parametrize("target, name", _regressions())
def test_regression_input_passes(target, name):
    with open(os.path.join(REGRESSIONS, target, name), "rb") as f:
        TARGETS[target](f.read())


def test_every_pending_entry_has_its_input():
    for key in PENDING:
        assert os.path.exists(os.path.join(REGRESSIONS, key)), key


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("corpus"))
    make_corpus.make(root)
    return root


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_target_passes_its_seeds(corpus, target):
    seeds = "module" if target == "differential" else target
    files = sorted(os.listdir(os.path.join(corpus, seeds)))
    assert files, f"no seeds for {target}"
    for name in files:
        with open(os.path.join(corpus, seeds, name), "rb") as f:
            TARGETS[target](f.read())
