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
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from flywheel.dbt import RELABEL_HINT
from flywheel.errors import FlywheelError
from flywheel.warehouse import (
    Scores,
    attach_truth,
    first_line,
    progress_bar_off,
    qualified,
    quote_identifier,
    quote_literal,
    require_table,
    scores_by_group,
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
#: most outputs one arm trains on per task (and the task's feature scaling is fitted on): above
#: it, a sample seeded by ``seed``. The default sample's arms train on at most ~25k outputs per
#: task, far below it, so they are never sampled.
MAX_TRAIN_ROWS = 200_000
#: held-out outputs predicted per batch (they are streamed from the warehouse, never all held)
SCORE_BATCH_ROWS = 65_536
#: the train-split rows of each arm, as SQL over the features (see the module docstring)
ARM_ROWS: dict[str, str] = {
    "ratings": "explicit_label is not null",
    "majority": "coalesce(is_covered, false) and p_good_majority is not null "
    "and p_good_majority != 0.5",
    "probabilistic": "coalesce(is_covered, false) and p_good is not null",
    "truth": "is_good is not null",
}
#: outputs whose features one query computes (:func:`write_features`: its joins and group
#: bys hold one chunk's words, not every output's)
FEATURE_CHUNK_ROWS = 100_000
#: the columns of the held-out predictions file (scored in SQL, one arm at a time)
_PREDICTION_SCHEMA = pa.schema(
    [
        ("arm", pa.string()),
        ("label_task", pa.string()),
        ("p", pa.float64()),
        ("is_good", pa.int64()),
    ]
)
#: the temporary tables of :func:`write_features`: the template words, the co-occurring pairs
_TEMPLATE_WORDS = "_flywheel_evaluate_template_words"
_CO_OCCURRING = "_flywheel_evaluate_co_occurring"

_TEMPLATE_WORDS_SQL = """
create or replace temp table {template_words} as
select word
from (
    select unnest(list_distinct(list_concat(
        regexp_extract_all(lower(coalesce(request_text, '')), '[a-z0-9]+'),
        regexp_extract_all(lower(coalesce(output_text, '')), '[a-z0-9]+')
    ))) as word
    from {labeled}
    where split = 'train'
)
group by word
having count(*) > {template_share} * (select count(*) from {labeled} where split = 'train')
"""
#: the topics, learned without labels: pairs of words seen in one train-split request, as
#: ``'word other_word'`` (words have no spaces). Each row's request words are paired within the
#: row (a request's text is the same in each of its rows), so nothing is grouped per request:
#: what is held is the pairs, at most the vocabulary squared, whatever the number of outputs.
_CO_OCCURRING_SQL = """
create or replace temp table {co_occurring} as
select distinct word || ' ' || other_word as pair
from (
    select word, unnest(words) as other_word
    from (
        select unnest(words) as word, words
        from (
            select list_distinct(
                regexp_extract_all(lower(coalesce(request_text, '')), '[a-z0-9]+')
            ) as words
            from {labeled}
            where split = 'train' and request_id is not null
        )
    )
    where word not in (select word from {template_words})
)
where word != other_word and other_word not in (select word from {template_words})
"""
#: the features of one chunk of outputs (``hash(output_id) % n_chunks = chunk``): every join
#: and group by below holds one chunk's words at most
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
    where hash(output_id) % {n_chunks} = {chunk}
),

request_words as (
    select distinct output_id, request_id, split, word
    from (select output_id, request_id, split, unnest(request_tokens) as word from examples)
    where word not in (select word from {template_words})
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
    where word not in (select word from {template_words})
),

