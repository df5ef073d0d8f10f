"""lf_summary (SQL) equals Snorkel's LFAnalysis(L).lf_summary(Y), task by task, LF by LF.

For each label task, L is the task's LF columns of fct_lf_votes (the task's LFs in
lf_registry, in their order). Polarity, coverage, overlaps
and conflicts come from LFAnalysis(L).lf_summary() over all the task's outputs; correct,
incorrect and empirical accuracy from LFAnalysis(L_rated).lf_summary(Y_rated) over the outputs
with an explicit rating. One documented difference: an LF that never voted on a rated output
has empirical_accuracy null in SQL, where Snorkel prints 0.0 (its nan_to_num of 0 / 0).
"""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pandas as pd
import pytest
from snorkel.labeling import LFAnalysis

# Snorkel 0.10's lf_conflicts calls scipy.sparse.diags on int64 data: a scipy FutureWarning
pytestmark = pytest.mark.filterwarnings("ignore:Input has data type int64:FutureWarning")

TOLERANCE = 1e-12
#: quoted in SQL: `overlaps` is a DuckDB keyword
SUMMARY_COLUMNS = [
    "label_task", "lf_name", "lf_index", "polarity", "coverage", "overlaps", "conflicts",
    "correct", "incorrect", "empirical_accuracy",
]  # fmt: skip


def _select_list() -> str:
    return ", ".join(f'"{c}"' for c in SUMMARY_COLUMNS)


def _snorkel_summary(votes: pd.DataFrame, lf_columns: list[str]) -> pd.DataFrame:
    """Snorkel's lf_summary of one task's votes, in lf_summary's column names."""
    L = votes[lf_columns].to_numpy(dtype=np.int64)
    summary = LFAnalysis(L).lf_summary()
    out = pd.DataFrame(
        {
            "lf_name": lf_columns,
            "lf_index": range(len(lf_columns)),
            # Snorkel's polarity is a list of numpy ints; lf_summary prints it as a list
            "polarity": [str([int(v) for v in p]) for p in summary["Polarity"]],
            "coverage": summary["Coverage"].to_numpy(),
            "overlaps": summary["Overlaps"].to_numpy(),
            "conflicts": summary["Conflicts"].to_numpy(),
        }
    )
    rated = votes["explicit_label"].notna().to_numpy()
    if rated.any():
        Y = votes.loc[rated, "explicit_label"].to_numpy(dtype=np.int64)
        gold = LFAnalysis(L[rated]).lf_summary(Y)
        out["correct"] = gold["Correct"].to_numpy()
        out["incorrect"] = gold["Incorrect"].to_numpy()
        out["snorkel_accuracy"] = gold["Emp. Acc."].to_numpy()
    else:
        out["correct"] = out["incorrect"] = 0
        out["snorkel_accuracy"] = 0.0
    return out


def _assert_summary_equal(sql: pd.DataFrame, votes: pd.DataFrame, lf_columns: list[str]) -> None:
    """The SQL lf_summary rows of one task equal Snorkel's, row by row."""
    expected = _snorkel_summary(votes, lf_columns)
    sql = sql.sort_values("lf_index").reset_index(drop=True)
    assert list(sql["lf_name"]) == lf_columns
    assert list(sql["lf_index"]) == list(expected["lf_index"])
    assert list(sql["polarity"]) == list(expected["polarity"])
    for column in ["coverage", "overlaps", "conflicts"]:
        diff = np.abs(sql[column].to_numpy(dtype=float) - expected[column].to_numpy(dtype=float))
        assert diff.max() <= TOLERANCE, (column, sql[column].tolist(), expected[column].tolist())
    assert list(sql["correct"]) == list(expected["correct"])
    assert list(sql["incorrect"]) == list(expected["incorrect"])
    voted = (sql["correct"] + sql["incorrect"]).to_numpy() > 0
    accuracy = sql["empirical_accuracy"].to_numpy(dtype=float)
    snorkel_accuracy = expected["snorkel_accuracy"].to_numpy(dtype=float)
    assert np.abs(accuracy[voted] - snorkel_accuracy[voted]).max(initial=0.0) <= TOLERANCE
    # no rated vote: null in SQL (documented), 0.0 in Snorkel
    assert np.isnan(accuracy[~voted]).all()
    assert (snorkel_accuracy[~voted] == 0.0).all()


def _registry(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """``{task: [LF names in order]}`` from lf_registry."""
    rows = con.execute(
        "select label_task, list(lf_name order by lf_position) from lf_registry "
        "group by 1 order by 1"
    ).fetchall()
    return {task: list(lfs) for task, lfs in rows}


def test_lf_summary_equals_snorkel_for_every_task(built) -> None:
    con = built.connect()
    try:
        tasks = list(_registry(con).items())
        summary = con.execute(f"select {_select_list()} from lf_summary").df()
        per_task = {
            task: con.execute(
                "select * from fct_lf_votes where label_task = ? order by output_id", [task]
            ).df()
            for task, _ in tasks
        }
    finally:
        con.close()
    assert len(tasks) == 3
    n_rated = 0
    for task, lf_columns in tasks:
        assert len(lf_columns) >= 8, task
        votes = per_task[task]
        n_rated += int(votes["explicit_label"].notna().sum())
        _assert_summary_equal(summary[summary["label_task"] == task], votes, lf_columns)
    assert n_rated > 0  # the gold half of the comparison is exercised
    assert set(summary["label_task"]) == {task for task, _ in tasks}


def test_an_lf_that_never_votes(built) -> None:
    """An LF that abstains on every output: polarity '[]', coverage, overlaps and conflicts 0,
    no correct or incorrect vote, empirical accuracy null; the other LFs' overlaps and
    conflicts no longer count it. Checked by running the compiled int_lf_votes_long and
    lf_summary on a copy of the votes in which the first LF of every task never votes."""
    compiled = built.project.root / "target/compiled/flywheel/models/marts/labeling"
    long_sql, summary_sql = (
        re.sub(r'"[^"]+"\."main"\.', "", (compiled / name).read_text())
        for name in ("int_lf_votes_long.sql", "lf_summary.sql")
    )
    con = built.connect()
    try:
        registry = _registry(con)
        votes = con.execute("select * from fct_lf_votes").df()
    finally:
        con.close()
    silenced = [lfs[0] for lfs in registry.values()]
    votes[silenced] = -1
    every_lf = [lf for lfs in registry.values() for lf in lfs]
    votes["n_good_votes"] = (votes[every_lf] == 1).sum(axis=1)
    votes["n_bad_votes"] = (votes[every_lf] == 0).sum(axis=1)

    # the same SQL against unqualified copies of its inputs, in a scratch database
    scratch = duckdb.connect()
    try:
        scratch.register("votes_df", votes)
        scratch.execute("create table fct_lf_votes as select * from votes_df")
        scratch.execute(f"create table int_lf_votes_long as {long_sql}")
        summary = scratch.execute(
            f"select {_select_list()} from ({summary_sql}) as lf_summary"
        ).df()
    finally:
        scratch.close()

    never = summary[summary["lf_name"].isin(silenced)]
    assert len(never) == len(silenced) == 3
    assert (never["polarity"] == "[]").all()
    assert (never[["coverage", "overlaps", "conflicts"]] == 0).all().all()
    assert (never[["correct", "incorrect"]] == 0).all().all()
    assert never["empirical_accuracy"].isna().all()
    for task, lf_columns in registry.items():
        task_votes = votes[votes["label_task"] == task]
        _assert_summary_equal(summary[summary["label_task"] == task], task_votes, lf_columns)
