"""flywheel.export on the built warehouse: both formats, filters, and the errors a user can fix."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from flywheel.errors import FlywheelError
from flywheel.export import export_examples

JSONL_KEYS = ["messages", "label", "p_good", "weight", "output_id", "label_task", "model_version"]


@pytest.fixture()
def con(built):
    con = built.connect()
    yield con
    con.close()


def _count(built, sql: str, params: list | None = None) -> int:
    return built.query(sql, params)[0][0]


def test_jsonl_train_has_the_chat_shape_and_every_example(built, con, tmp_path: Path) -> None:
    schema = built.project.schema
    out = tmp_path / "train.jsonl"
    n = export_examples(con, schema, out)
    expected = _count(
        built,
        f'select count(*) from "{schema}".training_examples '
        "where request_text is not null and output_text is not null",
    )
    assert n == expected > 1000
    lines = out.read_text().splitlines()
    assert len(lines) == n
    texts = dict(
        built.query(
            "select output_id, request_text || chr(0) || output_text "
            f'from "{schema}".training_examples'
        )
    )
    for line in lines[:: max(1, n // 300)]:
        example = json.loads(line)
        assert list(example) == JSONL_KEYS
        user, assistant = example["messages"]
        assert user["role"] == "user" and assistant["role"] == "assistant"
        assert f"{user['content']}\0{assistant['content']}" == texts[example["output_id"]]
        assert example["label"] in (0, 1)
        assert 0.0 <= example["p_good"] <= 1.0 and 0.0 <= example["weight"] <= 1.0
        assert example["label"] == int(example["p_good"] >= 0.5)
        assert example["weight"] == pytest.approx(abs(2 * example["p_good"] - 1))
    assert not [p for p in tmp_path.iterdir() if p.name != "train.jsonl"], "temp file left behind"


def test_parquet_eval_with_every_filter_matches_sql(built, con, tmp_path: Path) -> None:
    schema = built.project.schema
    task, version, first, last = built.query(
        f"""
        select label_task, model_version, min(shown_date), max(shown_date)
        from "{schema}".eval_examples
        group by all order by count(*) desc limit 1
        """
    )[0]
    since, until = first + timedelta(days=2), last - timedelta(days=2)
    out = tmp_path / "eval.parquet"
    n = export_examples(
        con,
        schema,
        out,
        dataset="eval",
        task=task,
        model_version=version,
        since=since,
        until=until,
        min_confidence=0.7,
    )
    expected = _count(
        built,
        f"""
        select count(*) from "{schema}".eval_examples
        where label_task = ? and model_version = ? and shown_date between ? and ?
            and confidence >= 0.7
        """,
        [task, version, since, until],
    )
    assert n == expected > 0
    exported = built.query(
        "select count(*), count(distinct label_task), min(shown_date), max(shown_date), "
        "min(confidence), any_value(split) from read_parquet(?)",
        [str(out)],
    )[0]
    assert exported[0] == n and exported[1] == 1
    assert since <= exported[2] <= exported[3] <= until
    assert exported[4] >= 0.7 and exported[5] == "eval"
    table_columns = [r[0] for r in built.query(f'describe "{schema}".eval_examples')]
    file_columns = [r[0] for r in built.query("describe select * from read_parquet(?)", [str(out)])]
    assert file_columns == table_columns


def test_format_from_suffix_or_argument(built, con, tmp_path: Path) -> None:
    schema = built.project.schema
    task = built.query(f'select min(label_task) from "{schema}".training_examples')[0][0]
    n_jsonl = export_examples(con, schema, tmp_path / "a.ndjson", task=task)
    n_parquet = export_examples(con, schema, tmp_path / "a.data", fmt="parquet", task=task)
    json.loads((tmp_path / "a.ndjson").read_text().splitlines()[0])
    assert (tmp_path / "a.data").read_bytes()[:4] == b"PAR1"
    # jsonl leaves out examples without text; parquet keeps every row of the table
    assert n_parquet == _count(
        built, f'select count(*) from "{schema}".training_examples where label_task = ?', [task]
    )
    assert 0 < n_jsonl <= n_parquet


@pytest.mark.parametrize(
    ("kwargs", "path", "message"),
    [
        ({"task": "no_such_task"}, "x.jsonl", "unknown task 'no_such_task'"),
        ({"model_version": "v0"}, "x.jsonl", "unknown model version 'v0'"),
        ({"since": date(2100, 1, 1)}, "x.jsonl", "nothing written"),
        ({"since": date(2026, 2, 1), "until": date(2026, 1, 1)}, "x.jsonl", "is after until"),
        ({"min_confidence": 1.5}, "x.jsonl", "not in [0, 1]"),
        ({}, "x.csv", "cannot tell the format"),
        ({}, "missing_dir/x.jsonl", "does not exist"),
        ({"dataset": "test"}, "x.jsonl", "unknown dataset"),
    ],
)
def test_errors_are_one_clear_line(
    built, con, tmp_path: Path, kwargs: dict, path: str, message: str
) -> None:
    with pytest.raises(FlywheelError) as info:
        export_examples(con, built.project.schema, tmp_path / path, **kwargs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert not list(tmp_path.iterdir()), "nothing is written on error"


def test_missing_tables_say_run_flywheel(built, con, tmp_path: Path) -> None:
    with pytest.raises(FlywheelError, match="run `flywheel run`"):
        export_examples(con, "no_such_schema", tmp_path / "x.jsonl")


def test_unwritable_target(built, con, tmp_path: Path) -> None:
    target = tmp_path / "a_directory.parquet"
    target.mkdir()
    with pytest.raises(FlywheelError, match="cannot write"):
        export_examples(con, built.project.schema, target)
