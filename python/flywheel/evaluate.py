"""Many imperfect labels against a few perfect ones: train the same classifier on each, score
it on held-out truth.

Four training arms, each one logistic regression per label task on the same features:

``ratings``
    (a) explicit ratings only: the rated outputs of the train split, label = the rating.
``majority``
    (b) majority vote: covered train-split outputs, hard label from ``p_good_majority``, ties
    (an even split of votes) dropped.
``probabilistic``
    (c) probabilistic labels: covered train-split outputs with the label model's ``p_good`` as a
    *soft target*. Every output appears twice, as good with sample weight ``p_good`` and as bad
    with weight ``1 - p_good``: the logistic loss of that pair is exactly the cross-entropy
    against the soft target (Snorkel's "noise-aware" loss), so a coin-flip label contributes no
    gradient and a sure one counts fully.
``truth``
    The ceiling, for reference only: every train-split output with the simulator's truth.

Every arm is scored against the truth of **all** eval-split outputs (covered or not, rated or
not): accuracy at 0.5, ROC AUC and Brier score, per task and pooled over the tasks. Nothing is
tuned on the eval split: the features, the classifier and its settings are fixed, and the
unsupervised parts of the features (the word co-occurrence table, the scaler, the one-hot
categories) are fitted on the train split only.

Features (known when the output is served, never the behavioural signals or LF votes):

* the model version (one-hot; within a task it also fixes the surface);
* how well the output fits the request's topic, from the texts alone: ``topic_fit`` is, for
  each output word, the share of the request's words it was seen with in some train-split
  request (or equals), averaged over the output's words; ``request_overlap`` is the share of
  output words that occur in the request;
* ``log(1 + words)`` of the request and of the output.

Words are ``[a-z0-9]+`` runs of the lowercased text, without template words (those in more
than 20% of train-split texts, e.g. ``def`` and ``return`` of code outputs).

Why not a bag of words: the simulator's texts are words drawn from per-topic vocabularies, and
an output is good or bad whatever its topic, so *which* words occur says next to nothing about
quality (a hashed bag of words of request and output, trained on the truth itself: ROC AUC about
0.55 in 3-fold cross-validation on the train split of the default sample). What carries the
signal is whether the output stays on the request's topic (a good output draws 85% of its words
from the topic, a bad one 55%): ``topic_fit`` alone has an AUC of about 0.85; the model version
alone about 0.60. ``bag_of_words=True`` adds the hashed bag of words anyway (slow: minutes on
the default sample). It lowers every arm, and the probabilistic arm most: with ~50k examples the
classifier fits the words that go with the weak labels' systematic errors (pooled AUC on the
default sample: ratings 0.840, probabilistic 0.825, truth 0.861, against 0.842, 0.857 and 0.867
without it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from flywheel.dbt import RELABEL_HINT
from flywheel.errors import FlywheelError
from flywheel.metrics import accuracy, auc, brier
from flywheel.warehouse import (
    attach_truth,
    progress_bar_off,
    qualified,
    quote_identifier,
    require_table,
)

#: the training arms, in table order: (name, description)
ARMS: tuple[tuple[str, str], ...] = (
    ("ratings", "(a) explicit ratings only"),
    ("majority", "(b) majority vote"),
    ("probabilistic", "(c) probabilistic labels"),
    ("truth", "(ceiling) simulator truth"),
)
NUMERIC_FEATURES: tuple[str, ...] = (
    "topic_fit",
    "request_overlap",
    "log_request_words",
    "log_output_words",
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("model_version",)
OVERALL = "overall"
#: a word in more than this share of train-split texts is a template word, not content
TEMPLATE_WORD_SHARE = 0.2
#: inverse regularisation strength of every arm's logistic regression (sklearn's default)
C = 1.0

_FEATURES_SQL = """
with

examples as (
    select
        output_id,
        request_id,
        split,
        label_task,
        model_version,
        is_covered,
        p_good,
        p_good_majority,
        explicit_label,
        regexp_extract_all(lower(coalesce(request_text, '')), '[a-z0-9]+') as request_tokens,
        regexp_extract_all(lower(coalesce(output_text, '')), '[a-z0-9]+') as output_tokens
    from {labeled}
),

