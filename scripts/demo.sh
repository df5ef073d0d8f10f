#!/usr/bin/env bash
# Set up, then run the whole job end to end on the embedded DuckDB with simulated sample data:
# simulate events -> dbt build (signals, votes) -> label model -> dbt build (labels) -> summary.
# Extra arguments go to `flywheel run` (e.g. --n-events 1000000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DBT_SEND_ANONYMOUS_USAGE_STATS=false
.venv/bin/flywheel run "$@"
