"""flywheel.export on the built warehouse: both formats, filters, and the errors a user can fix."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from flywheel.cli import _export_config, build_parser
from flywheel.errors import FlywheelError
from flywheel.export import PARQUET_COLUMNS, export_examples

JSONL_KEYS = ["messages", "label", "p_good", "weight", "output_id", "label_task", "model_version"]
TEXTS = ["request_text", "output_text"]


@pytest.fixture()
def con(built):
    con = built.connect()
    yield con
    con.close()


def _count(built, sql: str, params: list | None = None) -> int:
    return built.query(sql, params)[0][0]


def _columns(built, parquet: Path) -> list[str]:
    return [r[0] for r in built.query("describe select * from read_parquet(?)", [str(parquet)])]


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
    assert "user_id" in table_columns
    # every column but user_id (left out unless with_user_id) and the build's bookkeeping
    # (_loaded_at, _settings_hash: not data), in the table's order
    assert _columns(built, out) == [
        c for c in table_columns if c != "user_id" and not c.startswith("_")
    ]


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
        ({"with_user_id": True}, "x.jsonl", "JSONL examples never carry user_id"),
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


# --- privacy: --no-text, --with-user-id, the explicit column lists ---------------------------


def test_jsonl_without_text_has_no_messages_and_the_same_examples(
    built, con, tmp_path: Path
) -> None:
    schema = built.project.schema
    n_text = export_examples(con, schema, tmp_path / "text.jsonl")
    n = export_examples(con, schema, tmp_path / "bare.jsonl", with_text=False)
    with_text = [json.loads(line) for line in (tmp_path / "text.jsonl").read_text().splitlines()]
    bare = [json.loads(line) for line in (tmp_path / "bare.jsonl").read_text().splitlines()]
    assert n == n_text == len(bare) == len(with_text) > 1000
    assert all(list(example) == JSONL_KEYS[1:] for example in bare)
    assert all(list(example) == JSONL_KEYS for example in with_text)
    # the same examples in the same order, every other value equal
    assert bare == [{k: v for k, v in e.items() if k != "messages"} for e in with_text]


def test_parquet_without_text_has_no_text_columns_and_the_same_rows(
    built, con, tmp_path: Path
) -> None:
    schema = built.project.schema
    text, bare = tmp_path / "text.parquet", tmp_path / "bare.parquet"
    n_text = export_examples(con, schema, text, dataset="eval")
    n = export_examples(con, schema, bare, dataset="eval", with_text=False)
    assert n == n_text == _count(built, f'select count(*) from "{schema}".eval_examples') > 0
    text_columns = _columns(built, text)
    assert set(TEXTS) <= set(text_columns)
    assert _columns(built, bare) == [c for c in text_columns if c not in TEXTS]
    rows = built.query("select * from read_parquet(?)", [str(bare)])
    assert len(rows) == n
    assert rows == built.query(
        "select * exclude (request_text, output_text) from read_parquet(?)", [str(text)]
    )


def _some_texts(built, dataset: str) -> list[str]:
    """Request and output texts from labeled_examples of the dataset's examples (with both
    texts, so JSONL has them too): the smallest and largest of each (what a parquet file's
    column statistics would hold) and a few others, distinctive (20+ characters) and written
    verbatim in JSON (nothing to escape)."""
    schema = built.project.schema
    table = "training_examples" if dataset == "train" else "eval_examples"
    examples = f"""
        select l.* from "{schema}".labeled_examples as l
        semi join "{schema}".{table} as d on l.output_id = d.output_id
        where l.request_text is not null and l.output_text is not null
    """
    texts: list[str] = []
    for column in TEXTS:
        texts += [
            row[0]
            for row in built.query(
                f"""
                with examples as ({examples})
                (select min({column}) from examples)
                union all (select max({column}) from examples)
                union all (
                    select {column} from examples
                    where length({column}) >= 20 order by hash(output_id) limit 8
                )
                """
            )
        ]
    texts = [t for t in texts if len(t) >= 20 and json.dumps(t)[1:-1] == t]
    assert len(texts) >= 12
    return texts


def _values(built, path: Path) -> str:
    """Every value of an export as text, one string (parquet decoded, JSONL parsed)."""
    if path.suffix == ".jsonl":
        return "\0".join(
            str(value)
            for line in path.read_text().splitlines()
            for value in json.loads(line).values()
        )
    return "\0".join(
        str(value)
        for row in built.query("select * from read_parquet(?)", [str(path)])
        for value in row
    )


@pytest.mark.parametrize(("suffix", "dataset"), [(".jsonl", "train"), (".parquet", "eval")])
def test_no_exported_value_holds_text_without_text(
    built, con, tmp_path: Path, suffix: str, dataset: str
) -> None:
    schema = built.project.schema
    texts = _some_texts(built, dataset)
    text, bare = tmp_path / f"text{suffix}", tmp_path / f"bare{suffix}"
    export_examples(con, schema, text, dataset=dataset)
    export_examples(con, schema, bare, dataset=dataset, with_text=False)
    # the check finds them when they are there: the export with text has every one
    with_text = _values(built, text)
    assert [t for t in texts if t not in with_text] == []
    if suffix == ".jsonl":
        assert [t for t in texts if t.encode() not in text.read_bytes()] == []
    # without text: in no decoded value, nor anywhere in the file's bytes (parquet footers
    # hold each column's min and max: _some_texts includes them)
    values, raw = _values(built, bare), bare.read_bytes()
    assert [t for t in texts if t in values] == []
    assert [t for t in texts if t.encode() in raw] == []


def test_parquet_leaves_out_user_id_unless_asked(built, con, tmp_path: Path) -> None:
    schema = built.project.schema
    plain, with_id = tmp_path / "plain.parquet", tmp_path / "with_id.parquet"
    n_plain = export_examples(con, schema, plain)
    n = export_examples(con, schema, with_id, with_user_id=True)
    assert n == n_plain > 1000
    assert "user_id" not in _columns(built, plain)
    columns = _columns(built, with_id)
    assert columns == list(PARQUET_COLUMNS)
    assert [c for c in columns if c != "user_id"] == _columns(built, plain)
    joined, equal, with_user = built.query(
        f"""
        select count(l.output_id), count(*) filter (where e.user_id = l.user_id),
            count(e.user_id)
        from read_parquet(?) as e
        left join "{schema}".labeled_examples as l on e.output_id = l.output_id
        """,
        [str(with_id)],
    )[0]
    assert joined == equal == with_user == n


def test_a_column_a_mart_gains_is_not_exported(built, con, tmp_path: Path) -> None:
    full = tmp_path / "full.parquet"
    export_examples(con, built.project.schema, full, with_user_id=True)
    mart = duckdb.connect()
    try:
        mart.execute("create schema s")
        mart.execute(
            "create table s.training_examples as "
            "select *, 'GAINED_' || output_id as gained from read_parquet(?)",
            [str(full)],
        )
        mart.execute("create view s.labeled_examples as select * from s.training_examples")
        n_parquet = export_examples(mart, "s", tmp_path / "x.parquet", with_user_id=True)
        n_jsonl = export_examples(mart, "s", tmp_path / "x.jsonl")
        (n_gained,) = mart.execute("select count(gained) from s.training_examples").fetchone()
    finally:
        mart.close()
    assert n_parquet == n_gained > 0 and n_jsonl > 0
    assert _columns(built, tmp_path / "x.parquet") == list(PARQUET_COLUMNS)
    assert b"GAINED_" not in (tmp_path / "x.parquet").read_bytes()
    assert b"GAINED_" not in (tmp_path / "x.jsonl").read_bytes()
    assert "gained" not in json.loads((tmp_path / "x.jsonl").read_text().splitlines()[0])


def test_a_table_without_an_exported_column_is_one_clear_error(built, con, tmp_path: Path) -> None:
    full = tmp_path / "full.parquet"
    export_examples(con, built.project.schema, full)
    mart = duckdb.connect()
    try:
        mart.execute("create schema s")
        mart.execute(
            "create table s.training_examples as "
            "select * exclude (request_text, surface) from read_parquet(?)",
            [str(full)],
        )
        mart.execute("create view s.labeled_examples as select * from s.training_examples")
        with pytest.raises(FlywheelError) as info:
            export_examples(mart, "s", tmp_path / "x.parquet")
        # the text is not read without text: only surface is missing then
        with pytest.raises(FlywheelError) as bare:
            export_examples(mart, "s", tmp_path / "x.parquet", with_text=False)
    finally:
        mart.close()
    assert "s.training_examples has no column surface, request_text" in str(info.value)
    assert "s.training_examples has no column surface:" in str(bare.value)
    assert not (tmp_path / "x.parquet").exists()


@pytest.mark.parametrize(
    ("options", "with_text", "with_user_id"),
    [([], True, False), (["--no-text"], False, False), (["--with-user-id"], True, True),
     (["--no-text", "--with-user-id"], False, True)],
)  # fmt: skip
def test_cli_options_reach_the_config(
    options: list[str], with_text: bool, with_user_id: bool
) -> None:
    config = _export_config(build_parser().parse_args(["export", "x.parquet", *options]))
    assert (config.with_text, config.with_user_id) == (with_text, with_user_id)
