"""Export training or evaluation examples from the warehouse to a file a trainer reads.

Two formats:

``jsonl``
    One example per line in the chat fine-tuning shape (the keys :data:`JSONL_FIELDS`)::

        {"messages": [{"role": "user", "content": <request_text>},
                      {"role": "assistant", "content": <output_text>}],
         "label": 0 | 1, "p_good": float, "weight": float,
         "output_id": ..., "label_task": ..., "model_version": ...}

    Examples without a request or output text (their request event was rejected by staging)
    are left out: a chat message needs content. Without text (``with_text=False``) there is no
    ``messages`` key (a chat cannot exist without its text); the rows are the same examples.
    JSONL never carries ``user_id``.
``parquet``
    The columns :data:`PARQUET_COLUMNS` of ``training_examples`` / ``eval_examples``, one row
    per example: ``request_text`` and ``output_text`` unless ``with_text=False``, ``user_id``
    only with ``with_user_id=True``.

What is exported is these two explicit lists, never ``select *``: a column a mart gains is not
exported until it is added here.

Filtering is SQL with bound parameters, and DuckDB's ``COPY`` streams the result to a temporary
file next to the target, renamed into place when complete: nothing is held in Python, and a
failed export never leaves a half-written file under the target name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import duckdb

from flywheel.errors import FlywheelError
from flywheel.warehouse import (
    first_line,
    qualified,
    quote_identifier,
    require_table,
    table_columns,
)

Format = Literal["jsonl", "parquet"]
Dataset = Literal["train", "eval"]

#: the table each dataset is read from
DATASET_TABLES: dict[str, str] = {"train": "training_examples", "eval": "eval_examples"}
_SUFFIX_FORMATS: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
#: the text columns (``with_text=False`` leaves them out of either format)
TEXT_COLUMNS: tuple[str, ...] = ("request_text", "output_text")
#: the column only ``with_user_id=True`` exports (to parquet; JSONL never has it)
USER_ID_COLUMN = "user_id"
#: every column a parquet export can have, in file order
PARQUET_COLUMNS: tuple[str, ...] = (
    "output_id",
    "request_id",
    "label_task",
    "surface",
    "model_version",
    USER_ID_COLUMN,
    "shown_at",
    "shown_date",
    *TEXT_COLUMNS,
    "is_covered",
    "p_good",
    "label",
    "confidence",
    "weight",
    "p_good_majority",
    "explicit_label",
    "label_run_id",
    "split",
)
#: the keys of a JSONL example, in line order; each is the column of that name but
#: ``messages`` (the chat, from the text columns; left out with ``with_text=False``)
JSONL_FIELDS: tuple[str, ...] = (
    "messages",
    "label",
    "p_good",
    "weight",
    "output_id",
    "label_task",
    "model_version",
)
#: the columns every export filters or orders on
_QUERY_COLUMNS = (
    "label_task",
    "model_version",
    "shown_date",
    "confidence",
    "shown_at",
    "output_id",
)
_MESSAGES = """[
    {'role': 'user', 'content': request_text},
    {'role': 'assistant', 'content': output_text}
]"""


@dataclass(frozen=True)
class ExportQuery:
    """The SQL of an export (a ``where`` over one table), its bound parameters, and in words."""

    table: str
    where: str
    params: list[object]
    description: str


@dataclass(frozen=True)
class ExportConfig:
    """What ``flywheel export`` writes; see :func:`export_examples` for each field.

    Attributes
    ----------
    out
        Target file (``.jsonl`` or ``.parquet`` unless ``fmt`` is given).
    fmt
        ``'jsonl'`` or ``'parquet'``; None: from ``out``'s suffix.
    dataset
        ``'train'`` (``training_examples``) or ``'eval'`` (``eval_examples``).
    task, model_version, since, until, min_confidence
        Filters; None keeps everything.
    with_text
        False leaves out ``request_text`` and ``output_text`` (JSONL: the ``messages`` key).
    with_user_id
        True adds ``user_id`` to a parquet export (JSONL never has it).
    """

    out: Path
    fmt: Format | None = None
    dataset: Dataset = "train"
    task: str | None = None
    model_version: str | None = None
    since: date | None = None
    until: date | None = None
    min_confidence: float | None = None
    with_text: bool = True
    with_user_id: bool = False


def run_export(con: duckdb.DuckDBPyConnection, schema: str, config: ExportConfig) -> int:
    """:func:`export_examples` with the settings of an :class:`ExportConfig`; rows written."""
    return export_examples(
        con,
        schema,
        config.out,
        fmt=config.fmt,
        dataset=config.dataset,
        task=config.task,
        model_version=config.model_version,
        since=config.since,
        until=config.until,
        min_confidence=config.min_confidence,
        with_text=config.with_text,
        with_user_id=config.with_user_id,
    )


def infer_format(out_path: Path) -> Format:
    """The export format implied by ``out_path``'s suffix."""
    fmt = _SUFFIX_FORMATS.get(out_path.suffix.lower())
    if fmt is None:
        raise FlywheelError(
            f"cannot tell the format of {out_path} from its suffix: name it .jsonl or "
            ".parquet, or pass the format (--format jsonl|parquet)"
        )
    return fmt


