"""lf_summary (SQL) equals Snorkel's LFAnalysis(L).lf_summary(Y), task by task, LF by LF.

For each label task, L is the task's LF columns of fct_lf_votes (the columns whose name starts
with the task's lf_prefix in the label_tasks seed, in table order). Polarity, coverage, overlaps
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


def _task_lf_columns(votes_columns: list[str], prefix: str) -> list[str]:
    return [c for c in votes_columns if c.startswith(prefix)]


def test_lf_summary_equals_snorkel_for_every_task(built) -> None:
    con = built.connect()
    try:
        tasks = con.execute("select label_task, lf_prefix from label_tasks order by 1").fetchall()
        votes_columns = [c[0] for c in con.execute("describe fct_lf_votes").fetchall()]
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
    for task, prefix in tasks:
        lf_columns = _task_lf_columns(votes_columns, prefix)
        assert len(lf_columns) >= 8, task
        votes = per_task[task]
        n_rated += int(votes["explicit_label"].notna().sum())
        _assert_summary_equal(summary[summary["label_task"] == task], votes, lf_columns)
    assert n_rated > 0  # the gold half of the comparison is exercised
    assert set(summary["label_task"]) == {task for task, _ in tasks}


def test_an_lf_that_never_votes(built) -> None:
    """An LF that abstains on every output: polarity '[]', coverage, overlaps and conflicts 0,
    no correct or incorrect vote, empirical accuracy null; the other LFs' overlaps and
    conflicts no longer count it. Checked by running the compiled lf_summary on a copy of the
    votes in which the first LF of every task never votes."""
    compiled = (
        built.project.root / "target/compiled/flywheel/models/marts/labeling/lf_summary.sql"
    ).read_text()
    con = built.connect()
    try:
        tasks = con.execute("select * from label_tasks").df()
        votes = con.execute("select * from fct_lf_votes").df()
    finally:
        con.close()
    silenced = []
    for prefix in tasks["lf_prefix"]:
        first_lf = _task_lf_columns(list(votes.columns), prefix)[0]
        votes[first_lf] = -1
        silenced.append(first_lf)

    # the same SQL against unqualified copies of its two inputs, in a scratch database
    sql = re.sub(r'"[^"]+"\."main"\.', "", compiled)
    scratch = duckdb.connect()
    try:
        scratch.register("votes_df", votes)
        scratch.register("tasks_df", tasks)
        scratch.execute("create table fct_lf_votes as select * from votes_df")
        scratch.execute("create table label_tasks as select * from tasks_df")
        summary = scratch.execute(f"select {_select_list()} from ({sql}) as lf_summary").df()
    finally:
        scratch.close()

    never = summary[summary["lf_name"].isin(silenced)]
    assert len(never) == len(silenced)
    assert (never["polarity"] == "[]").all()
    assert (never[["coverage", "overlaps", "conflicts"]] == 0).all().all()
    assert (never[["correct", "incorrect"]] == 0).all().all()
    assert never["empirical_accuracy"].isna().all()
    for task, prefix in zip(tasks["label_task"], tasks["lf_prefix"], strict=True):
        task_votes = votes[votes["label_task"] == task]
        lf_columns = _task_lf_columns(list(votes.columns), prefix)
        _assert_summary_equal(summary[summary["label_task"] == task], task_votes, lf_columns)
