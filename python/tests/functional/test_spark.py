"""The same dbt project on Apache Spark and on DuckDB: every relation equal.

A small simulated stream is built twice from the same parquet file:

- on DuckDB, the whole job (``flywheel run``: dbt before the labels, the label job, dbt
  after);
- on Spark (dbt-spark's session method, local mode, in this process: one JVM), ``dbt build``
  of the same selectors, with the label job's tables copied over from DuckDB in between (the
  label job itself runs on DuckDB only, for now).

Both builds run every dbt unit test and data test of the project. Then every relation DuckDB
built (seeds, staging, intermediate, marts, reports) is read from both engines and compared:
the same columns with the same kinds of types (a decimal where DuckDB has a double fails),
and the same rows, numbers equal to 9 significant digits (``SIGNIFICANT_DIGITS``), times in
UTC. Token arrays are compared as sets (their order is the engine's). The `_loaded_at` stamp
is the build's time and is left out.

Needs dbt-spark and pyspark (``bash scripts/setup.sh --dev``) and a Java runtime; skipped
without them, except in CI, where it fails.
"""

from __future__ import annotations

import datetime as dt
import decimal
import importlib.util
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flywheel.dbt import AFTER_LABELS, BEFORE_LABELS, run_dbt
from flywheel.errors import FlywheelError
from flywheel.pipeline import run_pipeline
from flywheel.project import Project, load_project
from flywheel.simulate import simulate

#: numbers agree to this many significant digits (doubles summed in another order, the
#: same formulas)
SIGNIFICANT_DIGITS = 9
#: the Spark schema (a Hive database) the project builds into
SPARK_SCHEMA = "flywheel"
#: the label job's tables (source flywheel_labels), copied from DuckDB to Spark
LABEL_TABLES = (
    "label_model_patterns",
    "label_model_runs",
    "label_model_lf_weights",
    "label_model_priors",
    "label_model_scoring_weights",
)
#: columns that differ by construction: the build's timestamp
RUN_SPECIFIC_COLUMNS = {"_loaded_at"}


