"""flywheel.warehouse.scores_by_group (SQL) equals flywheel.metrics (scikit-learn) to 1e-12."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from flywheel.metrics import accuracy, auc, brier
from flywheel.warehouse import scores_by_group


def _frame(seed: int) -> pd.DataFrame:
    """Three groups of P(good) with many ties, exact 0.5s, NULLs, and 0/1 scores."""
    rng = np.random.default_rng(seed)
    parts = []
    for group, n in (("a", 5000), ("b", 777), ("c", 40)):
        y = rng.random(n) < 0.3
        p = np.where(y, rng.beta(3, 2, n), rng.beta(2, 3, n))
        p = np.round(p, 2) if group != "c" else (p > 0.5).astype(float)  # ties; 0/1 scores
        p[rng.random(n) < 0.05] = 0.5
        p[rng.random(n) < 0.05] = np.nan
        parts.append(pd.DataFrame({"grp": group, "p": p, "y": y}))
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_equal_the_python_metrics(seed: int) -> None:
    frame = _frame(seed)
    con = duckdb.connect()
    con.register("rows", frame)
    found = scores_by_group(con, "rows", ["grp"], "p", "y")
    assert sorted(found) == [("a",), ("b",), ("c",)]
    for (group,), s in found.items():
        part = frame[frame["grp"] == group]
        p, y = part["p"].to_numpy(), part["y"].to_numpy()
        assert (s.n, s.n_good) == (len(part), int(y.sum()))
        assert s.accuracy == pytest.approx(accuracy(p, y), abs=1e-12)
        assert s.auc == pytest.approx(auc(p, y), abs=1e-12)
        assert s.brier == pytest.approx(brier(p, y), abs=1e-12)
        assert s.good_share == pytest.approx(float(np.mean(y)), abs=1e-12)


def test_filter_null_truth_and_one_class() -> None:
    frame = pd.DataFrame(
        {
            "grp": ["a"] * 4 + ["b"] * 3,
            "p": [0.9, 0.2, 0.5, 0.7, 0.1, 0.8, 0.3],
            "y": [1, 0, 1, None, 1, 1, 1],
            "keep": [True, True, True, True, True, False, True],
        }
    )
    con = duckdb.connect()
    con.register("rows", frame)
    found = scores_by_group(con, "rows", ["grp"], "p", "y", where="keep = ?", params=[True])
    a, b = found[("a",)], found[("b",)]
    assert a.n == 3  # the NULL truth is not scored
    assert a.accuracy == pytest.approx(accuracy([0.9, 0.2, 0.5], [1, 0, 1]), abs=1e-12)
    assert a.auc == pytest.approx(auc([0.9, 0.2, 0.5], [1, 0, 1]), abs=1e-12)
    assert b.n == 2 and math.isnan(b.auc)  # one class only
    assert math.isnan(auc([0.1, 0.3], [1, 1]))