n_train_texts as (
    select count(*) as n_texts from examples where split = 'train'
),

template_words as (
    select word
    from (
        select unnest(list_distinct(list_concat(request_tokens, output_tokens))) as word
        from examples
        where split = 'train'
    )
    group by word
    having count(*) > {template_share} * (select n_texts from n_train_texts)
),

request_words as (
    select distinct output_id, request_id, split, word
    from (
        select output_id, request_id, split, unnest(request_tokens) as word
        from examples
    )
    where word not in (select word from template_words)
),

output_words as (
    select output_id, position, word
    from (
        select
            output_id,
            unnest(output_tokens) as word,
            generate_subscripts(output_tokens, 1) as position
        from examples
    )
    where word not in (select word from template_words)
),

train_request_words as (
    select distinct request_id, word from request_words where split = 'train'
),

co_occurring as (
    -- the topics, learned without labels: pairs of words seen in one train-split request
    select distinct a.word, b.word as other_word
    from train_request_words as a
    inner join train_request_words as b
        on a.request_id = b.request_id and a.word != b.word
),

word_fit as (
    select
        output_words.output_id,
        output_words.position,
        avg(case
            when output_words.word = request_words.word or co_occurring.word is not null
                then 1.0 else 0.0
        end) as fit,
        max(case when output_words.word = request_words.word then 1.0 else 0.0 end)
            as in_request
    from output_words
    inner join request_words
        on output_words.output_id = request_words.output_id
    left join co_occurring
        on output_words.word = co_occurring.word
        and request_words.word = co_occurring.other_word
    group by output_words.output_id, output_words.position
),

fit as (
    select output_id, avg(fit) as topic_fit, avg(in_request) as request_overlap
    from word_fit
    group by output_id
),

n_output_words as (
    select output_id, count(*) as n_words from output_words group by output_id
),

n_request_words as (
    select output_id, count(*) as n_words from request_words group by output_id
),

final as (
    select
        examples.output_id,
        examples.split,
        examples.label_task,
        examples.model_version,
        examples.is_covered,
        examples.p_good,
        examples.p_good_majority,
        examples.explicit_label,
        coalesce(fit.topic_fit, 0.0) as topic_fit,
        coalesce(fit.request_overlap, 0.0) as request_overlap,
        ln(1 + coalesce(n_request_words.n_words, 0)) as log_request_words,
        ln(1 + coalesce(n_output_words.n_words, 0)) as log_output_words,
        {bag_of_words}
        truth.is_good
    from examples
    left join fit on examples.output_id = fit.output_id
    left join n_output_words on examples.output_id = n_output_words.output_id
    left join n_request_words on examples.output_id = n_request_words.output_id
    left join {truth} as truth on examples.output_id = truth.output_id
)

select * from final order by output_id
"""
_BAG_OF_WORDS_SQL = """
        array_to_string(examples.output_tokens, ' ') || ' '
            || array_to_string(list_transform(examples.request_tokens, lambda w: 'q_' || w), ' ')
            as words,
"""


@dataclass(frozen=True)
class ArmScore:
    """One training arm scored on one task's held-out outputs (or on all: ``overall``)."""

    arm: str
    label_task: str
    n_train: int
    n_eval: int
    accuracy: float
    auc: float
    brier: float
    true_good_share: float


@dataclass(frozen=True)
class EvaluationResult:
    """Every arm's scores, per task and ``overall``; see the module docstring."""

    scores: list[ArmScore]
    tasks: list[str]
    features: list[str]
    feature_auc: dict[str, float]
    seed: int
    n_eval_without_truth: int
    notes: list[str] = field(default_factory=list)

    def score(self, arm: str, label_task: str = OVERALL) -> ArmScore:
        """The score of ``arm`` on ``label_task`` (default: pooled over the tasks)."""
        for s in self.scores:
            if s.arm == arm and s.label_task == label_task:
                return s
        raise KeyError((arm, label_task))