word_pairs as (
    -- every output word with every word of its request; the pairs table is looked up with
    -- `in` (a hash table of the pairs, never of the chunk's word pairs)
    select
        output_words.output_id,
        output_words.position,
        output_words.word = request_words.word as is_same,
        output_words.word = request_words.word
        or output_words.word || ' ' || request_words.word in (select pair from {co_occurring})
            as is_fit
    from output_words
    inner join request_words
        on output_words.output_id = request_words.output_id
),

word_fit as (
    -- per output word: how many of the request's words it fits (equals or was seen with),
    -- out of how many (every word of an output is paired with the same request words)
    select
        output_id,
        position,
        count(*) filter (where is_fit) as n_fit,
        count(*) as n_pairs,
        max(case when is_same then 1.0 else 0.0 end) as in_request
    from word_pairs
    group by output_id, position
),

fit as (
    -- the mean over the output's words of n_fit / n_pairs, as one exact division (a mean of
    -- rounded shares would vary in the last bit with the order DuckDB sums them in)
    select
        output_id,
        sum(n_fit) / sum(n_pairs) as topic_fit,
        avg(in_request) as request_overlap
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

select * from final order by label_task, split, output_id
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
    max_train_rows: int = MAX_TRAIN_ROWS,
) -> EvaluationResult:
    """Train the same classifier on each label source, score it against held-out truth.

    Memory stays flat in the number of outputs: the features are computed in SQL a chunk of
    outputs at a time and written to temporary parquet files (:func:`write_features`), each
    arm trains on at most ``max_train_rows`` outputs per task, the held-out outputs are
    predicted batch by batch into a temporary parquet file, and every score is aggregated in
    SQL, one arm at a time (:func:`flywheel.warehouse.scores_by_group`).

    Parameters
    ----------
    con, schema
        The built warehouse (``labeled_examples`` is read).
    truth_path
        Truth file (parquet, csv or jsonl) with ``output_id`` and ``is_good`` per output (the
        simulator's ``truth.parquet``).
    seed
        ``random_state`` of the classifiers (the lbfgs solver is deterministic: the results
        do not depend on it unless a sample is drawn), and the seed of the training samples.
    bag_of_words
        Add hashed bag-of-words features of the request and output words (see the module
        docstring: they carry almost no signal on simulated data).
    arms
        Subset of ``ratings``, ``majority``, ``probabilistic``, ``truth`` (default: all).
    max_train_rows
        Most outputs an arm trains on per task (default :data:`MAX_TRAIN_ROWS`); above it, a
        sample seeded by ``seed`` (a note says so). The held-out outputs are all scored.
    """
    known_arms = [name for name, _ in ARMS]
    arms = list(arms) if arms is not None else known_arms
    unknown = sorted(set(arms) - set(known_arms))
    if unknown:
        raise FlywheelError(f"unknown arm(s) {', '.join(unknown)}: use {', '.join(known_arms)}")
    if max_train_rows < 1:
        raise FlywheelError(f"max_train_rows must be at least 1, not {max_train_rows}")
    with tempfile.TemporaryDirectory(prefix="flywheel-evaluate-") as tmp:
        features = write_features(con, schema, truth_path, Path(tmp), bag_of_words=bag_of_words)
        predictions = Path(tmp) / "predictions.parquet"
        return _evaluate(
            con, features, predictions, truth_path, arms, seed, bag_of_words, max_train_rows
        )


