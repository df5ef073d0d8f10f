"""probabilistic_labels scores every vote pattern in SQL, from the label job's weight tables.

On a copy of the shared built warehouse (the default sample): for each label model, the label
job, then `dbt build --select probabilistic_labels`; SQL's P(good) must equal the job's
P(good) (label_model_patterns) on every pattern it fitted, and an output whose pattern the fit
never saw gets the label the model itself gives that pattern.
"""

from __future__ import annotations

import os

import duckdb
import numpy as np
import pytest

from flywheel.dawid_skene import fit_dawid_skene, majority_p_good, predict_p_good
from flywheel.dbt import run_dbt
from flywheel.label_job import LabelJobConfig, run_label_job
from flywheel.labelmodel import PatternLabelModel
from flywheel.project import DB_ENV_VAR, Project, load_project

TOLERANCE = 1e-9
MODELS = ["snorkel", "dawid-skene", "majority"]


@pytest.fixture(scope="module")
def project(built, copy_project, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A project copy with a copy of the built warehouse: this module re-labels it freely."""
    root = copy_project(tmp_path_factory.mktemp("sql_scoring"))
    target = root / "flywheel.duckdb"  # the database name dbt compiles its relations with
    con = built.connect()
    try:
        (name,) = con.execute("select current_database()").fetchone()
        con.execute(f"attach '{target}' as warehouse_copy")
        con.execute(f'copy from database "{name}" to warehouse_copy')
        con.execute("detach warehouse_copy")
    finally:
        con.close()
    saved = os.environ.get(DB_ENV_VAR)
    try:
        return load_project(root, target)
    finally:  # load_project exports the path for dbt: the _warehouse_env fixture sets it
        if saved is None:
            os.environ.pop(DB_ENV_VAR, None)
        else:
            os.environ[DB_ENV_VAR] = saved


@pytest.fixture(autouse=True)
def _warehouse_env(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """dbt finds the warehouse through FLYWHEEL_DUCKDB_PATH: this module's copy, per test."""
    monkeypatch.setenv(DB_ENV_VAR, str(project.db_path))


def _label_and_score(project: Project, config: LabelJobConfig) -> None:
    con = project.connect()
    try:
        run_label_job(con, config)
    finally:
        con.close()
    run_dbt(project, ["build", "--select", "probabilistic_labels"], echo=lambda _: None)


def _lf_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0] for r in con.execute("select lf_name from lf_registry order by lf_position").fetchall()
    ]


def _sql_vs_job(con: duckdb.DuckDBPyConnection, lfs: list[str]) -> tuple[float, int, int, int]:
    """Max |SQL - job| over the fitted patterns, patterns matched, patterns, unlabelled outputs."""
    on = " and ".join(f"l.{c} = p.{c}" for c in ["label_task", *lfs])
    return con.execute(
        f"""
        with l as (
            select v.*, pl.p_good as sql_p_good
            from fct_lf_votes as v inner join probabilistic_labels as pl using (output_id)
        )
        select
            max(abs(l.sql_p_good - p.p_good)),
            count(distinct (p.label_task, {", ".join(f"p.{c}" for c in lfs)})),
            (select count(*) from label_model_patterns),
            (select count(*) from probabilistic_labels where p_good is null)
        from label_model_patterns as p inner join l on {on}
        """
    ).fetchone()


@pytest.mark.parametrize("excluded", [(), ("lf_code_rejected", "lf_chat_copied")])
@pytest.mark.parametrize("model", MODELS)
def test_sql_p_good_is_the_jobs_on_every_pattern(
    project: Project, model: str, excluded: tuple[str, ...]
) -> None:
    # LFs left out of the fit count for nothing, in SQL as in the job (majority included)
    config = LabelJobConfig(schema=project.schema, model=model, exclude_lfs=excluded)
    _label_and_score(project, config)
    con = project.connect()
    try:
        max_diff, matched, n_patterns, unlabelled = _sql_vs_job(con, _lf_columns(con))
        models = con.execute("select distinct label_model from probabilistic_labels").fetchall()
    finally:
        con.close()
    print(f"{model}: max |SQL - Python| = {max_diff:.3g} over {n_patterns} patterns")
    assert matched == n_patterns and unlabelled == 0
    assert max_diff <= TOLERANCE
    assert models == [(model,)]


def _votes_of(con: duckdb.DuckDBPyConnection, table: str, task: str, lfs: list[str]) -> tuple:
    cols = ", ".join(lfs)
    rows = con.execute(
        f"select {cols}, count(*) from {table} where label_task = ? group by all order by all",
        [task],
    ).fetchall()
    array = np.array(rows, dtype=np.int64)
    return array[:, :-1], array[:, -1]