def evaluate(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    truth_path: Path | str,
    *,
    seed: int = 0,
    bag_of_words: bool = False,
    arms: Sequence[str] | None = None,
) -> EvaluationResult:
    """Train the same classifier on each label source, score it against held-out truth.

    Parameters
    ----------
    con, schema
        The built warehouse (``labeled_examples`` is read).
    truth_path
        Truth file (parquet, csv or jsonl) with ``output_id`` and ``is_good`` per output (the
        simulator's ``truth.parquet``).
    seed
        ``random_state`` of the classifiers (the lbfgs solver is deterministic: the results
        do not depend on it today; it is recorded for when a randomised step is added).
    bag_of_words
        Add hashed bag-of-words features of the request and output words (see the module
        docstring: they carry almost no signal on simulated data).
    arms
        Subset of ``ratings``, ``majority``, ``probabilistic``, ``truth`` (default: all).
    """
    known_arms = [name for name, _ in ARMS]
    arms = list(arms) if arms is not None else known_arms
    unknown = sorted(set(arms) - set(known_arms))
    if unknown:
        raise FlywheelError(f"unknown arm(s) {', '.join(unknown)}: use {', '.join(known_arms)}")
    frame = load_features(con, schema, truth_path, bag_of_words=bag_of_words)
    notes: list[str] = []
    train_all = frame[frame["split"] == "train"]
    eval_all = frame[frame["split"] == "eval"]
    n_missing = int(eval_all["is_good"].isna().sum())
    if n_missing == len(eval_all):
        raise FlywheelError(
            f"none of the {len(eval_all):,} eval-split outputs is in the truth file "
            f"{truth_path}: is it the truth of the events this warehouse was built from?"
        )
    if n_missing:
        notes.append(f"{n_missing:,} eval-split outputs have no truth and are not scored")
    eval_all = eval_all[eval_all["is_good"].notna()]

    tasks = sorted(frame["label_task"].dropna().unique())
    scores = _score_arms(arms, tasks, train_all, eval_all, seed, bag_of_words, notes)
    return EvaluationResult(
        scores=scores,
        tasks=tasks,
        features=[*CATEGORICAL_FEATURES, *NUMERIC_FEATURES]
        + (["hashed bag of words"] if bag_of_words else []),
        feature_auc=_feature_auc(train_all),
        seed=seed,
        n_eval_without_truth=n_missing,
        notes=notes,
    )


@dataclass(frozen=True)
class EvaluateConfig:
    """What ``flywheel evaluate`` trains and scores; see :func:`evaluate`.

    Attributes
    ----------
    truth_path
        Per-output truth file (``output_id``, ``is_good``).
    seed
        ``random_state`` of the classifiers.
    bag_of_words
        Add hashed bag-of-words features (slow).
    """

    truth_path: Path
    seed: int = 0
    bag_of_words: bool = False


def run_evaluation(
    con: duckdb.DuckDBPyConnection, schema: str, config: EvaluateConfig
) -> EvaluationResult:
    """:func:`evaluate` with the settings of an :class:`EvaluateConfig`."""
    return evaluate(
        con, schema, config.truth_path, seed=config.seed, bag_of_words=config.bag_of_words
    )


def _score_arms(
    arms: Sequence[str],
    tasks: Sequence[str],
    train_all: pd.DataFrame,
    eval_all: pd.DataFrame,
    seed: int,
    bag_of_words: bool,
    notes: list[str],
) -> list[ArmScore]:
    """Every arm fitted and scored per task, then pooled over the tasks (``overall``)."""
    scores: list[ArmScore] = []
    pooled: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {arm: [] for arm in arms}
    n_train_total = dict.fromkeys(arms, 0)
    for task in tasks:
        train = train_all[train_all["label_task"] == task]
        held_out = eval_all[eval_all["label_task"] == task]
        if held_out.empty:
            notes.append(f"{task}: no held-out outputs with truth, not scored")
            continue
        if train.empty:
            notes.append(f"{task}: no train-split outputs, not scored")
            continue
        encode = _Encoder(train, bag_of_words=bag_of_words)
        x_eval = encode(held_out)
        y_eval = held_out["is_good"].to_numpy(dtype=bool)
        for arm in arms:
            rows, y, weight, n_outputs = _training_set(arm, train)
            p, note = _fit_predict(encode, rows, y, weight, x_eval, seed)
            if note:
                notes.append(f"{task}, {arm}: {note}")
            pooled[arm].append((p, y_eval))
            n_train_total[arm] += n_outputs
            scores.append(_score(arm, task, n_outputs, p, y_eval))
    for arm in arms:
        if pooled[arm]:
            p = np.concatenate([p for p, _ in pooled[arm]])
            y = np.concatenate([y for _, y in pooled[arm]])
            scores.append(_score(arm, OVERALL, n_train_total[arm], p, y))
    return scores