def _evaluate(
    con: duckdb.DuckDBPyConnection,
    features: str,
    predictions: Path,
    truth_path: Path | str,
    arms: Sequence[str],
    seed: int,
    bag_of_words: bool,
    max_train_rows: int,
) -> EvaluationResult:
    """:func:`evaluate` on the features written by :func:`write_features`; the held-out
    predictions are written to the parquet file ``predictions``."""
    n_eval, n_missing = _one(
        con,
        "select count(*) filter (where split = 'eval'), "
        f"count(*) filter (where split = 'eval' and is_good is null) from {features}",
    )
    if n_missing == n_eval:
        raise FlywheelError(
            f"none of the {n_eval:,} eval-split outputs is in the truth file "
            f"{truth_path}: is it the truth of the events this warehouse was built from?"
        )
    notes: list[str] = []
    if n_missing:
        notes.append(f"{n_missing:,} eval-split outputs have no truth and are not scored")
    tasks = sorted(
        str(task)
        for (task,) in con.execute(
            f"select distinct label_task from {features} where label_task is not null"
        ).fetchall()
    )
    scorer = _ArmScorer(con, features, arms, seed, bag_of_words, max_train_rows, notes)
    scores = scorer.score(tasks, predictions)
    return EvaluationResult(
        scores=scores,
        tasks=tasks,
        features=[*CATEGORICAL_FEATURES, *NUMERIC_FEATURES]
        + (["hashed bag of words"] if bag_of_words else []),
        feature_auc=_feature_auc(con, features),
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
        ``random_state`` of the classifiers, and the seed of the training samples.
    bag_of_words
        Add hashed bag-of-words features (slow).
    max_train_rows
        Most outputs an arm trains on per task (a seeded sample above it).
    """

    truth_path: Path
    seed: int = 0
    bag_of_words: bool = False
    max_train_rows: int = MAX_TRAIN_ROWS


def run_evaluation(
    con: duckdb.DuckDBPyConnection, schema: str, config: EvaluateConfig
) -> EvaluationResult:
    """:func:`evaluate` with the settings of an :class:`EvaluateConfig`."""
    return evaluate(
        con,
        schema,
        config.truth_path,
        seed=config.seed,
        bag_of_words=config.bag_of_words,
        max_train_rows=config.max_train_rows,
    )


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> list[int]:
    """The one row of an aggregate query, as integers."""
    row = con.execute(sql, list(params)).fetchone()
    assert row is not None  # an aggregate without group by has one row
    return [int(value) for value in row]


#: P(good) of a batch of encoded held-out rows
Predictor = Callable[[sp.csr_matrix], np.ndarray]


class _ArmScorer:
    """Every arm fitted per task on (a sample of) its train split, its held-out predictions
    written to a parquet file, then scored in SQL per task and pooled (``overall``)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        features: str,
        arms: Sequence[str],
        seed: int,
        bag_of_words: bool,
        max_train_rows: int,
        notes: list[str],
    ) -> None:
        self.con, self.features, self.arms, self.seed = con, features, list(arms), seed
        self.bag_of_words, self.max_rows, self.notes = bag_of_words, max_train_rows, notes
        self.columns = [*CATEGORICAL_FEATURES, *NUMERIC_FEATURES] + (
            ["words"] if bag_of_words else []
        )

    def score(self, tasks: Sequence[str], predictions: Path) -> list[ArmScore]:
        """Per task and arm, then per arm pooled over the tasks, in that order; the held-out
        predictions are written to the parquet file ``predictions``."""
        n_train = {arm: dict[str, int]() for arm in self.arms}
        with pq.ParquetWriter(str(predictions), _PREDICTION_SCHEMA) as writer:
            for task in tasks:
                for arm, n in self._predict_task(task, writer).items():
                    n_train[arm][task] = n
        source = f"read_parquet({quote_literal(str(predictions))})"
        per_task: dict[tuple[object, ...], Scores] = {}
        pooled: dict[tuple[object, ...], Scores] = {}
        for arm in self.arms:  # one arm at a time: what is held is its distinct P(good)
            for found, keys in ((per_task, ["arm", "label_task"]), (pooled, ["arm"])):
                found |= scores_by_group(
                    self.con, source, keys, "p", "is_good", where="arm = ?", params=[arm]
                )
        scores = [
            _arm_score(arm, task, n_train[arm][task], per_task[(arm, task)])
            for task in tasks
            for arm in self.arms
            if task in n_train[arm]
        ]
        scores += [
            _arm_score(arm, OVERALL, sum(n_train[arm].values()), pooled[(arm,)])
            for arm in self.arms
            if (arm,) in pooled
        ]
        return scores

    def _predict_task(self, task: str, writer: pq.ParquetWriter) -> dict[str, int]:
        """Fit every arm on ``task``, predict its held-out outputs; ``{arm: n_train}``."""
        n_train, n_held_out = _one(
            self.con,
            "select count(*) filter (where split = 'train'), "
            "count(*) filter (where split = 'eval' and is_good is not null) "
            f"from {self.features} where label_task = ?",
            [task],
        )
        if n_held_out == 0:
            self.notes.append(f"{task}: no held-out outputs with truth, not scored")
            return {}
        if n_train == 0:
            self.notes.append(f"{task}: no train-split outputs, not scored")
            return {}
        encode = _Encoder(
            self._train_rows(task, "true", self.columns), bag_of_words=self.bag_of_words
        )
        predictors: dict[str, Predictor] = {}
        counts: dict[str, int] = {}
        for arm in self.arms:
            rows, y, weight, n_outputs = _training_set(
                arm, self._train_rows(task, ARM_ROWS[arm], [*self.columns, *_TARGETS], arm)
            )
            predictors[arm], note = _fit(encode, rows, y, weight, self.seed)
            if note:
                self.notes.append(f"{task}, {arm}: {note}")
            counts[arm] = n_outputs
        self._predict(task, encode, predictors, writer)
        return counts

    def _train_rows(
        self, task: str, where: str, columns: Sequence[str], arm: str | None = None
    ) -> pd.DataFrame:
        """``task``'s train-split rows matching ``where`` in ``output_id`` order: all of them,
        or above ``max_train_rows`` a sample seeded by ``seed`` (noted for an arm)."""
        source = f"from {self.features} where label_task = ? and split = 'train' and ({where})"
        (n_rows,) = _one(self.con, f"select count(*) {source}", [task])
        cols = ", ".join(quote_identifier(c) for c in ["output_id", *dict.fromkeys(columns)])
        params: list[object] = [task]
        if n_rows <= self.max_rows:
            sql = f"select {cols} {source} order by output_id"
        else:
            sql = (
                f"select {cols} from (select * {source} order by hash(output_id, ?), output_id "
                "limit ?) order by output_id"
            )
            params += [self.seed, self.max_rows]
            if arm is not None:
                self.notes.append(
                    f"{task}, {arm}: trained on a sample of {self.max_rows:,} of its "
                    f"{n_rows:,} outputs (seed {self.seed})"
                )
        return self.con.execute(sql, params).df()

    def _predict(
        self,
        task: str,
        encode: _Encoder,
        predictors: dict[str, Predictor],
        writer: pq.ParquetWriter,
    ) -> None:
        """Stream ``task``'s held-out outputs in batches; write each arm's P(good)."""
        cols = ", ".join(quote_identifier(c) for c in [*self.columns, "is_good"])
        reader = (
            self.con.cursor()
            .sql(
                f"select {cols} from {self.features} where label_task = $task "
                "and split = 'eval' and is_good is not null order by output_id",
                params={"task": task},
            )
            .to_arrow_reader(SCORE_BATCH_ROWS)
        )
        for batch in reader:
            rows = batch.to_pandas()
            x = encode(rows)
            y = rows["is_good"].to_numpy(dtype=np.int64)
            for arm, predict in predictors.items():
                n = len(y)
                columns = [
                    pa.array([arm] * n),
                    pa.array([task] * n),
                    pa.array(predict(x)),
                    pa.array(y),
                ]
                writer.write_table(pa.table(columns, schema=_PREDICTION_SCHEMA))