def export_columns(fmt: Format, *, with_text: bool = True, with_user_id: bool = False) -> list[str]:
    """The fields an export of ``fmt`` writes, in order (JSONL: keys; parquet: columns)."""
    if fmt == "jsonl":
        if with_user_id:
            raise FlywheelError(
                "with_user_id (--with-user-id) is for parquet exports: JSONL examples never "
                "carry user_id"
            )
        return [f for f in JSONL_FIELDS if with_text or f != "messages"]
    left_out = {*(() if with_text else TEXT_COLUMNS), *(() if with_user_id else (USER_ID_COLUMN,))}
    return [c for c in PARQUET_COLUMNS if c not in left_out]


def build_query(
    schema: str,
    *,
    fmt: Format,
    dataset: Dataset = "train",
    task: str | None = None,
    model_version: str | None = None,
    since: date | None = None,
    until: date | None = None,
    min_confidence: float | None = None,
) -> ExportQuery:
    """The table and filter an export reads (validated, values as parameters)."""
    if dataset not in DATASET_TABLES:
        raise FlywheelError(f"unknown dataset {dataset!r}: use 'train' or 'eval'")
    if since is not None and until is not None and since > until:
        raise FlywheelError(f"since {since} is after until {until}: nothing to export")
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise FlywheelError(
            f"min_confidence {min_confidence} is not in [0, 1] (confidence is max(P, 1 - P), "
            "so 0.5..1 is the useful range)"
        )
    table = qualified(schema, DATASET_TABLES[dataset])
    clauses: list[str] = []
    params: list[object] = []
    described: list[str] = []
    for column, op, value in (
        ("label_task", "=", task),
        ("model_version", "=", model_version),
        ("shown_date", ">=", since),
        ("shown_date", "<=", until),
        ("confidence", ">=", min_confidence),
    ):
        if value is not None:
            clauses.append(f"{column} {op} ?")
            params.append(value)
            described.append(f"{column} {op} {value!s}")
    if fmt == "jsonl":
        clauses.append("request_text is not null and output_text is not null")
        described.append("with request and output text")
    description = " and ".join(described) or "no filter"
    return ExportQuery(table, " and ".join(clauses) or "true", params, description)


def export_examples(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    out_path: Path | str,
    *,
    fmt: Format | None = None,
    dataset: Dataset = "train",
    task: str | None = None,
    model_version: str | None = None,
    since: date | None = None,
    until: date | None = None,
    min_confidence: float | None = None,
    with_text: bool = True,
    with_user_id: bool = False,
) -> int:
    """Write the examples of ``dataset`` matching the filters to ``out_path``.

    Parameters
    ----------
    con, schema
        The warehouse and the schema dbt built into.
    out_path
        Target file; its directory must exist. Replaced if it exists.
    fmt
        ``'jsonl'`` (chat fine-tuning shape) or ``'parquet'`` (the table's columns); default:
        from the suffix (``.jsonl``/``.ndjson``/``.json``, ``.parquet``/``.pq``).
    dataset
        ``'train'`` reads ``training_examples`` (train split, covered, confidence at or above
        ``flywheel__min_confidence``); ``'eval'`` reads ``eval_examples`` (every held-out
        output).
    task, model_version
        Keep one label task / one model version.
    since, until
        Keep outputs shown on these days or between them (inclusive, UTC ``shown_date``).
    min_confidence
        Keep examples with ``confidence = max(p_good, 1 - p_good)`` at or above this. (The
        train set is already cut at ``flywheel__min_confidence``; a lower value keeps it.)
    with_text
        False leaves out ``request_text`` and ``output_text``: parquet without those columns,
        JSONL without ``messages`` (the other keys, for the same examples as with text).
    with_user_id
        True adds ``user_id`` to a parquet export; by default it is left out. Not for JSONL,
        which never carries it (an error).

    Returns
    -------
    int
        Rows written.
    """
    out_path = Path(out_path)
    fmt = fmt or infer_format(out_path)
    if fmt not in ("jsonl", "parquet"):
        raise FlywheelError(f"unknown export format {fmt!r}: use 'jsonl' or 'parquet'")
    fields = export_columns(fmt, with_text=with_text, with_user_id=with_user_id)
    query = build_query(
        schema,
        fmt=fmt,
        dataset=dataset,
        task=task,
        model_version=model_version,
        since=since,
        until=until,
        min_confidence=min_confidence,
    )
    for table in (DATASET_TABLES[dataset], "labeled_examples"):
        require_table(con, schema, table)
    _check_columns(con, schema, DATASET_TABLES[dataset], fmt, fields)
    _check_value(con, schema, "label_task", task, "task")
    _check_value(con, schema, "model_version", model_version, "model version")
    _check_writable(out_path)
    written = _copy(con, query, fmt, fields, out_path)
    if written == 0:
        raise FlywheelError(
            f"no {dataset} examples in {schema}.{DATASET_TABLES[dataset]} match "
            f"({query.description}): nothing written"
        )
    return written


