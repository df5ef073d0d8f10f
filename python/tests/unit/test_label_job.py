"""The label job against a small hand-built warehouse in DuckDB."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import snorkel
import torch

from flywheel import __version__ as flywheel_version
from flywheel import cli, label_job, metrics
from flywheel.errors import FlywheelError
from flywheel.label_job import LabelJobConfig, run_label_job

REPO_ROOT = Path(__file__).resolve().parents[3]

# task -> (number of rows, [(accuracy, coverage) per LF])
TASKS = {
    "code_suggestion": (3000, [(0.9, 0.5), (0.8, 0.6), (0.75, 0.3), (0.85, 0.2), (0.65, 0.7)]),
    "chat_response": (2000, [(0.85, 0.6), (0.8, 0.5), (0.9, 0.3), (0.7, 0.6)]),
}
PREFIX = {"code_suggestion": "lf_code_", "chat_response": "lf_chat_"}
LF_COLUMNS = [
    *(f"lf_code_{i}" for i in range(5)),
    *(f"lf_chat_{i}" for i in range(4)),
    "lf_search_0",  # an LF of a task with no rows here: always abstains
]
REGISTERED = [c for c in LF_COLUMNS if c != "lf_search_0"]
"""The LFs of the registry (lf_search_0 is a column of no task: it is not an LF for the job)."""
CFG = LabelJobConfig(n_epochs=100)


def build_votes(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for task, (n, specs) in TASKS.items():
        y = (rng.random(n) < 0.6).astype(np.int64)
        frame = pd.DataFrame(
            {
                "output_id": [f"{task[:4]}-{i}" for i in range(n)],
                "label_task": task,
                "true_label": y,
            }
        )
        rated = rng.random(n) < 0.1
        frame["explicit_label"] = pd.array(np.where(rated, y, -9), dtype="Int64")
        frame.loc[~rated, "explicit_label"] = pd.NA
        for col in LF_COLUMNS:
            frame[col] = -1
        for i, (acc, cov) in enumerate(specs):
            vote = np.where(rng.random(n) < acc, y, 1 - y)
            frame[f"{PREFIX[task]}{i}"] = np.where(rng.random(n) < cov, vote, -1)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def make_warehouse(con: duckdb.DuckDBPyConnection, votes: pd.DataFrame | None = None) -> None:
    votes = build_votes() if votes is None else votes
    casts = ", ".join(
        f'"{c}"::INTEGER as "{c}"' if c.startswith("lf_") or c == "explicit_label" else f'"{c}"'
        for c in votes.columns
    )
    con.register("votes_df", votes)
    con.execute(f"create or replace table fct_lf_votes as select {casts} from votes_df")
    con.unregister("votes_df")
    # The majority vote, computed once by the votes model (as fct_lf_votes does), over the
    # task's own LFs; lf_search_0 belongs to no task (it is not in the registry).
    for task, prefix in PREFIX.items():
        lfs = [c for c in LF_COLUMNS if c.startswith(prefix)]
        good = " + ".join(f"({c} = 1)::int" for c in lfs)
        voted = " + ".join(f"({c} <> -1)::int" for c in lfs)
        if task == "code_suggestion":
            con.execute("alter table fct_lf_votes add column p_good_majority double")
        con.execute(
            f"update fct_lf_votes set p_good_majority = ({good})::double / nullif({voted}, 0) "
            f"where label_task = '{task}'"
        )
    registry = [(c, t) for t, prefix in PREFIX.items() for c in LF_COLUMNS if c.startswith(prefix)]
    con.execute("create or replace table lf_registry (lf_name varchar, label_task varchar)")
    con.executemany("insert into lf_registry values (?, ?)", registry)


@pytest.fixture
def con():
    connection = duckdb.connect()
    make_warehouse(connection)
    yield connection
    connection.close()


def table(con: duckdb.DuckDBPyConnection, name: str, order: str = "all") -> pd.DataFrame:
    return con.execute(f"select * from {name} order by {order}").df()


def test_job_writes_label_tables(con):
    runs = run_label_job(con, CFG)
    assert [r.label_task for r in runs] == ["chat_response", "code_suggestion"]
    assert len({r.run_id for r in runs}) == 1
    code = next(r for r in runs if r.label_task == "code_suggestion")
    assert code.n_rows == 3000 and code.n_lfs == 5
    assert code.lf_columns == tuple(f"lf_code_{i}" for i in range(5))
    assert code.class_balance_source == "uniform" and code.class_balance_good == 0.5
    assert code.n_rated > 0 and code.accuracy_vs_ratings > 0.75
    assert np.isfinite(code.train_loss)

    cols = lambda t: [r[0] for r in con.execute(f"describe {t}").fetchall()]  # noqa: E731
    assert cols("label_model_runs") == [
        "run_id", "label_task", "fitted_at", "votes_table", "n_rows", "n_patterns", "n_lfs",
        "lf_columns", "class_balance_good", "class_balance_source", "seed", "n_epochs", "lr",
        "l2", "train_loss", "n_rated", "accuracy_vs_ratings", "auc_vs_ratings",
        "majority_accuracy_vs_ratings", "snorkel_version", "torch_version", "numpy_version",
        "duckdb_version", "flywheel_version", "label_model", "n_golden", "golden_log_loss",
        "golden_accuracy", "golden_auc", "model_selected_by", "golden_candidate_losses",
        "excluded_lfs",
    ]  # fmt: skip
    assert cols("label_model_lf_weights") == [
        "run_id", "label_task", "lf_name", "coverage", "learned_accuracy",
        "p_good_vote_given_good", "p_bad_vote_given_bad", "p_abstain_given_good",
        "p_abstain_given_bad",
    ]  # fmt: skip
    expected_cols = ["run_id", "label_task", *REGISTERED, "n_outputs", "p_good"]
    assert cols("label_model_patterns") == expected_cols
    types = {r[0]: r[1] for r in con.execute("describe label_model_patterns").fetchall()}
    assert types["lf_code_0"] == "INTEGER" and types["n_outputs"] == "BIGINT"

    lf_sql = ", ".join(REGISTERED)
    expected = dict(
        con.execute(
            f"select label_task, count(distinct ({lf_sql})) from fct_lf_votes group by all"
        ).fetchall()
    )
    got = con.execute(
        "select label_task, count(*), sum(n_outputs), min(p_good), max(p_good), "
        "count(distinct run_id) from label_model_patterns group by all"
    ).fetchall()
    for task, n_patterns, n_outputs, lo, hi, n_runs in got:
        assert (
            n_patterns == expected[task] == next(r.n_patterns for r in runs if r.label_task == task)
        )
        assert n_outputs == TASKS[task][0]
        assert 0.0 <= lo <= hi <= 1.0
        assert n_runs == 1

    # Join the labels back to the outputs on all LF columns: one label per output.
    on = " and ".join(f"p.{c} = v.{c}" for c in ["label_task", *REGISTERED])
    per_task = con.execute(
        f"""
        select v.label_task, count(*), avg(((p.p_good > 0.5)::int = v.true_label)::int)
        from fct_lf_votes v join label_model_patterns p on {on} group by all
        """
    ).fetchall()
    for task, n, accuracy in per_task:
        assert n == TASKS[task][0]
        assert accuracy > 0.75, (task, accuracy)  # ~4% of outputs get no vote: coin flips

    weights = table(con, "label_model_lf_weights", "label_task, lf_name")
    assert len(weights) == 9
    assert weights["coverage"].between(0, 1).all()
    assert weights["learned_accuracy"].between(0, 1).all()
    best = weights.set_index("lf_name").loc["lf_chat_2", "learned_accuracy"]
    worst = weights.set_index("lf_name").loc["lf_chat_3", "learned_accuracy"]
    assert best > worst


def test_rerun_is_deterministic_and_replaces_patterns(con):
    def snapshot() -> dict[str, pd.DataFrame]:
        return {
            "runs": table(con, "label_model_runs", "label_task"),
            "weights": table(con, "label_model_lf_weights", "label_task, lf_name"),
            "patterns": table(con, "label_model_patterns"),
        }

    first_runs = run_label_job(con, CFG)
    first = snapshot()
    second_runs = run_label_job(con, CFG)
    second = snapshot()
    # Identical except run_id and fitted_at; the runs table keeps both runs.
    new_run = second["runs"]["run_id"] == second_runs[0].run_id
    assert new_run.sum() == 2 and (second["runs"]["run_id"] == first_runs[0].run_id).sum() == 2
    volatile = ["run_id", "fitted_at"]
    pd.testing.assert_frame_equal(
        first["runs"].drop(columns=volatile).reset_index(drop=True),
        second["runs"][new_run].drop(columns=volatile).reset_index(drop=True),
    )
    new_weights = second["weights"]["run_id"] == second_runs[0].run_id
    pd.testing.assert_frame_equal(
        first["weights"].drop(columns="run_id").reset_index(drop=True),
        second["weights"][new_weights].drop(columns="run_id").reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(
        first["patterns"].drop(columns="run_id"), second["patterns"].drop(columns="run_id")
    )
    assert con.execute("select count(distinct run_id) from label_model_patterns").fetchall() == [
        (1,)
    ]


def test_subset_of_tasks_keeps_other_labels(con):
    first = run_label_job(con, CFG)
    again = run_label_job(con, LabelJobConfig(n_epochs=100, tasks=("chat_response",)))
    assert [r.label_task for r in again] == ["chat_response"]
    by_task = dict(
        con.execute("select label_task, any_value(run_id) from label_model_patterns group by all")
        .fetchall()
    )  # fmt: skip
    assert by_task == {"code_suggestion": first[0].run_id, "chat_response": again[0].run_id}


def test_changed_lf_set_recreates_patterns(con):
    run_label_job(con, CFG)
    con.execute("alter table fct_lf_votes add column lf_code_new INTEGER default -1")
    con.execute("update fct_lf_votes set lf_code_new = 1 where label_task = 'code_suggestion'")
    con.execute("insert into lf_registry values ('lf_code_new', 'code_suggestion')")
    run_label_job(con, CFG)
    cols = [r[0] for r in con.execute("describe label_model_patterns").fetchall()]
    assert "lf_code_new" in cols
    assert con.execute("select count(distinct run_id) from label_model_patterns").fetchone() == (1,)


def test_class_balance_options(con):
    (chat, code) = run_label_job(con, LabelJobConfig(n_epochs=50, class_balance="ratings"))
    share = con.execute(
        "select avg(explicit_label) from fct_lf_votes where label_task = 'code_suggestion'"
    ).fetchone()[0]
    assert code.class_balance_source == "ratings"
    assert code.class_balance_good == pytest.approx(share)
    (chat, _) = run_label_job(con, LabelJobConfig(n_epochs=50, class_balance=0.7))
    assert (chat.class_balance_source, chat.class_balance_good) == ("fixed", 0.7)
    stored = con.execute(
        "select class_balance_source, class_balance_good from label_model_runs "
        "where run_id = ? and label_task = 'chat_response'",
        [chat.run_id],
    ).fetchone()
    assert stored == ("fixed", 0.7)


def test_no_gold_column(con):
    runs = run_label_job(con, LabelJobConfig(n_epochs=50, gold_column=None))
    assert all(r.n_rated == 0 and r.accuracy_vs_ratings is None for r in runs)
    assert con.execute(
        "select count(*) from label_model_runs where accuracy_vs_ratings is null"
    ).fetchone() == (2,)


@pytest.mark.parametrize(
    ("setup", "config", "match"),
    [
        ("drop table fct_lf_votes", CFG, r"table main\.fct_lf_votes not found: run `dbt build`"),
        ("drop table lf_registry", CFG, r"LF registry main\.lf_registry not found"),
        (None, LabelJobConfig(votes_table="nope"), r"main\.nope not found"),
        (None, LabelJobConfig(schema="other"), r"other\.fct_lf_votes not found"),
        (
            "create or replace table fct_lf_votes as select output_id, label_task, "
            "explicit_label, p_good_majority from fct_lf_votes",
            CFG,
            r"LF\(s\) lf_chat_0, .* of main\.lf_registry are not columns of main\.fct_lf_votes",
        ),
        (
            "create or replace table fct_lf_votes as select output_id, label_task, "
            "explicit_label, p_good_majority from fct_lf_votes",
            LabelJobConfig(registry_table=None),
            "no LF columns",
        ),
        (
            "alter table fct_lf_votes drop column lf_chat_3; "
            "alter table fct_lf_votes drop column lf_chat_2; "
            "delete from lf_registry where lf_name in ('lf_chat_2', 'lf_chat_3')",
            CFG,
            r"task 'chat_response' has 2 LF columns .* at least 3",
        ),
        (
            "update fct_lf_votes set lf_code_2 = 2 where output_id = 'code-5'",
            CFG,
            "LF column lf_code_2 .* 1 NULL or out-of-range",
        ),
        (
            "update fct_lf_votes set lf_chat_1 = null where label_task = 'chat_response'",
            CFG,
            "LF column lf_chat_1 .* 2000 NULL or out-of-range",
        ),
        (
            "alter table fct_lf_votes alter lf_chat_1 type VARCHAR",
            CFG,
            "LF column lf_chat_1 .* has type VARCHAR",
        ),
        (
            "update fct_lf_votes set lf_chat_0 = -1, lf_chat_1 = -1, lf_chat_2 = -1, "
            "lf_chat_3 = -1",
            CFG,
            "every lf_registry LF abstains on every row of task 'chat_response'",
        ),
        (None, LabelJobConfig(min_rows=2500), r"'chat_response' has 2000 rows .* min_rows=2500"),
        (None, LabelJobConfig(class_balance="balanced"), "invalid class balance 'balanced'"),
        (None, LabelJobConfig(class_balance=1.5), "invalid class balance 1.5"),
        (None, LabelJobConfig(class_balance=0.0), "invalid class balance 0.0"),
        (
            "update fct_lf_votes set explicit_label = 1 where explicit_label is not null",
            LabelJobConfig(class_balance="ratings"),
            "needs both good and bad ratings",
        ),
        (None, LabelJobConfig(class_balance="ratings", gold_column=None), "needs a gold"),
        (None, LabelJobConfig(gold_column="rating"), "column 'rating' not found"),
        (None, LabelJobConfig(tasks=("search_result",)), "unknown task.*search_result"),
        (
            "insert into lf_registry values ('lf_search_0', 'search_result')",
            LabelJobConfig(tasks=("search_result",)),
            r"'search_result' has 1 LF columns",
        ),
        # Any votes table: the column options and what goes wrong with them.
        (None, LabelJobConfig(id_column="event_id"), r"column 'event_id' not found.*--id-column"),
        (None, LabelJobConfig(task_column="product"), r"'product' not found.*--task-column"),
        (
            None,
            LabelJobConfig(registry_table=None, lf_prefix="vote_"),
            r"no LF columns \(named vote_\*\).*--lf-prefix",
        ),
        (None, LabelJobConfig(lf_prefix=""), "LF column prefix is empty"),
        (None, LabelJobConfig(task_column=None, task_name=""), "task name is empty"),
        (
            None,
            LabelJobConfig(task_column=None, tasks=("code_suggestion",)),
            r"unknown task\(s\) code_suggestion: without a task column .* 'default'",
        ),
        (
            None,
            LabelJobConfig(task_column=None, lf_prefix="lf_chat_1"),
            r"task 'default' has 1 LF columns \(lf_chat_1\*\).*at least 3",
        ),
        (
            None,
            LabelJobConfig(registry_table=None, lf_prefix="lf_code_1"),
            r"has 1 LF columns \(lf_code_1\*\)",
        ),
        (
            None,
            LabelJobConfig(registry_table="", tasks=("search_result",)),
            r"no rows for task\(s\) search_result in column label_task .*chat_response",
        ),
        (
            "update fct_lf_votes set label_task = null",
            LabelJobConfig(registry_table=None),
            "label_task of main.fct_lf_votes is NULL on every row",
        ),
        (
            "drop table lf_registry",
            CFG,
            r"lf_registry not found: .* --lf-registry ''",
        ),
        (
            "alter table fct_lf_votes add column p_good INTEGER default -1",
            LabelJobConfig(registry_table=None, lf_prefix="p_"),
            "LF column p_good .* clashes with a column of label_model_patterns",
        ),
        (
            "update fct_lf_votes set lf_code_0 = -1, lf_code_1 = -1, lf_code_2 = -1, "
            "lf_code_3 = -1, lf_code_4 = -1",
            LabelJobConfig(tasks=("code_suggestion",)),
            "every lf_registry LF abstains on every row of task 'code_suggestion'",
        ),
        (None, LabelJobConfig(memory_limit="lots"), "invalid memory limit 'lots'"),
        (None, LabelJobConfig(chunk_patterns=0), "chunk_patterns must be at least 1"),
    ],
)
def test_user_errors(con, setup, config, match):
    if setup:
        for statement in setup.split("; "):
            con.execute(statement)
    with pytest.raises(FlywheelError, match=match) as info:
        run_label_job(con, config)
    assert "\n" not in str(info.value)
    tables = {
        r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
    }
    assert not tables & {"label_model_runs", "label_model_patterns", "label_model_lf_weights"}


def test_failure_mid_write_keeps_previous_labels(con, monkeypatch):
    run_label_job(con, CFG)
    before = {
        t: table(con, t)
        for t in ("label_model_runs", "label_model_lf_weights", "label_model_patterns")
    }

    original = label_job.tables.insert_frame
    calls = []

    def flaky(connection, name, frame):
        calls.append(name)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        original(connection, name, frame)

    monkeypatch.setattr(label_job.tables, "insert_frame", flaky)
    with pytest.raises(RuntimeError, match="disk on fire"):
        run_label_job(con, LabelJobConfig(n_epochs=100, seed=99))
    assert len(calls) == 2
    for name, frame in before.items():
        pd.testing.assert_frame_equal(table(con, name), frame)

    # Also when the LF set changed (the patterns table would be dropped and recreated).
    con.execute("alter table fct_lf_votes add column lf_code_new INTEGER default 0")
    calls.clear()
    with pytest.raises(RuntimeError, match="disk on fire"):
        run_label_job(con, CFG)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(table(con, name), frame)

    # The connection is usable afterwards (no transaction left open).
    monkeypatch.setattr(label_job.tables, "insert_frame", original)
    assert len(run_label_job(con, CFG)) == 2


def test_file_database_and_schema(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema analytics")
        connection.execute("use analytics")
        make_warehouse(connection)
        connection.execute("use main")
        runs = run_label_job(connection, LabelJobConfig(schema="analytics", n_epochs=50))
    assert len(runs) == 2
    with duckdb.connect(str(path), read_only=True) as connection:
        n = connection.execute(
            "select sum(n_outputs) from analytics.label_model_patterns"
        ).fetchone()
    assert n == (5000,)


# --- what a run records ------------------------------------------------------------------


def _join_on(columns: list[str]) -> str:
    return " and ".join(f"p.{c} = v.{c}" for c in ["label_task", *columns])


def test_runs_record_versions_settings_and_metrics(con):
    runs = {r.label_task: r for r in run_label_job(con, CFG)}
    stored = table(con, "label_model_runs", "label_task")
    no_gold = ["golden_log_loss", "golden_accuracy", "golden_auc", "golden_candidate_losses"]
    assert stored[no_gold].isna().all().all()  # no gold set: no gold metrics, no selection
    assert (stored["n_golden"] == 0).all() and (stored["model_selected_by"] == "default").all()
    assert (stored["excluded_lfs"] == "").all()
    stored = stored.drop(columns=no_gold)
    assert not stored.drop(columns=["accuracy_vs_ratings", "auc_vs_ratings"]).isna().any().any()
    for row in stored.itertuples():
        assert row.votes_table == "main.fct_lf_votes"
        assert row.lf_columns == ",".join(runs[row.label_task].lf_columns)
        assert (row.seed, row.n_epochs, row.lr, row.l2) == (123, 100, 0.01, 0.0)
        assert (row.snorkel_version, row.torch_version) == (snorkel.__version__, torch.__version__)
        assert (row.numpy_version, row.duckdb_version) == (np.__version__, duckdb.__version__)
        assert row.flywheel_version == flywheel_version
        assert row.n_patterns == runs[row.label_task].n_patterns > 10
        assert np.isfinite(row.train_loss)

    # The metrics against explicit ratings, computed from patterns, equal per-output scoring.
    on = _join_on(REGISTERED)
    for task, run in runs.items():
        rated = con.execute(
            f"""
            select p.p_good, coalesce(v.p_good_majority, 0.5) as p_majority, v.explicit_label
            from fct_lf_votes v join label_model_patterns p on {on}
            where v.label_task = ? and v.explicit_label is not null
            """,
            [task],
        ).df()
        assert run.n_rated == len(rated) > 100
        y = rated["explicit_label"].astype(int)
        assert run.accuracy_vs_ratings == pytest.approx(metrics.accuracy(rated["p_good"], y))
        assert run.auc_vs_ratings == pytest.approx(metrics.auc(rated["p_good"], y))
        assert run.majority_accuracy_vs_ratings == pytest.approx(
            metrics.accuracy(rated["p_majority"], y)
        )
        assert run.auc_vs_ratings > 0.8


def test_majority_vote_is_read_from_the_votes_table_not_recomputed(con):
    # The votes model computes the majority vote once; the job only reads it (per pattern)
    # for majority_accuracy_vs_ratings. Flipping the column flips the metric; without a
    # majority column the metric is NULL.
    (before, _) = run_label_job(con, CFG)
    con.execute("update fct_lf_votes set p_good_majority = 1 - p_good_majority")
    (after, _) = run_label_job(con, CFG)
    assert before.majority_accuracy_vs_ratings is not None
    assert after.majority_accuracy_vs_ratings == pytest.approx(
        1 - before.majority_accuracy_vs_ratings
    )
    (none, _) = run_label_job(con, LabelJobConfig(n_epochs=100, majority_column=None))
    assert none.majority_accuracy_vs_ratings is None
    assert "p_good_majority" not in table(con, "label_model_patterns").columns


def test_old_runs_table_gains_new_columns(con):
    con.execute("create table label_model_runs (run_id VARCHAR, label_task VARCHAR, n_rows BIGINT)")
    con.execute("insert into label_model_runs values ('old', 'chat_response', 7)")
    runs = run_label_job(con, CFG)
    stored = table(con, "label_model_runs", "run_id")
    assert len(stored) == 3 and "duckdb_version" in stored.columns
    old = stored[stored["run_id"] == "old"].iloc[0]
    assert old["n_rows"] == 7 and pd.isna(old["duckdb_version"])
    assert set(stored["run_id"]) == {"old", runs[0].run_id}


def test_memory_limit_is_set_and_restored(con, monkeypatch):
    def setting() -> str:
        return con.execute("select current_setting('memory_limit')").fetchall()[0][0]

    seen = []
    original = label_job.votes.fetch_patterns

    def spy(connection, *args):
        seen.append(setting())
        return original(connection, *args)

    monkeypatch.setattr(label_job.votes, "fetch_patterns", spy)
    default = setting()
    run_label_job(con, LabelJobConfig(n_epochs=20, memory_limit="512MiB"))
    assert seen == ["512.0 MiB"] and setting() == default  # the default comes back exactly
    con.execute("set memory_limit = '3GB'")
    run_label_job(con, LabelJobConfig(n_epochs=20, memory_limit="256MiB"))
    assert seen[-1] == "256.0 MiB" and setting() in ("2.7 GiB", "2.6 GiB")  # as reported


# --- any votes table ---------------------------------------------------------------------

TEAM_COLUMNS = {f"lf_code_{i}": f"vote_{name}" for i, name in enumerate("abcde")}


def make_team_votes(con: duckdb.DuckDBPyConnection) -> None:
    """A votes table computed elsewhere: its own id, LF names, rating and no task column."""
    renamed = ", ".join(f"{old} as {new}" for old, new in TEAM_COLUMNS.items())
    con.execute(
        f"""
        create table team_votes as
        select output_id as event_key, explicit_label as thumbs, {renamed}, 'ignored' as note
        from fct_lf_votes where label_task = 'code_suggestion'
        """
    )


TEAM_CFG = LabelJobConfig(
    votes_table="team_votes",
    registry_table="no_such_registry",  # not read without a task column
    id_column="event_key",
    task_column=None,
    task_name="ide",
    lf_prefix="vote_",
    gold_column="thumbs",
    majority_column=None,
    n_epochs=100,
)


def test_votes_table_without_task_column_is_one_task(con):
    make_team_votes(con)
    (run,) = run_label_job(con, TEAM_CFG)
    assert (run.label_task, run.n_rows, run.n_lfs) == ("ide", 3000, 5)
    assert run.lf_columns == tuple(TEAM_COLUMNS.values())
    assert run.votes_table == "main.team_votes" and run.n_rated > 0
    team = table(con, "label_model_patterns")
    assert list(team.columns) == [
        "run_id", "label_task", *TEAM_COLUMNS.values(), "n_outputs", "p_good"
    ]  # fmt: skip
    assert set(team["label_task"]) == {"ide"} and team["n_outputs"].sum() == 3000

    # The same votes under the registry (fct_lf_votes, task code_suggestion) give the same
    # model: identical P(good) per pattern.
    (reference,) = run_label_job(con, LabelJobConfig(n_epochs=100, tasks=("code_suggestion",)))
    ref = table(con, "label_model_patterns").rename(
        columns={old: new for old, new in TEAM_COLUMNS.items()}
    )
    assert reference.n_patterns == run.n_patterns
    keys = list(TEAM_COLUMNS.values())
    merged = team.merge(ref, on=keys, suffixes=("_team", "_ref"), validate="one_to_one")
    assert len(merged) == len(team)
    np.testing.assert_array_equal(merged["p_good_team"], merged["p_good_ref"])
    np.testing.assert_array_equal(merged["n_outputs_team"], merged["n_outputs_ref"])
    assert reference.accuracy_vs_ratings == run.accuracy_vs_ratings


def test_empty_strings_mean_none(con):
    make_team_votes(con)
    config = LabelJobConfig(
        votes_table="team_votes", id_column="event_key", task_column="", registry_table="",
        lf_prefix="vote_", gold_column="", majority_column="", n_epochs=20,
    )  # fmt: skip
    (run,) = run_label_job(con, config)
    assert (run.label_task, run.n_rated, run.accuracy_vs_ratings) == ("default", 0, None)


def test_task_column_without_registry_uses_every_lf(con):
    con.execute("drop table lf_registry")
    con.execute("insert into fct_lf_votes by name select 'x-1' as output_id")  # NULL task: skipped
    con.execute(
        "update fct_lf_votes set " + ", ".join(f"{c} = -1" for c in LF_COLUMNS)
        + " where label_task is null"
    )  # fmt: skip
    runs = run_label_job(con, LabelJobConfig(registry_table=None, n_epochs=100))
    assert [r.label_task for r in runs] == ["chat_response", "code_suggestion"]
    assert all(r.lf_columns == tuple(LF_COLUMNS) and r.n_lfs == 10 for r in runs)
    assert [r.n_rows for r in runs] == [2000, 3000]
    got = con.execute(
        "select label_task, sum(n_outputs), min(p_good), max(p_good) "
        "from label_model_patterns group by all order by all"
    ).fetchall()
    assert [(t, n) for t, n, _, _ in got] == [("chat_response", 2000), ("code_suggestion", 3000)]
    assert all(0 <= lo < 0.5 < hi <= 1 for _, _, lo, hi in got)
    # An LF that never votes on a task has no learned accuracy there.
    weights = con.execute(
        "select label_task, lf_name, coverage, learned_accuracy from label_model_lf_weights"
    ).fetchall()
    assert len(weights) == 20
    for task, lf, coverage, learned in weights:
        assert (learned is None) == (coverage == 0) == (not lf.startswith(PREFIX[task])), lf
    # Outputs still get good labels (the other tasks' LFs abstain on them).
    on = _join_on(LF_COLUMNS)
    accuracy = con.execute(
        f"select avg(((p.p_good > 0.5)::int = v.true_label)::int) "
        f"from fct_lf_votes v join label_model_patterns p on {on}"
    ).fetchall()[0][0]
    assert accuracy > 0.75

    (only,) = run_label_job(
        con, LabelJobConfig(registry_table=None, tasks=("code_suggestion",), n_epochs=20)
    )
    assert only.label_task == "code_suggestion" and only.n_rows == 3000


# --- through the command line ------------------------------------------------------------


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project directory (what load_project reads) and a warehouse file with votes."""
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as connection:
        make_warehouse(connection)
        make_team_votes(connection)
    # load_project exports the path; setenv makes monkeypatch remove it after the test.
    monkeypatch.setenv("FLYWHEEL_DUCKDB_PATH", str(db))
    return tmp_path, db