@pytest.mark.parametrize("model", MODELS)
def test_a_pattern_the_fit_never_saw_gets_the_models_label(project: Project, model: str) -> None:
    """Fit on the votes minus every output of a few patterns; SQL labels those outputs as the
    model (refitted here on the same patterns, independently of the job) labels them."""
    task = "code_suggestion"
    con = project.connect()
    try:
        task_lfs = [
            r[0]
            for r in con.execute(
                "select lf_name from lf_registry where label_task = ? order by lf_position", [task]
            ).fetchall()
        ]
        key = ", ".join(task_lfs)
        held_out = (
            "exists (select 1 from held_out as h where "
            + " and ".join(f"h.{c} = v.{c}" for c in task_lfs)
            + ")"
        )
        # the 5 rarest covered patterns of the task: left out of the fit
        con.execute(
            f"""
            create or replace table held_out as
            select {key} from fct_lf_votes
            where label_task = '{task}' and is_covered
            group by all order by count(*), {key} limit 5
            """
        )
        con.execute(
            f"""
            create or replace view votes_subset as
            select * from fct_lf_votes as v
            where not (v.label_task = '{task}' and {held_out})
            """
        )
    finally:
        con.close()
    config = LabelJobConfig(schema=project.schema, model=model, votes_table="votes_subset")
    _label_and_score(project, config)
    con = project.connect()
    try:
        fitted, counts = _votes_of(con, "votes_subset", task, task_lfs)
        unseen = np.array(con.execute(f"select {key} from held_out order by all").fetchall())
        seen = con.execute(
            f"select count(*) from label_model_patterns as v where label_task = ? and {held_out}",
            [task],
        ).fetchone()
        rows = con.execute(
            f"select {', '.join(f'v.{c}' for c in task_lfs)}, pl.p_good from fct_lf_votes as v "
            f"inner join probabilistic_labels as pl using (output_id) "
            f"where v.label_task = ? and {held_out} order by all",
            [task],
        ).fetchall()
        (prior,) = con.execute(
            "select prior_good from label_model_priors where label_task = ?", [task]
        ).fetchone()
    finally:
        con.close()
    assert seen == (0,) and len(unseen) == 5 and len(rows) >= 5
    votes = np.array([r[:-1] for r in rows], dtype=np.int64)
    sql_p_good = np.array([r[-1] for r in rows], dtype=np.float64)
    if model == "snorkel":
        label_model = PatternLabelModel(cardinality=2)
        label_model.fit_patterns(
            fitted,
            counts,
            class_balance=[1 - prior, prior],
            seed=config.seed,
            n_epochs=config.n_epochs,
            lr=config.lr,
            l2=config.l2,
        )
        want = label_model.predict_proba_patterns(votes)[:, 1]
    elif model == "dawid-skene":
        ds = fit_dawid_skene(fitted, counts)
        assert abs(ds.prior_good - prior) < 1e-12
        want = predict_p_good(votes, ds.prior_good, ds.confusion)
    else:
        want = majority_p_good(votes)
    diff = float(np.abs(sql_p_good - want).max())
    print(f"{model}: unseen patterns, max |SQL - model| = {diff:.3g} on {len(rows)} outputs")
    assert diff <= TOLERANCE


def _build_labels(project: Project, capsys: pytest.CaptureFixture[str]) -> tuple[str, int]:
    """``dbt build --select probabilistic_labels``: what dbt printed, outputs with a p_good."""
    capsys.readouterr()
    run_dbt(project, ["build", "--select", "probabilistic_labels"], echo=lambda _: None)
    out = capsys.readouterr()
    con = project.connect()
    try:
        (labelled,) = con.execute("select count(p_good) from probabilistic_labels").fetchone()
    finally:
        con.close()
    return out.out + out.err, labelled


def test_a_missing_weight_table_gives_null_labels_and_a_warning(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    _label_and_score(project, LabelJobConfig(schema=project.schema))
    con = project.connect()
    try:
        con.execute("drop table label_model_scoring_weights")
    finally:
        con.close()
    printed, labelled = _build_labels(project, capsys)
    assert labelled == 0
    assert "no table" in printed and "label_model_scoring_weights" in printed
    assert "p_good is null until you run `flywheel label`" in printed


def test_an_lf_without_a_weight_counts_for_nothing_and_is_named(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    _label_and_score(project, LabelJobConfig(schema=project.schema, model="dawid-skene"))
    con = project.connect()
    try:
        (lf,) = con.execute(
            "select min(lf_name) from label_model_scoring_weights "
            "where label_task = 'chat_response'"
        ).fetchone()
        con.execute("delete from label_model_scoring_weights where lf_name = ?", [lf])
        (n_outputs,) = con.execute("select count(*) from fct_lf_votes").fetchone()
    finally:
        con.close()
    printed, labelled = _build_labels(project, capsys)
    assert labelled == n_outputs  # every output still labelled, without that LF's evidence
    assert f"{lf} not in the label model of its task" in printed
    _label_and_score(project, LabelJobConfig(schema=project.schema))  # leave it labelled
