"""The label job against a small hand-built warehouse in DuckDB."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from flywheel import label_job
from flywheel.errors import FlywheelError
from flywheel.label_job import LabelJobConfig, run_label_job

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
    con.execute(
        """
        create or replace table label_tasks as select * from (values
            ('code_suggestion', 'ide', 'lf_code_', 'accept/reject of code suggestions'),
            ('chat_response', 'chat', 'lf_chat_', 'chat answers'),
        ) t(label_task, surface, lf_prefix, description)
        """
    )


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
        "run_id", "label_task", "fitted_at", "n_rows", "n_patterns", "n_lfs", "lf_columns",
        "class_balance_good", "class_balance_source", "seed", "n_epochs", "lr", "l2",
        "train_loss", "n_rated", "accuracy_vs_ratings", "snorkel_version", "torch_version",
        "flywheel_version",
    ]  # fmt: skip
    assert cols("label_model_lf_weights") == [
        "run_id", "label_task", "lf_name", "coverage", "learned_accuracy",
        "p_good_vote_given_good", "p_bad_vote_given_bad", "p_abstain_given_good",
        "p_abstain_given_bad",
    ]  # fmt: skip
    expected_cols = ["run_id", "label_task", *LF_COLUMNS, "n_outputs", "p_good"]
    assert cols("label_model_patterns") == expected_cols
    types = {r[0]: r[1] for r in con.execute("describe label_model_patterns").fetchall()}
    assert types["lf_code_0"] == "INTEGER" and types["n_outputs"] == "BIGINT"

    lf_sql = ", ".join(LF_COLUMNS)
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
    on = " and ".join(f"p.{c} = v.{c}" for c in ["label_task", *LF_COLUMNS])
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
    run_label_job(con, CFG)
    first = table(con, "label_model_patterns", "label_task, n_outputs, p_good").drop(
        columns="run_id"
    )
    run_label_job(con, CFG)
    second = table(con, "label_model_patterns", "label_task, n_outputs, p_good").drop(
        columns="run_id"
    )
    pd.testing.assert_frame_equal(first, second)
    runs = con.execute("select count(distinct run_id), count(*) from label_model_runs")
    assert runs.fetchone() == (2, 4)
    assert con.execute("select count(distinct run_id) from label_model_patterns").fetchone() == (1,)


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
        ("drop table label_tasks", CFG, r"table main\.label_tasks not found"),
        (None, LabelJobConfig(votes_table="nope"), r"main\.nope not found"),
        (None, LabelJobConfig(schema="other"), r"other\.fct_lf_votes not found"),
        (
            "create or replace table fct_lf_votes as select output_id, label_task, "
            "explicit_label from fct_lf_votes",
            CFG,
            "no LF columns",
        ),
        (
            "alter table fct_lf_votes drop column lf_chat_3; "
            "alter table fct_lf_votes drop column lf_chat_2",
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
            "every lf_chat_\\* LF abstains",
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
            "insert into label_tasks values ('search_result', 'search', 'lf_search_', 'x')",
            LabelJobConfig(tasks=("search_result",)),
            r"'search_result' has 1 LF columns",
        ),
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

    original = label_job._insert_frame
    calls = []

    def flaky(connection, name, frame):
        calls.append(name)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        original(connection, name, frame)

    monkeypatch.setattr(label_job, "_insert_frame", flaky)
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
    monkeypatch.setattr(label_job, "_insert_frame", original)
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
