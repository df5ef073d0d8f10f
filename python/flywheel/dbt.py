"""Run dbt in-process on the flywheel project, with compact progress lines."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from flywheel.errors import FlywheelError
from flywheel.project import Project

#: selectors.yml: everything the label job reads (staging to votes), nothing built from its tables
BEFORE_LABELS = "before_labels"
#: selectors.yml: the label job's tables and everything built from them (labels, marts)
AFTER_LABELS = "after_labels"
#: what to tell a user whose warehouse has votes but no (current) labels
RELABEL_HINT = f"run `flywheel label`, then `dbt build --selector {AFTER_LABELS}`"


def run_dbt(
    project: Project,
    args: Sequence[str],
    *,
    dbt_vars: dict[str, Any] | None = None,
    echo: Callable[[str], None] | None = None,
) -> None:
    """Invoke ``dbt <args>`` on the project; raise FlywheelError naming what failed.

    Progress: one line per finished node through ``echo`` (default: stdout), so a long build
    shows where it is. dbt's own console output is kept to warnings and errors.
    """
    from dbt.cli.main import dbtRunner

    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    write = echo or (lambda line: print(line, flush=True))
    lock = threading.Lock()  # dbt calls back from its worker threads

    def say(line: str) -> None:
        with lock:
            write(line)

    started = time.monotonic()

    def on_event(event: Any) -> None:
        # one line per model/seed built and per test that did not pass; passing tests are
        # counted in dbt's closing line
        if event.info.name != "NodeFinished":
            return
        node = event.data.node_info
        if node.resource_type in {"test", "unit_test"} and node.node_status == "pass":
            return
        elapsed = time.monotonic() - started
        say(f"    [{elapsed:6.1f}s] {node.node_status:<8} {node.resource_type:<9} {node.node_name}")

    full_args = [
        *args,
        "--project-dir", str(project.root),
        "--profiles-dir", str(project.root),
        "--log-level", "warn",
    ]  # fmt: skip
    if dbt_vars:
        full_args += ["--vars", json.dumps(dbt_vars)]
    result = dbtRunner(callbacks=[on_event]).invoke(full_args)
    if result.success:
        return
    failures = []
    if result.result is not None and hasattr(result.result, "results"):
        for node_result in result.result.results:
            if str(node_result.status) in {"error", "fail", "runtime error"}:
                failures.append(_failure(node_result))
    detail = "; ".join(failures) if failures else str(result.exception or "see the dbt log above")
    sys.stdout.flush()
    raise FlywheelError(f"dbt {' '.join(args)} failed: {detail}")


def _failure(node_result: Any) -> str:
    """``name (status)``, with the first line of an error's message (what went wrong)."""
    status = str(node_result.status)
    message = " ".join(str(getattr(node_result, "message", "") or "").split())
    if status == "fail" or not message:  # a failing test's message is only "Got N results"
        return f"{node_result.node.name} ({status})"
    for prefix in ("Compilation Error in", "Runtime Error in", "Database Error in"):
        if message.startswith(prefix):  # "... in test x (tests/x.sql) <the message>"
            message = message.split(")", 1)[-1].strip() or message
    return f"{node_result.node.name} ({status}: {message[:400]})"