def _select(fields: list[str]) -> str:
    """``select`` of the export's fields, each a column of its name but ``messages``."""
    return "select " + ", ".join(
        f"{_MESSAGES} as messages" if f == "messages" else quote_identifier(f) for f in fields
    )


def _copy(
    con: duckdb.DuckDBPyConnection,
    query: ExportQuery,
    fmt: Format,
    fields: list[str],
    out_path: Path,
) -> int:
    """``COPY`` the query's rows to a temporary file, renamed to ``out_path`` if any."""
    select = _select(fields)
    options = "format json" if fmt == "jsonl" else "format parquet, compression zstd"
    tmp_path = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        row = con.execute(
            f"copy ({select} from {query.table} where {query.where} "
            f"order by shown_at, output_id) to ? ({options})",
            [*query.params, str(tmp_path)],
        ).fetchone()
        written = int(row[0]) if row is not None else 0
        if written:
            os.replace(tmp_path, out_path)
    except (duckdb.IOException, OSError) as exc:
        raise FlywheelError(f"cannot write {out_path}: {first_line(exc)}") from exc
    finally:
        tmp_path.unlink(missing_ok=True)
    return written


def _check_columns(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, fmt: Format, fields: list[str]
) -> None:
    """``table`` has every column the export reads (a table built by an older version, or by
    hand, may not): its fields, the filter and order columns, and for JSONL the texts."""
    needed = [
        *(TEXT_COLUMNS if fmt == "jsonl" else ()),
        *(f for f in fields if f != "messages"),
        *_QUERY_COLUMNS,
    ]
    have = table_columns(con, schema, table)
    missing = [c for c in dict.fromkeys(needed) if c not in have]
    if missing:
        raise FlywheelError(
            f"{schema}.{table} has no column {', '.join(missing)}: rebuild it with "
            "`flywheel run` (or `dbt build`)"
        )


def _check_value(
    con: duckdb.DuckDBPyConnection, schema: str, column: str, value: str | None, what: str
) -> None:
    """``value`` must occur in ``column`` of labeled_examples (every labelled output)."""
    if value is None:
        return
    table, col = qualified(schema, "labeled_examples"), quote_identifier(column)
    found = con.execute(f"select 1 from {table} where {col} = ? limit 1", [value]).fetchone()
    if found is not None:
        return
    known = [
        str(row[0])
        for row in con.execute(
            f"select distinct {col} from {table} where {col} is not null order by 1"
        ).fetchall()
    ]
    raise FlywheelError(f"unknown {what} {value!r}: the warehouse has {', '.join(known) or 'none'}")


def _check_writable(out_path: Path) -> None:
    parent = out_path.parent.resolve()
    if not parent.is_dir():
        raise FlywheelError(f"cannot write {out_path}: directory {parent} does not exist")
    if out_path.is_dir():
        raise FlywheelError(f"cannot write {out_path}: it is a directory")
    if not os.access(parent, os.W_OK):
        raise FlywheelError(f"cannot write {out_path}: directory {parent} is not writable")
