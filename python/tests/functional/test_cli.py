"""The command line, in-process: exit codes, what is printed, and the files written.

Read-only commands run on a copy of the shared built warehouse (a process can hold one DuckDB
file open with one configuration only, and the fixture's dbt run keeps it open read-write), so
nothing here changes the warehouse the other functional tests read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from flywheel.cli import main
from flywheel.lf_flags import LfFlag, format_lf_flags, read_lf_flags
from flywheel.readme import evaluate_block, read_blocks
from flywheel.summary import format_summary, summarize

TASKS = ["chat_response", "code_suggestion", "search_result"]
#: a process that holds a warehouse open read-write until killed
HOLD_LOCK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(120)
"""


README = Path(__file__).resolve().parents[3] / "README.md"


def con_flags(built) -> list[LfFlag] | None:
    con = built.connect()
    try:
        return read_lf_flags(con, built.project.schema)
    finally:
        con.close()


def _printed(summaries, flags: list[LfFlag] | None) -> str:
    """What run and summary print last: the summary table, then the flagged LFs if any."""
    text = format_lf_flags(flags)
    return format_summary(summaries) + ("\n\n" + text if text else "") + "\n"


@pytest.fixture(autouse=True)
def _restore_warehouse_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI exports FLYWHEEL_DUCKDB_PATH (for dbt): undo it after each test."""
    monkeypatch.setenv("FLYWHEEL_DUCKDB_PATH", "unset-by-test")
    monkeypatch.delenv("FLYWHEEL_DUCKDB_PATH")


def _copy_warehouse(built, target: Path) -> Path:
    con = built.connect()
    try:
        (name,) = con.execute("select current_database()").fetchone()
        con.execute(f"attach '{target}' as warehouse_copy")
        con.execute(f'copy from database "{name}" to warehouse_copy')
        con.execute("detach warehouse_copy")
    finally:
        con.close()
    return target


@pytest.fixture(scope="module")
def warehouse(built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only copy of the built warehouse."""
    return _copy_warehouse(built, tmp_path_factory.mktemp("cli") / "copy.duckdb")


@pytest.fixture()
def reader(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(warehouse), read_only=True)
    yield con
    con.close()


def _cli(built, db: Path, *args: str) -> list[str]:
    return [args[0], "--project-dir", str(built.project.root), "--db", str(db), *args[1:]]


def _one_error_line(capsys: pytest.CaptureFixture[str], status: int, *, contains: str) -> str:
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("flywheel: error: "), err
    assert contains in lines[0], err
    return lines[0]


# --- run ---------------------------------------------------------------------------------------


def test_run_on_an_events_file_prints_the_summary_of_what_it_built(built) -> None:
    # The session fixture IS `flywheel run --events SAMPLE --truth TRUTH` through main().
    con = built.connect()
    try:
        summaries = summarize(con, "main", built.sim.truth_path)
        (n_labelled,) = con.execute("select count(*) from probabilistic_labels").fetchone()
    finally:
        con.close()
    assert [s.label_task for s in summaries] == TASKS
    assert built.stdout.endswith("\n" + _printed(summaries, con_flags(built)))
    assert all(s.label_model_auc is not None for s in summaries), "scored against --truth"
    assert sum(s.n_outputs for s in summaries) == n_labelled >= 0.95 * built.sim.n_outputs
    assert "dbt build" in built.stdout and "label job" in built.stdout  # progress lines


def test_run_with_a_missing_events_file(
    built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "never.duckdb"
    status = main(_cli(built, db, "run", "--events", str(tmp_path / "nope.parquet")))
    _one_error_line(capsys, status, contains="nope.parquet not found")
    assert not db.exists()


# --- summary -----------------------------------------------------------------------------------


def test_summary_prints_summarize(
    built, warehouse: Path, reader, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_cli(built, warehouse, "summary")) == 0
    out = capsys.readouterr().out
    flags = read_lf_flags(reader, built.project.schema)
    assert out == _printed(summarize(reader, built.project.schema), flags)
    table = out.split("\n\n")[0].splitlines()
    assert [line.split()[0] for line in table[1:]] == TASKS


def test_summary_with_truth_prints_the_scores(
    built, warehouse: Path, reader, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = built.sim.truth_path
    assert main(_cli(built, warehouse, "summary", "--truth", str(truth))) == 0
    out = capsys.readouterr().out
    summaries = summarize(reader, built.project.schema, truth)
    assert out == _printed(summaries, read_lf_flags(reader, built.project.schema))
    for summary in summaries:
        line = next(row for row in out.splitlines() if row.startswith(summary.label_task))
        assert f"{summary.label_model_auc:.3f}" in line.split("|")[2]
        assert f"{summary.majority_auc:.3f}" in line.split("|")[3]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ("'a' as output_id, 1 as x", "has no column is_good (it has output_id, x)"),
        ("1 as is_good", "has no column output_id"),
        ("'a' as output_id, 'maybe' as is_good", "is_good must be boolean or 0/1"),
    ],
)
def test_summary_with_a_bad_truth_file_is_one_line(
    built,
    warehouse: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    columns: str,
    message: str,
) -> None:
    bad = tmp_path / "truth.parquet"
    duckdb.execute(f"copy (select {columns}) to '{bad}' (format parquet)")
    status = main(_cli(built, warehouse, "summary", "--truth", str(bad)))
    _one_error_line(capsys, status, contains=message)


