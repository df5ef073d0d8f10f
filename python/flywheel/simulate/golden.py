"""A simulated gold set: what an annotation queue returns for a uniform sample of outputs.

The simulator knows every output's truth; a team knows it for the few outputs a person
labelled. ``golden_labels.csv`` is that small set, drawn uniformly at random from the
outputs of each surface (one queue per surface, so every label task gets the same number;
uniform is the honest design: a queue of outputs the LFs already agree on flatters them),
in the gold contract flywheel reads (``flywheel run --golden FILE``): ``output_id``, ``label``
(1 good / 0 bad) and ``labeled_by``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from flywheel.warehouse import quote_literal

GOLDEN_FILE = "golden_labels.csv"
DEFAULT_GOLDEN_SIZE = 200
"""Outputs per surface in the simulated gold set: what one person labels in an afternoon."""


def write_golden_sample(truth_path: Path, out_path: Path, n: int, seed: int) -> int:
    """Write ``n`` outputs of each surface of ``truth_path``, drawn by a seeded hash, as gold.

    Parameters
    ----------
    truth_path
        The simulator's ``truth.parquet`` (``output_id``, ``is_good``, ...).
    out_path
        The CSV to write (overwritten).
    n
        Outputs to draw per surface (all of a surface's if it has fewer).
    seed
        The same seed and truth always give the same file.

    Returns
    -------
    int
        Rows written.
    """
    with duckdb.connect() as con:
        sample = (
            "select output_id, cast(is_good as integer) as label, "
            "'simulated_annotator' as labeled_by "
            f"from read_parquet({quote_literal(str(truth_path))}) "
            "qualify row_number() over (partition by surface "
            f"order by hash(output_id || ':' || {int(seed)}), output_id) <= {int(n)}"
        )
        con.execute(
            f"copy (select * from ({sample}) order by output_id) "
            f"to {quote_literal(str(out_path))} (header, delimiter ',')"
        )
        rows = con.execute(f"select count(*) from read_csv({quote_literal(str(out_path))})")
        return int(rows.fetchall()[0][0])
