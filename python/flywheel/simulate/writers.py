"""Writing the simulated tables: the events file (parquet, csv or jsonl) and the truth files."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .strings import concat
from .vocab import EVENT_COLUMNS

__all__ = ["EVENT_SCHEMA", "FORMATS", "JsonlWriter", "OutputWriter", "TableWriter"]

#: events file formats and their file extensions
FORMATS: dict[str, str] = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}
#: every event column is a nullable string
EVENT_SCHEMA = pa.schema([(c, pa.string()) for c in EVENT_COLUMNS])


class TableWriter(Protocol):
    """Anything that writes pyarrow tables to a file one after the other."""

    def write_table(self, table: pa.Table) -> None:
        """Append ``table``."""

    def close(self) -> None:
        """Finish the file."""


class JsonlWriter:
    """Newline-delimited JSON with every value a JSON string (or null), built vectorized.

    Parameters
    ----------
    path : Path
        File to create (overwritten if it exists).
    """

    def __init__(self, path: Path) -> None:
        self._fh = path.open("wb")

    def write_table(self, table: pa.Table) -> None:
        """Append one JSON object per row of ``table`` (string columns only).

        Parameters
        ----------
        table : pyarrow.Table
            Rows to write.
        """
        if table.num_rows == 0:
            return
        parts = []
        for name in table.column_names:
            col = table.column(name).combine_chunks()
            esc = pc.replace_substring(pc.replace_substring(col, "\\", "\\\\"), '"', '\\"')
            val = pc.if_else(pc.is_null(col), pa.scalar("null"), concat('"', esc, '"'))
            parts.append(concat(f'"{name}": ', val))
        line = concat("{", pc.binary_join_element_wise(*parts, ", "), "}\n")
        line = line.cast(pa.large_string())
        offsets = np.frombuffer(line.buffers()[1], dtype=np.int64)
        start, stop = offsets[line.offset], offsets[line.offset + len(line)]
        data = memoryview(line.buffers()[2])[start:stop]
        self._fh.write(data)

    def close(self) -> None:
        """Close the file."""
        self._fh.close()


def _open_events_writer(path: Path, fmt: str) -> TableWriter:
    """Open the events file writer for ``fmt`` (a key of ``FORMATS``)."""
    if fmt == "parquet":
        writer: TableWriter = pq.ParquetWriter(path, EVENT_SCHEMA, compression="zstd")
        return writer
    if fmt == "csv":
        csv_writer: TableWriter = pacsv.CSVWriter(path, EVENT_SCHEMA)
        return csv_writer
    return JsonlWriter(path)


class OutputWriter:
    """The three output files of a simulation, written chunk by chunk.

    The events file is created at once; ``truth.parquet`` and ``actions.parquet`` with the
    schema of the first chunk written.

    Parameters
    ----------
    events_path, truth_path, actions_path : Path
        Files to create (overwritten if they exist).
    fmt : str
        Format of the events file, a key of ``FORMATS``.
    """

    def __init__(self, events_path: Path, truth_path: Path, actions_path: Path, fmt: str) -> None:
        self._truth_path = truth_path
        self._actions_path = actions_path
        self._events = _open_events_writer(events_path, fmt)
        self._tables: list[pq.ParquetWriter] = []

    def write(self, events: pa.Table, truth: pa.Table, actions: pa.Table) -> None:
        """Append a chunk's tables to the three files.

        Parameters
        ----------
        events, truth, actions : pyarrow.Table
            The chunk's events, truth and actions.
        """
        self._events.write_table(events)
        if not self._tables:
            self._tables.append(
                pq.ParquetWriter(self._truth_path, truth.schema, compression="zstd")
            )
            self._tables.append(
                pq.ParquetWriter(self._actions_path, actions.schema, compression="zstd")
            )
        self._tables[0].write_table(truth)
        self._tables[1].write_table(actions)

    def close(self) -> None:
        """Close all files (the events file first)."""
        self._events.close()
        for w in self._tables:
            w.close()