def test_summary_with_an_unreadable_truth_file(
    built, warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "truth.parquet"
    bad.write_bytes(b"not a parquet file\n" * 10)
    status = main(_cli(built, warehouse, "summary", "--truth", str(bad)))
    _one_error_line(capsys, status, contains=f"cannot read truth file {bad}")


# --- export ------------------------------------------------------------------------------------


def test_export_jsonl_with_a_task_filter(
    built, warehouse: Path, reader, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = tmp_path / "train.jsonl"
    assert main(_cli(built, warehouse, "export", str(out_path), "--task", "chat_response")) == 0
    (expected,) = reader.execute(
        "select count(*) from training_examples where label_task = 'chat_response' "
        "and request_text is not null and output_text is not null"
    ).fetchone()
    assert capsys.readouterr().out == f"wrote {expected:,} train examples to {out_path}\n"
    examples = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert len(examples) == expected > 100
    assert {e["label_task"] for e in examples} == {"chat_response"}
    assert [m["role"] for m in examples[0]["messages"]] == ["user", "assistant"]


def test_export_parquet_eval(
    built, warehouse: Path, reader, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = tmp_path / "eval.parquet"
    assert main(_cli(built, warehouse, "export", str(out_path), "--dataset", "eval")) == 0
    (expected,) = reader.execute("select count(*) from eval_examples").fetchone()
    assert capsys.readouterr().out == f"wrote {expected:,} eval examples to {out_path}\n"
    (n, splits) = reader.execute(
        "select count(*), list(distinct split) from read_parquet(?)", [str(out_path)]
    ).fetchone()
    assert n == expected > 0 and splits == ["eval"]


def test_export_an_unknown_task_is_one_line_and_writes_nothing(
    built, warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = tmp_path / "x.jsonl"
    status = main(_cli(built, warehouse, "export", str(out_path), "--task", "poetry"))
    line = _one_error_line(capsys, status, contains="unknown task 'poetry'")
    assert line.endswith("the warehouse has " + ", ".join(TASKS))
    assert not list(tmp_path.iterdir())


# --- evaluate, report --------------------------------------------------------------------------


def test_evaluate_prints_the_evaluation_the_readme_shows(
    built, warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `built` is the default sample, so this is the README's `evaluate` block, command and all
    # (regenerate with `python scripts/readme_figures.py --write`).
    assert main(_cli(built, warehouse, "evaluate", "--truth", str(built.sim.truth_path))) == 0
    out = capsys.readouterr().out
    assert "(c) probabilistic labels" in out
    assert read_blocks(README).get("evaluate") == evaluate_block(out.rstrip("\n")), (
        "README.md's evaluate figures are stale: run python scripts/readme_figures.py --write"
    )


def test_evaluate_with_a_bad_truth_file_is_one_line(
    built, warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "truth.csv"
    bad.write_text("output_id,good\na,1\n")
    status = main(_cli(built, warehouse, "evaluate", "--truth", str(bad)))
    _one_error_line(capsys, status, contains="has no column is_good")


def test_report_writes_the_page(
    built, warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "report.html"
    args = ["report", "--out", str(page), "--truth", str(built.sim.truth_path)]
    assert main(_cli(built, warehouse, *args)) == 0
    assert capsys.readouterr().out == f"wrote {page}\n"
    html = page.read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "<svg" in html
    assert all(task in html for task in TASKS)


def test_report_evaluate_needs_truth(
    built, warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "report.html"
    status = main(_cli(built, warehouse, "report", "--out", str(page), "--evaluate"))
    _one_error_line(capsys, status, contains="--evaluate needs --truth")
    assert not page.exists()


# --- label -------------------------------------------------------------------------------------


def test_label_one_task(built, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = _copy_warehouse(built, tmp_path / "label.duckdb")
    args = ["label", "--task", "search_result", "--epochs", "50", "--label-seed", "9"]
    assert main(_cli(built, db, *args)) == 0
    out = capsys.readouterr().out.splitlines()
    con = duckdb.connect(str(db), read_only=True)
    try:
        run_id, n_rows, n_patterns, n_lfs, seed, epochs = con.execute(
            "select run_id, n_rows, n_patterns, n_lfs, seed, n_epochs from label_model_runs "
            "where label_task = 'search_result' order by fitted_at desc limit 1"
        ).fetchone()
        (n_votes,) = con.execute(
            "select count(*) from fct_lf_votes where label_task = 'search_result'"
        ).fetchone()
    finally:
        con.close()
    assert out == [
        f"search_result: {n_rows:,} outputs, {n_patterns:,} patterns, {n_lfs} LFs "
        f"-> label_model_patterns (run {run_id})",
        "  snorkel (by default)",  # --model auto without a gold set
        "next: dbt build --selector after_labels",
    ]
    assert n_rows == n_votes and (seed, epochs) == (9, 50)


# --- errors shared by every command ------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["summary"], ["export", "x.jsonl"], ["evaluate", "--truth", "t.parquet"], ["label"]],
)
def test_a_missing_warehouse_is_one_line_and_not_created(
    built, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    db = tmp_path / "missing.duckdb"
    status = main(_cli(built, db, *command))
    _one_error_line(capsys, status, contains=f"warehouse {db} does not exist")
    assert not db.exists()


def test_no_project_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["summary", "--project-dir", str(tmp_path)])
    _one_error_line(capsys, status, contains="has no dbt_project.yml")


@pytest.mark.parametrize(
    "command",
    [["summary"], ["export", "x.jsonl"], ["evaluate", "--truth", "{truth}"], ["report"]],
)
def test_an_unbuilt_warehouse_says_run_flywheel(
    built, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    args = [arg.format(truth=built.sim.truth_path) for arg in command]
    status = main(_cli(built, db, *args))
    _one_error_line(capsys, status, contains="run `flywheel run`")


def test_a_locked_warehouse_is_named_as_such(
    built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        status = main(_cli(built, db, "summary"))
    finally:
        holder.kill()
        holder.wait()
    _one_error_line(capsys, status, contains="is locked by another process")
