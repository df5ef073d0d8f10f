#!/usr/bin/env bash
# Set up, then run the whole test suite: lint, format and type checks, dbt parse, and pytest
# (unit tests, and functional tests that run dbt build -- dbt unit and data tests included --
# the label job, the CLI, and the HTML report rendered in headless Chromium, on simulated data
# in temporary warehouses).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
# Headless Chromium renders the report in the report test. Installed from Debian's packages
# when missing and we may (root); elsewhere the test skips (it never skips in CI).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# A Java runtime for the Spark leg (python/tests/functional/test_spark.py), likewise.
if ! command -v java >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
export DBT_SEND_ANONYMOUS_USAGE_STATS=false
.venv/bin/ruff check python benchmarks scripts
.venv/bin/ruff format --check python benchmarks scripts
.venv/bin/mypy --strict python/flywheel  # settings: pyproject.toml [tool.mypy]
.venv/bin/sqlfluff lint models macros tests  # settings: .sqlfluff (jinja templater, dbt context in .sqlfluff_lib)
.venv/bin/dbt parse --project-dir . --profiles-dir . --quiet
.venv/bin/python -m pytest "$@"
