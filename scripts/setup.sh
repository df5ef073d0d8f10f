#!/usr/bin/env bash
# Create .venv (if missing) and install flywheel with everything it needs, pinned.
# Usage: bash scripts/setup.sh [--dev]   (--dev: the test tools, and dbt-spark + pyspark for the
# Spark leg of the tests)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
extras=""
if [ "${1:-}" = "--dev" ]; then
    extras="[dev,spark]"
fi
# torch first, pinned: 2.13.0 is the CPU wheel; any other torch request pulls a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
