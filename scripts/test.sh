#!/usr/bin/env bash
# Set up, then run the whole test suite: lint, dbt parse, and pytest (unit tests, and
# functional tests that run dbt build -- dbt unit and data tests included -- and the label job
# on simulated data in a temporary warehouse).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
export DBT_SEND_ANONYMOUS_USAGE_STATS=false
.venv/bin/ruff check python
.venv/bin/dbt parse --project-dir . --profiles-dir . --quiet
.venv/bin/python -m pytest "$@"