def run_cli(capsys, project_dir: Path, db: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["label", "--project-dir", str(project_dir), "--db", str(db), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_labels_a_team_votes_table(project, capsys):
    project_dir, db = project
    code, out, err = run_cli(
        capsys, project_dir, db,
        "--votes-table", "team_votes", "--id-column", "event_key", "--task-column", "",
        "--task-name", "ide", "--lf-prefix", "vote_", "--gold-column", "thumbs",
        "--lf-registry", "", "--majority-column", "", "--epochs", "50", "--label-seed", "5",
        "--memory-limit", "1GB",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert "ide: 3,000 outputs" in out
    with duckdb.connect(str(db), read_only=True) as connection:
        stored = connection.execute(
            "select label_task, n_rows, n_lfs, seed, n_epochs, votes_table from label_model_runs"
        ).fetchall()
    assert stored == [("ide", 3000, 5, 5, 50, "main.team_votes")]


@pytest.mark.parametrize(
    ("setup", "args", "match"),
    [
        (None, ["--votes-table", "nope"], r"table main\.nope not found"),
        (
            "update fct_lf_votes set lf_code_2 = 7 where output_id = 'code-5'",
            [],
            r"LF column lf_code_2 .* 1 NULL or out-of-range",
        ),
        (None, ["--lf-registry", "", "--lf-prefix", "vote_"], r"no LF columns \(named vote_\*\)"),
        (None, ["--task", "chat_response", "--min-rows", "2001"], r"has 2000 rows"),
        (
            "update team_votes set vote_a = -1, vote_b = -1, vote_c = -1, vote_d = -1, vote_e = -1",
            [
                "--votes-table",
                "team_votes",
                "--id-column",
                "event_key",
                "--task-column",
                "",
                "--lf-prefix",
                "vote_",
                "--gold-column",
                "",
                "--majority-column",
                "",
            ],
            r"every vote_\* LF abstains on every row of task 'default'",
        ),  # fmt: skip
        (None, ["--lf-registry", "", "--lf-prefix", "lf_chat_1"], "has 1 LF columns"),
        (None, ["--class-balance", "0.7", "--epochs", "0"], "n_epochs must be at least 1"),
    ],
)
def test_cli_user_errors_exit_2_with_one_line(project, capsys, setup, args, match):
    project_dir, db = project
    if setup:
        with duckdb.connect(str(db)) as connection:
            connection.execute(setup)
    code, out, err = run_cli(capsys, project_dir, db, *args)
    assert code == 2 and out == ""
    assert err.startswith("flywheel: error: ") and err.count("\n") == 1, err
    assert re.search(match, err), err
    assert "Traceback" not in err


HOLD_LOCK = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("create table if not exists held (x integer)")
print("locked", flush=True)
sys.stdin.read()  # hold the write lock until the test closes stdin
con.close()
"""


def test_cli_reports_a_locked_warehouse(project, capsys):
    project_dir, db = project
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, out, err = run_cli(capsys, project_dir, db, "--epochs", "20")
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("flywheel: error: ")
    assert "locked" in err and str(db.resolve()) in err, err
    # Once the other process is gone, the same command works.
    code, out, err = run_cli(capsys, project_dir, db, "--epochs", "20")
    assert (code, err) == (0, "")


def test_cli_label_options_map_to_the_config():
    def config(*argv: str) -> LabelJobConfig:
        return cli._label_config(cli.build_parser().parse_args(["label", *argv]), "analytics")

    default = config()
    assert default == LabelJobConfig(schema="analytics", memory_limit="256MB")
    custom = config(
        "--votes-table", "v", "--lf-registry", "", "--id-column", "key", "--task-column", "",
        "--task-name", "ide", "--lf-prefix", "vote_", "--gold-column", "", "--memory-limit",
        "none", "--task", "ide", "--class-balance", "0.3", "--min-rows", "5",
    )  # fmt: skip
    assert custom == LabelJobConfig(
        schema="analytics", votes_table="v", registry_table=None, id_column="key",
        task_column=None, task_name="ide", lf_prefix="vote_", gold_column=None,
        memory_limit=None, tasks=("ide",), class_balance=0.3, min_rows=5,
    )  # fmt: skip
    assert config("--memory-limit", "2GB").memory_limit == "2GB"


# --- label models: snorkel (the default), dawid-skene, majority -----------------------------


def _patterns_of_task(con: duckdb.DuckDBPyConnection, task: str) -> pd.DataFrame:
    """The task's LF columns, n_outputs and p_good as the job wrote them."""
    lfs = [c for c in REGISTERED if c.startswith(PREFIX[task])]
    return con.execute(
        f"select {', '.join(lfs)}, n_outputs, p_good from label_model_patterns "
        f"where label_task = ? order by {', '.join(lfs)}",
        [task],
    ).df()


def test_default_model_is_snorkel_exactly_as_before(con):
    # The default run (model='auto' without a gold set) is Snorkel's LabelModel on the task's
    # patterns, bit for bit: P(good) is exactly PatternLabelModel's with the job's settings.
    from flywheel.labelmodel import PatternLabelModel

    runs = run_label_job(con, CFG)
    assert LabelJobConfig().model == "auto"
    assert [r.label_model for r in runs] == ["snorkel", "snorkel"]
    assert con.execute("select distinct label_model from label_model_runs").fetchall() == [
        ("snorkel",)
    ]
    for task in TASKS:
        got = _patterns_of_task(con, task)
        votes = got.drop(columns=["n_outputs", "p_good"]).to_numpy()
        model = PatternLabelModel().fit_patterns(
            votes, got["n_outputs"].to_numpy(), class_balance=[0.5, 0.5], seed=123, n_epochs=100
        )
        np.testing.assert_array_equal(got["p_good"], model.predict_proba_patterns(votes)[:, 1])
    first = _patterns_of_task(con, "code_suggestion")
    run_label_job(con, LabelJobConfig(n_epochs=100, model="snorkel"))
    pd.testing.assert_frame_equal(first, _patterns_of_task(con, "code_suggestion"))


def _snapshot(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, pd.DataFrame]:
    return {
        "runs": con.execute(
            "select * exclude (run_id, fitted_at) from label_model_runs where run_id = ? "
            "order by label_task",
            [run_id],
        ).df(),
        "weights": con.execute(
            "select * exclude (run_id) from label_model_lf_weights where run_id = ? order by all",
            [run_id],
        ).df(),
        "patterns": con.execute("select * exclude (run_id) from label_model_patterns order by all")
        .df(),
    }  # fmt: skip


def test_dawid_skene_run_learns_the_prior_and_writes_its_confusion(con):
    from flywheel.dawid_skene import fit_dawid_skene

    config = LabelJobConfig(model="dawid-skene")
    runs = {r.label_task: r for r in run_label_job(con, config)}
    stored = table(con, "label_model_runs", "label_task").set_index("label_task")
    weights = table(con, "label_model_lf_weights", "label_task, lf_name").set_index("lf_name")
    truth = dict(
        con.execute("select label_task, avg(true_label) from fct_lf_votes group by all").fetchall()
    )
    for task, run in runs.items():
        row = stored.loc[task]
        assert (row.label_model, row.class_balance_source) == ("dawid-skene", "learned")
        assert row.class_balance_good == run.class_balance_good
        assert abs(run.class_balance_good - truth[task]) < 0.05  # build_votes: P(good) 0.6
        assert pd.isna(row.lr) and pd.isna(row.l2) and 0 < row.n_epochs < 1000
        assert np.isfinite(row.train_loss) and row.train_loss > 0
        assert run.accuracy_vs_ratings > 0.75 and run.auc_vs_ratings > 0.8
        # P(good) is exactly the module's fit on the same patterns.
        got = _patterns_of_task(con, task)
        fit = fit_dawid_skene(
            got.drop(columns=["n_outputs", "p_good"]).to_numpy(), got["n_outputs"].to_numpy()
        )
        np.testing.assert_array_equal(got["p_good"], fit.p_good)
        assert fit.prior_good == run.class_balance_good and fit.n_iter == row.n_epochs
        lfs = list(run.lf_columns)
        np.testing.assert_array_equal(weights.loc[lfs, "learned_accuracy"], fit.learned_accuracy())
        np.testing.assert_array_equal(
            weights.loc[lfs, "p_bad_vote_given_bad"], fit.confusion[:, 1, 0]
        )
        np.testing.assert_array_equal(
            weights.loc[lfs, "p_abstain_given_good"], fit.confusion[:, 0, 1]
        )
    assert weights["learned_accuracy"].between(0.5, 1, inclusive="neither").all()
    assert (
        weights.loc["lf_chat_2", "learned_accuracy"] > weights.loc["lf_chat_3", "learned_accuracy"]
    )
    on = _join_on(REGISTERED)
    accuracy = con.execute(
        f"select avg(((p.p_good > 0.5)::int = v.true_label)::int) "
        f"from fct_lf_votes v join label_model_patterns p on {on}"
    ).fetchall()[0][0]
    assert accuracy > 0.75
    # Reruns are identical (no randomness: the seed is recorded but unused).
    first = _snapshot(con, runs["chat_response"].run_id)
    (again, _) = run_label_job(con, replace(config, seed=999))
    second = _snapshot(con, again.run_id)
    second["runs"]["seed"] = first["runs"]["seed"]
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])


def test_majority_run_is_the_votes_tables_majority_vote(con):
    runs = run_label_job(con, LabelJobConfig(model="majority"))
    assert {(r.label_model, r.class_balance_source) for r in runs} == {("majority", "none")}
    stored = table(con, "label_model_runs")
    assert stored[["class_balance_good", "lr", "l2", "train_loss"]].isna().all().all()
    assert (stored["n_epochs"] == 0).all()
    # P(good) per output equals the votes model's p_good_majority (0.5 when nobody voted).
    diff = con.execute(
        f"select max(abs(p.p_good - coalesce(v.p_good_majority, 0.5))), count(*) "
        f"from fct_lf_votes v join label_model_patterns p on {_join_on(REGISTERED)}"
    ).fetchall()[0]
    assert diff == (0.0, 5000)
    weights = table(con, "label_model_lf_weights")
    assert weights["coverage"].between(0, 1).all() and weights["coverage"].gt(0).all()
    learned = ["learned_accuracy", "p_good_vote_given_good", "p_bad_vote_given_bad"]
    assert weights[learned].isna().all().all()
    # Coverage is the same whichever model is fitted.
    run_label_job(con, CFG)
    both = table(con, "label_model_lf_weights").groupby(["label_task", "lf_name"])["coverage"]
    assert (both.nunique() == 1).all() and (both.size() == 2).all()


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (LabelJobConfig(model="dawid_skene"), r"unknown label model 'dawid_skene': use 'snorkel'"),
        (LabelJobConfig(model="dawid-skene", class_balance=0.3), "learns P\\(good\\) itself"),
        (LabelJobConfig(model="majority", class_balance="ratings"), "majority model has no prior"),
    ],
)
def test_model_errors_are_one_line_and_write_nothing(con, config, match):
    with pytest.raises(FlywheelError, match=match) as error:
        run_label_job(con, config)
    assert "\n" not in str(error.value)
    names = {
        r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
    }
    assert "label_model_runs" not in names


