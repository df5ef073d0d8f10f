"""Worlds where an assumption of the LFs fails: flywheel notices, with a gold set, and the
user can act on it without editing SQL.

Each test simulates a small world with a gold set, runs ``flywheel run --golden`` through the
CLI in a project copy, and reads what a user would read (lf_validation, the CLI's output, the
label job's runs). ``benchmarks/bench_worlds.py`` measures every world at full size.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from flywheel.cli import main
from flywheel.project import Project, load_project
from flywheel.simulate import simulate


def _cli(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(list(argv))
    assert status == 0, out.getvalue()[-3000:]
    return out.getvalue()


def _query(project: Project, sql: str) -> list[tuple[object, ...]]:
    con = project.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def exploratory(
    tmp_path_factory: pytest.TempPathFactory, copy_project: Callable[[Path], Path]
) -> tuple[Project, str]:
    """The exploratory-search world (reformulating is normal) with 400 gold outputs a surface."""
    root = copy_project(tmp_path_factory.mktemp("exploratory"))
    sim = simulate(
        root / "data", n_events=60_000, seed=11, world="exploratory_search", golden_size=400
    )
    assert sim.golden_path is not None
    db = root / "warehouse.duckdb"
    printed = _cli(
        "run", "--project-dir", str(root), "--db", str(db), "--events", str(sim.events_path),
        "--golden", str(sim.golden_path), "--truth", str(sim.truth_path),
    )  # fmt: skip
    return load_project(root, db), printed


def test_the_wrong_way_lf_is_flagged_with_what_to_do(exploratory) -> None:
    project, printed = exploratory
    ((flag, lower, upper, n, source),) = _query(
        project,
        "select flag, golden_accuracy_lower, golden_accuracy_upper, n_golden_votes, "
        "accuracy_source from lf_validation where lf_name = 'lf_search_rephrased'",
    )
    assert (flag, source) == ("wrong_direction", "golden"), (lower, upper, n)
    assert upper < 0.5
    assert "search_result.lf_search_rephrased: wrong direction (accuracy vs gold" in printed
    assert "invert the vote in labeling_functions() or leave it out of the fit" in printed
    assert "gold: 1,200 rows read: 1,200 valid, 0 repeated, 0 rejected" in printed


def test_a_flagged_lf_is_left_out_of_the_fit_by_config(exploratory) -> None:
    project, _ = exploratory
    printed = _cli(
        "label", "--project-dir", str(project.root), "--db", str(project.db_path),
        "--exclude-flagged",
    )  # fmt: skip
    flagged = {
        lf for (lf,) in _query(project, "select lf_name from lf_validation where is_flagged")
    }
    runs = _query(
        project,
        "select label_task, lf_columns, excluded_lfs from label_model_runs "
        "qualify row_number() over (partition by label_task order by fitted_at desc) = 1",
    )
    excluded = {lf for _, _, ex in runs for lf in str(ex or "").split(",") if lf}
    fitted = {lf for _, cols, _ in runs for lf in str(cols).split(",")}
    assert "lf_search_rephrased" in excluded and excluded == flagged
    assert not fitted & flagged
    assert "left out: " in printed


def test_with_gold_rare_good_outputs_get_the_class_prior_right(
    tmp_path: Path, copy_project: Callable[[Path], Path]
) -> None:
    # 10-15% of outputs are good: a uniform prior leaves every weakly voted output near a coin
    # flip; with 200 gold outputs a task, --model auto (the default) estimates the prior.
    root = copy_project(tmp_path / "rare")
    sim = simulate(root / "data", n_events=60_000, seed=5, world="rare_good", golden_size=200)
    assert sim.golden_path is not None
    db = root / "warehouse.duckdb"
    run_args = [
        "run",
        "--project-dir",
        str(root),
        "--db",
        str(db),
        "--events",
        str(sim.events_path),
    ]
    project = load_project(root, db)
    accuracy = {}
    for gold in (False, True):
        _cli(*run_args, *(["--golden", str(sim.golden_path)] if gold else []))
        rows = _query(
            project,
            f"""
            select l.label_task, avg(t.is_good::int), avg(((l.p_good >= 0.5) = t.is_good)::int)
            from probabilistic_labels as l
            inner join read_parquet('{sim.truth_path}') as t using (output_id)
            where l.output_id not in (select output_id from read_csv('{sim.golden_path}'))
            group by all order by all
            """,
        )
        priors = dict(
            _query(
                project,
                "select label_task, class_balance_good from label_model_runs "
                "qualify row_number() over (partition by label_task order by fitted_at desc) = 1",
            )
        )
        for task, true_share, acc in rows:
            assert 0.05 < true_share < 0.2, task
            if gold:
                assert abs(priors[task] - true_share) < 0.05, (task, priors[task], true_share)
                assert acc > accuracy[task] + 0.1, task  # the prior moves every weak label
            else:
                assert priors[task] == 0.5
            accuracy[task] = acc
