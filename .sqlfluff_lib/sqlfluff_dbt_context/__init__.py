"""dbt's Jinja context for sqlfluff's jinja templater: as much of it as flywheel uses.

`.sqlfluff` names this package as the templater's `library_path`: sqlfluff puts every public
name below into the Jinja context of each file it lints (this module's other globals start
with an underscore). With the project's macros (`load_macros_from_path = macros`) and
sqlfluff's dbt builtins (`ref`, `source`, `config`, `return`, `tojson`) it renders a model as
`dbt compile` does on DuckDB, without starting dbt:

- `flywheel.<macro>(...)` calls the project macro of that name, and
  `adapter.dispatch(name, 'flywheel')` picks `duckdb__<name>`, else `default__<name>`.
- `var(name)` reads the vars of dbt_project.yml (the values a plain `dbt build` uses).
- `dbt.<macro>` and `api.Column.translate_type` return what dbt-duckdb's versions compile to
  (same text, whitespace included), for the ones our SQL calls.
- The warehouse is empty, as for the first `dbt build`: `adapter.get_relation` and
  `load_relation` find nothing. sqlfluff still lints the other `{% if %}` branches (it renders
  variants of a file for the branches one rendering leaves out).
- `exceptions.raise_compiler_error` fails the render, as it fails dbt's compile.
- `run_query` answers the one introspection our macros make (`describe` of the raw events):
  every column of the event contract, as text. `modules` and `run_started_at` are dbt's.
"""

import datetime as _datetime
import pathlib as _pathlib
import re as _re
import hashlib as _hashlib
import types as _types

import jinja2 as _jinja2
import yaml as _yaml

_PROJECT_DIR = _pathlib.Path(__file__).resolve().parents[2]
with open(_PROJECT_DIR / "dbt_project.yml", encoding="utf-8") as _file:
    _VARS = _yaml.safe_load(_file).get("vars") or {}
_MISSING = object()

execute = True
modules = _types.SimpleNamespace(re=_re, datetime=_datetime)
run_started_at = _datetime.datetime(2026, 1, 1, tzinfo=_datetime.UTC)

_CONTRACT = (
    "event_id", "occurred_at", "received_at", "user_id", "surface", "event_type",
    "request_id", "output_id", "model_version", "properties",
)


def run_query(sql):
    """`describe` of the raw events: the contract's columns, all text; any other query: no row."""
    if sql.lstrip().lower().startswith("describe"):
        return _types.SimpleNamespace(rows=[(name, "VARCHAR") for name in _CONTRACT])
    return _types.SimpleNamespace(rows=[])


def var(name, default=_MISSING):
    """dbt's `var()`: the value in dbt_project.yml, else the default, else a compile error."""
    if name in _VARS:
        return _VARS[name]
    if default is _MISSING:
        raise _jinja2.TemplateRuntimeError(f"Required var '{name}' not found in dbt_project.yml")
    return default


def load_relation(relation):
    """No table exists yet (a fresh warehouse)."""
    return None


def local_md5(text):
    """dbt's `local_md5`: the md5 of a text, in hex."""
    return _hashlib.md5(text.encode("utf-8")).hexdigest()


def is_incremental():
    """A fresh warehouse: every incremental model builds in full."""
    return False


def _resolve_macro(context, name):
    macro = context.resolve_or_missing(name)
    if macro is _jinja2.runtime.missing:
        return None
    return macro


class _ProjectNamespace:
    """`flywheel.<name>`: the project macro `name` (from macros/)."""

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        @_jinja2.pass_context
        def call_macro(context, *args, **kwargs):
            macro = _resolve_macro(context, name)
            if macro is None:
                raise _jinja2.TemplateRuntimeError(f"flywheel.{name}: no such macro in macros/")
            return macro(*args, **kwargs)

        return call_macro


flywheel = _ProjectNamespace()


class _Column:
    _TYPE_LABELS = {"STRING": "TEXT"}

    @classmethod
    def translate_type(cls, dtype):
        return cls._TYPE_LABELS.get(dtype.upper(), dtype)


class _Api:
    Column = _Column


api = _Api()


class _DbtNamespace:
    """dbt's cross-database macros as dbt-duckdb compiles them (text as dbt renders it)."""

    @staticmethod
    def type_string():
        return _Column.translate_type("string")

    @staticmethod
    def type_int():
        return _Column.translate_type("integer")

    @staticmethod
    def type_float():
        return _Column.translate_type("float")

    @staticmethod
    def type_timestamp():
        return _Column.translate_type("timestamp")

    @staticmethod
    def hash(field):
        return f"md5(cast({field} as {_Column.translate_type('string')}))"

    @staticmethod
    def concat(fields):
        return " || ".join(str(field) for field in fields)

    @staticmethod
    def cast(field, type):
        return f"\n    cast({field} as {type})\n"

    @staticmethod
    def safe_cast(field, type):
        return f"\n    cast({field} as {type})\n"

    @staticmethod
    def dateadd(datepart, interval, from_date_or_timestamp):
        unit = str(datepart).lower()
        if unit == "quarter":
            body = f"({from_date_or_timestamp} + (cast({interval} as bigint) * 3) * interval 1 month)"
        elif unit == "week":
            body = f"({from_date_or_timestamp} + (cast({interval} as bigint) * 7) * interval 1 day)"
        else:
            body = f"({from_date_or_timestamp} + cast({interval} as bigint) * interval 1 {unit})"
        return f"\n\n    \n\n    {body}\n\n"

    @staticmethod
    def datediff(first_date, second_date, datepart):
        if datepart == "week":
            raise _jinja2.TemplateRuntimeError("dbt.datediff: 'week' is not emulated for sqlfluff")
        return (
            f"\n        (date_diff('{datepart}', {first_date}::timestamp, {second_date}::timestamp ))"
            "\n    "
        )


dbt = _DbtNamespace()


class _Adapter:
    @staticmethod
    def quote(identifier):
        """dbt-duckdb's adapter.quote: the identifier in double quotes."""
        return '"' + identifier + '"'

    @staticmethod
    def type():
        return "duckdb"

    @_jinja2.pass_context
    def dispatch(self, context, macro_name, macro_namespace=None):
        """dbt's dispatch: `duckdb__<name>`, else `default__<name>` (dbt's: a dbt.<name>)."""
        if macro_namespace == "dbt":
            return getattr(dbt, macro_name)
        for prefix in ("duckdb__", "default__"):
            macro = _resolve_macro(context, prefix + macro_name)
            if macro is not None:
                return macro
        raise _jinja2.TemplateRuntimeError(
            f"adapter.dispatch: no duckdb__{macro_name} or default__{macro_name} macro"
        )

    @staticmethod
    def get_relation(database=None, schema=None, identifier=None):
        return None

    @staticmethod
    def get_columns_in_relation(relation):
        return []


adapter = _Adapter()


class _Exceptions:
    @staticmethod
    def warn(msg):
        return ""

    @staticmethod
    def raise_compiler_error(msg):
        raise _jinja2.TemplateRuntimeError(f"Compilation Error: {msg}")


exceptions = _Exceptions()