#: the columns the arms' targets and weights are read from
_TARGETS: tuple[str, ...] = ("explicit_label", "p_good_majority", "p_good", "is_good")


def write_features(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    truth_path: Path | str,
    out_dir: Path,
    *,
    bag_of_words: bool = False,
    chunk_rows: int = FEATURE_CHUNK_ROWS,
) -> str:
    """One row per labelled output (split, task, labels, serving-time features, truth),
    computed in SQL and written to parquet files in ``out_dir``, streamed by DuckDB.

    Memory stays flat in the number of outputs: the template words and the co-occurring word
    pairs (bounded by the vocabulary) are computed first, then the outputs' features chunk by
    chunk, at most about ``chunk_rows`` outputs per query (``hash(output_id)`` picks the chunk:
    every output's features are its own, so the chunking changes no value).

    Parameters
    ----------
    con, schema
        The built warehouse (``labeled_examples`` is read).
    truth_path
        Per-output truth, read once with :func:`flywheel.warehouse.attach_truth`.
    out_dir
        The directory to write ``features-*.parquet`` to (a temporary one: :func:`evaluate`
        deletes it).
    bag_of_words
        Add the ``words`` column (output words and ``q_``-prefixed request words).
    chunk_rows
        About how many outputs one query computes the features of (default
        :data:`FEATURE_CHUNK_ROWS`).

    Returns
    -------
    str
        SQL reading the files (``read_parquet(...)``), in no particular order: order by
        ``output_id`` where the order matters; ``is_good`` is null for outputs the truth file
        lacks.
    """
    require_table(con, schema, "labeled_examples", "run `flywheel run` first")
    truth = attach_truth(con, truth_path)
    labeled = qualified(schema, "labeled_examples")
    n_rows, n_p_good = _one(con, f"select count(*), count(p_good) from {labeled}")
    if n_rows == 0:
        raise FlywheelError(f"{schema}.labeled_examples is empty: nothing to evaluate")
    if n_p_good == 0:
        raise FlywheelError(f"labeled_examples has no p_good: {RELABEL_HINT}")
    n_chunks = max(1, math.ceil(n_rows / max(1, chunk_rows)))
    names = {
        "labeled": labeled,
        "truth": quote_identifier(truth),
        "template_words": _TEMPLATE_WORDS,
        "co_occurring": _CO_OCCURRING,
        "template_share": TEMPLATE_WORD_SHARE,
        "bag_of_words": _BAG_OF_WORDS_SQL if bag_of_words else "",
        "n_chunks": n_chunks,
    }
    try:
        with progress_bar_off(con):
            con.execute(_TEMPLATE_WORDS_SQL.format(**names))
            con.execute(_CO_OCCURRING_SQL.format(**names))
            for chunk in range(n_chunks):
                sql = _FEATURES_SQL.format(**names, chunk=chunk)
                out = out_dir / f"features-{chunk:05d}.parquet"
                con.execute(f"copy ({sql}) to ? (format parquet)", [str(out)])
    except (duckdb.IOException, OSError) as exc:
        raise FlywheelError(f"cannot write the features to {out_dir}: {first_line(exc)}") from exc
    finally:
        con.execute(f"drop table if exists {_TEMPLATE_WORDS}")
        con.execute(f"drop table if exists {_CO_OCCURRING}")
    return f"read_parquet({quote_literal(str(out_dir / 'features-*.parquet'))})"