def test_old_runs_table_gains_the_label_model_column(con):
    run_label_job(con, CFG)
    con.execute("alter table label_model_runs drop column label_model")
    run_label_job(con, LabelJobConfig(model="dawid-skene"))
    stored = con.execute(
        "select label_model, count(*) from label_model_runs group by all order by all"
    ).fetchall()
    assert stored == [("dawid-skene", 2), (None, 2)]


def test_cli_model_option(project, capsys):
    def config(command: str, *argv: str) -> LabelJobConfig:
        args = cli.build_parser().parse_args([command, *argv])
        return cli._label_config(args, "main")

    assert config("label").model == config("run").model == "auto"
    assert config("label", "--model", "dawid-skene").model == "dawid-skene"
    assert config("run", "--model", "majority").model == "majority"
    project_dir, db = project
    code, out, err = run_cli(capsys, project_dir, db, "--model", "dawid-skene")
    assert (code, err) == (0, "") and "code_suggestion: 3,000 outputs" in out
    with duckdb.connect(str(db), read_only=True) as connection:
        assert connection.execute(
            "select distinct label_model, class_balance_source from label_model_runs"
        ).fetchall() == [("dawid-skene", "learned")]
    code, out, err = run_cli(capsys, project_dir, db, "--model", "em")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("flywheel: error: unknown label model 'em'"), err