def _spark_available() -> str | None:
    """Why Spark cannot run here, or None."""
    for module in ("pyspark", "dbt.adapters.spark"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (bash scripts/setup.sh --dev)"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (apt-get install -y openjdk-17-jre-headless)"
    return None


@pytest.fixture(scope="module")
def engines(
    tmp_path_factory: pytest.TempPathFactory, copy_project: Any
) -> Iterator[dict[str, Any]]:
    """Both builds of one small stream: the DuckDB project and the active Spark session."""
    missing = _spark_available()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"Spark leg cannot run: {missing}; CI must install it")
        pytest.skip(missing)
    base = tmp_path_factory.mktemp("spark")
    sim = simulate(base / "data", n_events=6_000, seed=11, fmt="parquet", golden_size=60)
    events = str(sim.events_path)

    duck = load_project(copy_project(base / "duckdb"), base / "duckdb" / "warehouse.duckdb")
    run_pipeline(duck, events_path=sim.events_path, truth_path=sim.truth_path, echo=lambda _: None)

    spark_root = copy_project(base / "spark")
    warehouse = base / "spark" / "spark-warehouse"
    env = {
        "FLYWHEEL_SPARK_WAREHOUSE": str(warehouse),
        "FLYWHEEL_SPARK_SCHEMA": SPARK_SCHEMA,
        "FLYWHEEL_SPARK_SHUFFLE_PARTITIONS": "2",
        "SPARK_LOCAL_IP": "127.0.0.1",
        # a quick JVM start: no tiered compilation beyond C1, the serial collector
        "JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    spark_project = Project(root=spark_root, db_path=base / "unused.duckdb", schema=SPARK_SCHEMA)
    dbt_vars = {"flywheel__events_path": events}
    quiet = lambda _: None  # noqa: E731
    try:
        run_dbt(spark_project, ["seed", "--target", "spark"], echo=quiet)
        run_dbt(
            spark_project,
            ["build", "--target", "spark", "--selector", BEFORE_LABELS],
            dbt_vars=dbt_vars,
            echo=quiet,
        )
        from pyspark.sql import SparkSession

        # dbt-spark's session, in this process (getOrCreate finds it)
        spark = SparkSession.builder.getOrCreate()
        con = duck.connect()
        try:
            for table in LABEL_TABLES:
                path = base / "labels" / f"{table}.parquet"
                path.parent.mkdir(exist_ok=True)
                con.execute(f"copy {duck.schema}.{table} to '{path}' (format parquet)")
                frame = spark.read.parquet(str(path))
                for field in frame.schema.fields:  # DuckDB's timestamps are UTC, no time zone
                    if field.dataType.simpleString() == "timestamp_ntz":
                        frame = frame.withColumn(field.name, frame[field.name].cast("timestamp"))
                frame.write.mode("overwrite").saveAsTable(f"{SPARK_SCHEMA}.{table}")
        finally:
            con.close()
        run_dbt(
            spark_project,
            ["build", "--target", "spark", "--selector", AFTER_LABELS],
            dbt_vars=dbt_vars,
            echo=quiet,
        )
        yield {"duckdb": duck, "spark": spark}
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _kind(data_type: str) -> str:
    """A column type as a kind both engines share: text, integer, real, ..."""
    t = data_type.lower()
    if t.endswith("[]") or t.startswith("array"):
        return "array"
    if t.startswith(("varchar", "string", "char")):
        return "text"
    if t in {"tinyint", "smallint", "integer", "int", "bigint", "hugeint", "ubigint", "uinteger"}:
        return "integer"
    if t in {"double", "float", "real"}:
        return "real"
    if t.startswith("decimal"):
        return "decimal"
    if t == "boolean":
        return "boolean"
    if t.startswith("timestamp"):
        return "timestamp"
    if t == "date":
        return "date"
    return t


def _value(value: Any) -> Any:
    """A cell in a form both engines' results compare equal in."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, decimal.Decimal)):
        number = float(value)
        if math.isnan(number):
            return "nan"
        return f"{number:.{SIGNIFICANT_DIGITS}g}"
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return tuple(sorted(str(_value(item)) for item in value))
    return str(value)


def _rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    normalized = [tuple(_value(cell) for cell in row) for row in rows]
    return sorted(normalized, key=lambda row: tuple((cell is None, str(cell)) for cell in row))


def test_every_relation_is_the_same_on_spark_and_duckdb(engines: dict[str, Any]) -> None:
    duck: Project = engines["duckdb"]
    spark = engines["spark"]
    con = duck.connect()
    try:
        relations = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "order by table_name",
                [duck.schema],
            ).fetchall()
            if name not in LABEL_TABLES
        ]
        assert len(relations) > 25
        differences = []
        for name in relations:
            duck_columns = [
                (column, _kind(data_type))
                for column, data_type in con.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [duck.schema, name],
                ).fetchall()
                if column not in RUN_SPECIFIC_COLUMNS
            ]
            spark_columns = [
                (field.name, _kind(field.dataType.simpleString()))
                for field in spark.table(f"{SPARK_SCHEMA}.{name}").schema.fields
                if field.name not in RUN_SPECIFIC_COLUMNS
            ]
            if duck_columns != spark_columns:
                differences.append(f"{name}: columns {duck_columns} != {spark_columns}")
                continue
            columns = ", ".join(f'"{column}"' for column, _ in duck_columns)
            duck_rows = _rows(con.execute(f"select {columns} from {duck.schema}.{name}").fetchall())
            spark_rows = _rows(
                [
                    tuple(row)
                    for row in spark.table(f"{SPARK_SCHEMA}.{name}")
                    .select(*[column for column, _ in duck_columns])
                    .collect()
                ]
            )
            if duck_rows != spark_rows:
                only_duck = [row for row in duck_rows if row not in spark_rows][:3]
                only_spark = [row for row in spark_rows if row not in duck_rows][:3]
                differences.append(
                    f"{name}: {len(duck_rows)} rows on DuckDB, {len(spark_rows)} on Spark; "
                    f"only on DuckDB {only_duck}, only on Spark {only_spark}"
                )
    finally:
        con.close()
    assert not differences, "\n".join(differences)


def test_a_missing_adapter_macro_fails_only_the_models_that_need_it(
    tmp_path: Path, copy_project: Any
) -> None:
    """An adapter without tokenize still parses the project and compiles the other models;
    the model that tokenizes fails naming the macro to add."""
    root = copy_project(tmp_path / "project")
    tokenize = root / "macros" / "tokenize.sql"
    text = tokenize.read_text()
    start = text.index("{% macro duckdb__tokenize")
    end = text.index("{%- endmacro %}", start) + len("{%- endmacro %}")
    tokenize.write_text(text[:start] + text[end:])
    project = load_project(root, tmp_path / "warehouse.duckdb")
    quiet = lambda _: None  # noqa: E731
    run_dbt(project, ["parse"], echo=quiet)
    run_dbt(project, ["compile", "--select", "lf_registry"], echo=quiet)
    with pytest.raises(FlywheelError) as failed:
        run_dbt(project, ["compile", "--select", "int_requests"], echo=quiet)
    assert "flywheel.tokenize has no implementation for adapter 'duckdb'" in str(failed.value)
    assert "add a duckdb__tokenize macro" in str(failed.value)


def test_no_default_implementation_raises_at_parse_time() -> None:
    """default__ implementations fail when a model that needs them compiles, never at parse."""
    macros = (Path(__file__).resolve().parents[3] / "macros").glob("*.sql")
    for path in macros:
        text = path.read_text()
        for block in text.split("{% macro default__")[1:]:
            body = block.split("{%- endmacro %}")[0]
            assert "raise_compiler_error" not in body, (
                f"{path.name}: default__{block.split('(')[0]} raises at parse time; "
                "return flywheel.missing_implementation(...) instead"
            )