def load_features(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    truth_path: Path | str,
    *,
    bag_of_words: bool = False,
) -> pd.DataFrame:
    """One row per labelled output: split, task, labels, serving-time features and truth.

    Parameters
    ----------
    con, schema
        The built warehouse (``labeled_examples`` is read).
    truth_path
        Per-output truth, read once with :func:`flywheel.warehouse.attach_truth`.
    bag_of_words
        Add the ``words`` column (output words and ``q_``-prefixed request words).

    Returns
    -------
    pandas.DataFrame
        Ordered by ``output_id``; ``is_good`` is null for outputs the truth file lacks.
    """
    require_table(con, schema, "labeled_examples", "run `flywheel run` first")
    truth = attach_truth(con, truth_path)
    sql = _FEATURES_SQL.format(
        labeled=qualified(schema, "labeled_examples"),
        truth=quote_identifier(truth),
        template_share=TEMPLATE_WORD_SHARE,
        bag_of_words=_BAG_OF_WORDS_SQL if bag_of_words else "",
    )
    with progress_bar_off(con):
        frame = con.execute(sql).df()
    if frame.empty:
        raise FlywheelError(f"{schema}.labeled_examples is empty: nothing to evaluate")
    if frame["p_good"].isna().all():
        raise FlywheelError(f"labeled_examples has no p_good: {RELABEL_HINT}")
    return frame


def _training_set(
    arm: str, train: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, int]:
    """The rows, 0/1 targets and sample weights of one arm, and how many outputs they are."""
    if arm == "ratings":
        rows = train[train["explicit_label"].notna()]
        y = rows["explicit_label"].to_numpy(dtype=int)
        return rows, y, np.ones(len(rows)), len(rows)
    if arm == "majority":
        majority = train["p_good_majority"]
        rows = train[train["is_covered"].fillna(False) & majority.notna() & (majority != 0.5)]
        y = (rows["p_good_majority"] > 0.5).to_numpy(dtype=int)
        return rows, y, np.ones(len(rows)), len(rows)
    if arm == "probabilistic":
        rows = train[train["is_covered"].fillna(False) & train["p_good"].notna()]
        p = rows["p_good"].to_numpy(dtype=float)
        # soft target: each output once as good (weight p) and once as bad (weight 1 - p)
        doubled = pd.concat([rows, rows])
        y = np.concatenate([np.ones(len(rows), dtype=int), np.zeros(len(rows), dtype=int)])
        return doubled, y, np.concatenate([p, 1.0 - p]), len(rows)
    rows = train[train["is_good"].notna()]
    return rows, rows["is_good"].to_numpy(dtype=int), np.ones(len(rows)), len(rows)


class _Encoder:
    """The feature map of one task, fitted (without labels) on its train split."""

    def __init__(self, train: pd.DataFrame, *, bag_of_words: bool) -> None:
        self.onehot = OneHotEncoder(handle_unknown="ignore").fit(
            train[list(CATEGORICAL_FEATURES)].astype(str)
        )
        self.scaler = StandardScaler().fit(train[list(NUMERIC_FEATURES)].to_numpy(dtype=float))
        self.hasher = (
            HashingVectorizer(n_features=2**18, alternate_sign=False, norm="l2")
            if bag_of_words
            else None
        )

    def __call__(self, rows: pd.DataFrame) -> sp.csr_matrix:
        parts = [
            self.onehot.transform(rows[list(CATEGORICAL_FEATURES)].astype(str)),
            sp.csr_matrix(self.scaler.transform(rows[list(NUMERIC_FEATURES)].to_numpy(float))),
        ]
        if self.hasher is not None:
            parts.append(self.hasher.transform(rows["words"]))
        return sp.hstack(parts).tocsr()


