"""`dbt build` alone (analytics CI, before any label job) builds every model and passes every
test; the label-dependent models are built with null P(good). The build runs with non-default
knobs (retention windows, an LF threshold) to prove every knob can be turned."""

from __future__ import annotations

from pathlib import Path

import pytest

from flywheel.dbt import run_dbt
from flywheel.errors import FlywheelError
from flywheel.project import load_project
from flywheel.simulate import simulate


@pytest.fixture(scope="module")
def dbt_only(tmp_path_factory: pytest.TempPathFactory, copy_project):
    root = copy_project(tmp_path_factory.mktemp("dbt_only"))
    sim = simulate(root / "data", n_events=5_000, seed=3, fmt="csv")
    project = load_project(root, root / "warehouse.duckdb")
    lines: list[str] = []
    run_dbt(
        project,
        ["build"],
        dbt_vars={"flywheel__events_path": str(sim.events_path), **KNOBS},
        echo=lines.append,
    )
    return project, sim, lines


#: non-default retention windows and LF params: nothing downstream may hard-code the defaults
KNOBS = {
    "flywheel__retention_windows_seconds": [60, 300],
    "flywheel__lf_params": {
        "lf_code_accepted_retained_10m": {"retention_seconds": 300},
        "lf_search_top_result_clicked": {"max_position": 3},
    },
}


def _columns(con, table: str) -> list[str]:
    return [row[0] for row in con.execute(f"describe {table}").fetchall()]


def test_retention_windows_and_lf_params_can_be_turned(dbt_only) -> None:
    project, _, _ = dbt_only
    con = project.connect()
    try:
        signals = _columns(con, "fct_output_signals")
        rates = _columns(con, "signal_rates_daily")
        drift = {
            r[0] for r in con.execute("select distinct metric_name from drift_daily").fetchall()
        }
        registry = dict(con.execute("select lf_name, condition_sql from lf_registry").fetchall())
        (n_votes,) = con.execute(
            "select count(*) from fct_lf_votes where lf_code_accepted_retained_10m = 1"
        ).fetchone()
    finally:
        con.close()
    retained = [c for c in signals if c.startswith("is_retained_")]
    assert retained == ["is_retained_1m", "is_retained_5m"]
    assert [c for c in rates if c.startswith("retained_")] == [
        "retained_1m_rate",
        "retained_5m_rate",
    ]
    assert "is_retained_5m" in drift and "is_retained_10m" not in drift
    assert "reverted_after_seconds > 300" in registry["lf_code_accepted_retained_10m"]
    assert "first_click_position <= 3" in registry["lf_search_top_result_clicked"]
    assert n_votes > 0


def test_build_without_labels_leaves_p_good_null(dbt_only) -> None:
    project, _, _ = dbt_only
    con = project.connect()
    try:
        ((n, n_p),) = con.execute(
            "select count(*), count(p_good) from probabilistic_labels"
        ).fetchall()
        ((n_train,),) = con.execute("select count(*) from training_examples").fetchall()
    finally:
        con.close()
    assert n > 0 and n_p == 0
    assert n_train == 0


def test_csv_events_reconcile(dbt_only) -> None:
    project, sim, _ = dbt_only
    con = project.connect()
    try:
        ((valid, dup, rejected),) = con.execute(
            """
            select (select count(*) from stg_events),
                   (select count(*) from base_events__validated where is_duplicate),
                   (select count(*) from stg_events_rejected)
            """
        ).fetchall()
    finally:
        con.close()
    assert valid + dup + rejected == sim.n_rows


def test_progress_lines_name_models(dbt_only) -> None:
    _, _, lines = dbt_only
    assert any("fct_lf_votes" in line and "success" in line for line in lines)


def test_failed_build_is_one_clear_error(tmp_path: Path, copy_project) -> None:
    root = copy_project(tmp_path / "broken")
    project = load_project(root, root / "w.duckdb")
    with pytest.raises(FlywheelError, match=r"dbt build --select \+stg_events failed: .*error"):
        run_dbt(
            project,
            ["build", "--select", "+stg_events"],
            dbt_vars={"flywheel__events_path": str(tmp_path / "missing.parquet")},
            echo=lambda _: None,
        )
