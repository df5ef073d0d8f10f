"""The label job: read LF votes from the warehouse, fit one label model per task, write labels.

The job reads any *votes table*: one row per model output, an id column, optionally a task
column, and one column per labeling function (LF) whose name starts with a prefix (``lf_`` by
default) holding integer votes: ``1`` good, ``0`` bad, ``-1`` abstain. ``fct_lf_votes`` of the
flywheel dbt project is one; a team that computes votes elsewhere can point the job at its own
table (see :class:`LabelJobConfig` and ``flywheel label --help``).

Which LFs belong to which task:

* with a task column and an LF registry (``lf_registry``: ``lf_name``, ``label_task``, built by
  dbt from the one list of labeling functions), the tasks are the registry's tasks and a task's
  LFs are its registry rows;
* with a task column and no registry (``registry_table=None``), the tasks are the distinct
  non-NULL values of the task column and every task uses every LF column (named
  ``lf_prefix*``);
* without a task column (``task_column=None``), the whole table is one task, named
  ``task_name``, with every LF column.

The job then

1. reads the distinct vote patterns with their counts in ONE ``group by`` query over the
   votes table (it never pulls one row per output: memory depends on the number of distinct
   patterns, not of outputs), with the majority vote of each pattern when the votes table has
   one (``p_good_majority``: computed once, by the votes model),
2. fits a :class:`~flywheel.labelmodel.PatternLabelModel` per task on the task's LF columns,
   weighted by the counts (exactly the fit on the full vote matrix),
3. computes ``p_good = P(output is good | votes)`` for every pattern,

and writes, in ONE transaction (a failure leaves the previous labels intact):

* ``label_model_runs`` -- one row per task per run (appended): what was fitted on what, with
  which settings and library versions, its training loss and its agreement with explicit
  ratings;
* ``label_model_lf_weights`` -- one row per task and LF per run (appended);
* ``label_model_patterns`` -- the current labels: one row per distinct vote pattern of a
  task: ``run_id``, ``label_task`` (the task column's value, or ``task_name``), every LF
  column of the votes table, ``n_outputs`` and ``p_good``. Rows of
  re-fitted tasks are replaced; if the LF column set changed the table is recreated, which
  drops the (now stale) labels of tasks not fitted in this run;
* ``label_model_priors`` (one row per task: ``run_id``, ``label_task``, ``label_model``,
  ``prior_good``, ``prior_log_odds``) and ``label_model_scoring_weights`` (one row per task
  and LF fitted: ``log_lr_abstain``, ``log_lr_vote_bad``, ``log_lr_vote_good``) -- the
  current fit as additive weights (:mod:`flywheel.label_job.scoring`), replaced like the
  patterns. ``majority`` has a NULL prior and no weights.

``probabilistic_labels`` scores every output from the last two, whatever its pattern:
``sigmoid(prior_log_odds + the sum of its LFs' log-likelihood ratios)``, which equals
``label_model_patterns.p_good`` on the patterns fitted (to float rounding) and labels the
patterns the fit never saw. The job is deterministic: the same input and settings give the same
tables, except ``run_id`` and ``fitted_at``.
"""

from __future__ import annotations

import uuid

import duckdb

from flywheel.label_job import fit, tables, votes
from flywheel.label_job.config import (
    DEFAULT_TASK_NAME,
    LF_PREFIX,
    LabelJobConfig,
    check_config,
    normalized,
)
from flywheel.label_job.fit import TaskRun
from flywheel.label_job.scoring import PRIORS_TABLE, SCORING_WEIGHTS_TABLE
from flywheel.label_job.tables import PATTERNS_TABLE, RUNS_TABLE, WEIGHTS_TABLE
from flywheel.warehouse import memory_limit

__all__ = [
    "DEFAULT_TASK_NAME",
    "LF_PREFIX",
    "PATTERNS_TABLE",
    "PRIORS_TABLE",
    "RUNS_TABLE",
    "SCORING_WEIGHTS_TABLE",
    "WEIGHTS_TABLE",
    "LabelJobConfig",
    "TaskRun",
    "run_label_job",
]


def run_label_job(
    con: duckdb.DuckDBPyConnection, config: LabelJobConfig | None = None
) -> list[TaskRun]:
    """Fit one label model per task and write the label tables in one transaction.

    Parameters
    ----------
    con
        An open DuckDB connection to the warehouse, not inside a transaction.
    config
        Tables, columns, tasks and training settings (None: the defaults).

    Returns
    -------
    list[TaskRun]
        One entry per fitted task, in the order of the task registry (or of the task
        column's values, or of ``config.tasks``).

    Raises
    ------
    FlywheelError
        For any problem the user can fix (missing table or column, no LF columns, votes
        outside {-1, 0, 1}, every vote abstaining, fewer than 3 LFs or too few rows for a
        task, invalid settings). Nothing is written when it is raised.
    """
    config = normalized(config or LabelJobConfig())
    check_config(config)
    votes_name = f"{config.schema}.{config.votes_table}"
    votes_cols, lf_columns, registry = votes.lf_columns_of(con, config)
    config = votes.without_absent_gold(config, votes_cols)
    excluded = votes.exclusions(con, config, lf_columns, registry)
    with memory_limit(con, config.memory_limit):
        tasks = votes.known_tasks(config, lf_columns, registry)
        votes.check_lf_values(con, config, lf_columns, votes_name)
        votes.check_golden_values(con, config, votes_name)
        data = votes.fetch_patterns(con, config, lf_columns, tasks)
        if tasks is None:
            tasks = votes.column_tasks(con, config, lf_columns, data, votes_name)
        tasks = votes.without_excluded(tasks, excluded, config)
        run_id = uuid.uuid4().hex
        results = [
            fit.fit_task(
                config, run_id, task, votes.rows_of(data, task.name), lf_columns, votes_name
            )
            for task in tasks
        ]
        tables.write(con, config, [t.name for t in tasks], lf_columns, results)
    return [r.run for r in results]