def _fit_predict(
    encode: _Encoder,
    rows: pd.DataFrame,
    y: np.ndarray,
    weight: np.ndarray,
    x_eval: sp.csr_matrix,
    seed: int,
) -> tuple[np.ndarray, str | None]:
    """P(good) of the held-out rows; a constant (the label mean) when one class is missing."""
    n_eval = x_eval.shape[0]
    if len(rows) == 0:
        return np.full(n_eval, 0.5), "no training labels: scored as a coin flip"
    positive = float(np.sum(weight * y))
    negative = float(np.sum(weight * (1 - y)))
    if positive <= 0 or negative <= 0:
        share = positive / (positive + negative) if positive + negative > 0 else 0.5
        return np.full(n_eval, share), "one class only: scored as a constant"
    model = LogisticRegression(C=C, max_iter=2000, random_state=seed)
    model.fit(encode(rows), y, sample_weight=weight)
    return model.predict_proba(x_eval)[:, 1], None


def _score(arm: str, task: str, n_train: int, p: np.ndarray, y: np.ndarray) -> ArmScore:
    return ArmScore(
        arm=arm,
        label_task=task,
        n_train=n_train,
        n_eval=len(y),
        accuracy=accuracy(p, y),
        auc=auc(p, y),
        brier=brier(p, y),
        true_good_share=float(np.mean(y)) if len(y) else float("nan"),
    )


def _feature_auc(train: pd.DataFrame) -> dict[str, float]:
    """ROC AUC of each numeric feature alone against the truth, on the train split."""
    scored = train[train["is_good"].notna()]
    y = scored["is_good"].to_numpy(dtype=bool)
    out = {name: auc(scored[name].to_numpy(float), y) for name in NUMERIC_FEATURES}
    # the model version as a score: its good share (how much the version alone tells)
    share = scored.groupby(["label_task", "model_version"])["is_good"].transform("mean")
    out["model_version"] = auc(share.to_numpy(float), y)
    return out


def format_evaluation(result: EvaluationResult) -> str:
    """The scores as a fixed-width table, one block per task and one pooled."""

    def pct(x: float) -> str:
        return "    -" if x is None or math.isnan(x) else f"{100 * x:5.1f}%"

    def num(x: float) -> str:
        return "    -" if x is None or math.isnan(x) else f"{x:.3f}"

    labels = dict(ARMS)
    head = (
        f"{'label task':<16} {'trained on':<27} {'n_train':>8} {'n_eval':>7}"
        f" {'acc':>6} {'AUC':>6} {'Brier':>6}"
    )
    lines = [
        "Same classifier (logistic regression per task on serving-time features), different "
        "labels;",
        "scored against the truth of every held-out (eval-split) output.",
        "",
        head,
        "-" * len(head),
    ]
    for task in [*result.tasks, OVERALL]:
        rows = [s for s in result.scores if s.label_task == task]
        for i, s in enumerate(rows):
            lines.append(
                f"{task if i == 0 else '':<16} {labels.get(s.arm, s.arm):<27} {s.n_train:>8,}"
                f" {s.n_eval:>7,} {pct(s.accuracy):>6} {num(s.auc):>6} {num(s.brier):>6}"
            )
        if rows:
            lines.append("")
    lines.append("features: " + ", ".join(result.features))
    lines.append(
        "one feature alone vs truth (train split, ROC AUC): "
        + ", ".join(f"{k} {v:.3f}" for k, v in result.feature_auc.items())
    )
    lines.extend(f"note: {note}" for note in result.notes)
    return "\n".join(lines)