def _training_set(arm: str, rows: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, int]:
    """The rows, 0/1 targets and sample weights of one arm (its rows: :data:`ARM_ROWS`), and
    how many outputs they are."""
    if arm == "ratings":
        y = rows["explicit_label"].to_numpy(dtype=int)
        return rows, y, np.ones(len(rows)), len(rows)
    if arm == "majority":
        y = (rows["p_good_majority"] > 0.5).to_numpy(dtype=int)
        return rows, y, np.ones(len(rows)), len(rows)
    if arm == "probabilistic":
        p = rows["p_good"].to_numpy(dtype=float)
        # soft target: each output once as good (weight p) and once as bad (weight 1 - p)
        doubled = pd.concat([rows, rows])
        y = np.concatenate([np.ones(len(rows), dtype=int), np.zeros(len(rows), dtype=int)])
        return doubled, y, np.concatenate([p, 1.0 - p]), len(rows)
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


def _fit(
    encode: _Encoder,
    rows: pd.DataFrame,
    y: np.ndarray,
    weight: np.ndarray,
    seed: int,
) -> tuple[Predictor, str | None]:
    """P(good) of encoded rows; a constant (the label mean) when one class is missing."""
    if len(rows) == 0:
        return _constant(0.5), "no training labels: scored as a coin flip"
    positive = float(np.sum(weight * y))
    negative = float(np.sum(weight * (1 - y)))
    if positive <= 0 or negative <= 0:
        share = positive / (positive + negative) if positive + negative > 0 else 0.5
        return _constant(share), "one class only: scored as a constant"
    model = LogisticRegression(C=C, max_iter=2000, random_state=seed)
    model.fit(encode(rows), y, sample_weight=weight)
    return lambda x: np.asarray(model.predict_proba(x)[:, 1], dtype=float), None


def _constant(value: float) -> Predictor:
    return lambda x: np.full(x.shape[0], value)


def _arm_score(arm: str, task: str, n_train: int, scores: Scores) -> ArmScore:
    return ArmScore(
        arm=arm,
        label_task=task,
        n_train=n_train,
        n_eval=scores.n,
        accuracy=scores.accuracy,
        auc=scores.auc,
        brier=scores.brier,
        true_good_share=scores.good_share,
    )


def _feature_auc(con: duckdb.DuckDBPyConnection, features: str) -> dict[str, float]:
    """ROC AUC of each numeric feature alone against the truth, on the train split (in SQL)."""
    # the model version as a score: its good share (how much the version alone tells), joined
    # from one row per task and version (a window over them would hold every train-split row)
    rows = f"(select * from {features} where split = 'train' and is_good is not null)"
    train = (
        f"(select rows.*, shares.model_version_share from {rows} as rows inner join "
        "(select label_task, model_version, avg(is_good) as model_version_share "
        f"from {rows} group by label_task, model_version) as shares "
        "on rows.label_task is not distinct from shares.label_task "
        "and rows.model_version is not distinct from shares.model_version) as train"
    )
    out = {}
    for name, column in [
        *((n, n) for n in NUMERIC_FEATURES),
        ("model_version", "model_version_share"),
    ]:
        found = scores_by_group(con, train, ["split"], quote_identifier(column), "is_good")
        out[name] = found[("train",)].auc if found else math.nan
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
