"""Labelled ticket files for training and evaluation (CSV or JSON Lines).

Both commands take ``--text-column`` and ``--label-column`` so that public benchmarks
(BANKING77: ``text,category``) and our own exports (``text,team``) load without conversion.
Each row also gets a channel (``Channel``: email, phone, chat, web, social, api): from a ``channel`` column when
the file has one, else the caller's default (``web``, the channel of a ``Ticket`` that names none; the FCC
complaints, which have no such column, were filed through the FCC's web form). Every problem becomes a
``DatasetError`` with one line a person can act on.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from agent.exceptions import DatasetError
from datalayer.types import Channel, Ticket

DEFAULT_CHANNEL: str = Ticket.model_fields["channel"].default.value
"""Channel of a row (or a ticket) that names none: the ``Ticket`` model's default."""
CHANNEL_COLUMN = "channel"

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class LabelledTexts:
    texts: list[str]
    labels: list[str]
    ids: list[str]
    source: str
    channels: list[str]
    """One ``Channel`` value per row."""
    has_channel_column: bool = False


def _read_text(path: Path) -> str:
    """UTF-8 (with or without BOM); spreadsheet exports in Windows-1252/Latin-1 are read too rather than refused."""
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise DatasetError(f"{path} is a binary file, not CSV or JSON Lines text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _json_lines(path: Path, text: str) -> list[dict[str, object]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: line {number} is not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise DatasetError(f"{path}: line {number} is not a JSON object")
        rows.append(row)
    return rows


def _rows(path: Path) -> list[dict[str, object]]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return list(csv.DictReader(io.StringIO(_read_text(path), newline="")))
        if suffix in {".jsonl", ".ndjson"}:
            return _json_lines(path, _read_text(path))
    except FileNotFoundError as exc:
        raise DatasetError(f"data file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise DatasetError(f"data path is a directory, not a file: {path}") from exc
    except csv.Error as exc:
        raise DatasetError(f"{path} is not a readable CSV file: {exc}") from exc
    raise DatasetError(f"unsupported data file type {suffix or '(none)'!r}: use .csv or .jsonl")


def load_labelled(
    path: str | Path, text_column: str = "text", label_column: str = "team", default_channel: str = DEFAULT_CHANNEL
) -> LabelledTexts:
    """Read texts, labels and channels; rows with an empty label or an unknown channel are an error, empty texts
    are kept (they are tickets too). Rows of a file without a ``channel`` column (or with an empty cell) get
    ``default_channel``."""
    path = Path(path)
    rows = _rows(path)
    if not rows:
        raise DatasetError(f"{path} has no data rows")
    columns = set(rows[0])
    missing = [c for c in (text_column, label_column) if c not in columns]
    if missing:
        raise DatasetError(f"{path} has no column {', '.join(map(repr, missing))}; columns are {sorted(columns)}")
    known_channels = {c.value for c in Channel}
    if default_channel not in known_channels:
        raise DatasetError(f"unknown channel {default_channel!r}: use one of {', '.join(sorted(known_channels))}")
    texts, labels, ids, channels = [], [], [], []
    for number, row in enumerate(rows, start=1):
        label = str(row.get(label_column) or "").strip()
        if not label:
            raise DatasetError(f"{path}: row {number} has an empty {label_column!r}")
        channel = str(row.get(CHANNEL_COLUMN) or "").strip().lower() or default_channel
        if channel not in known_channels:
            raise DatasetError(
                f"{path}: row {number} has channel {channel!r}; channels are {', '.join(sorted(known_channels))}"
            )
        texts.append(str(row.get(text_column) or ""))
        labels.append(label)
        ids.append(str(row.get("id") or row.get("ticket_id") or number))
        channels.append(channel)
    return LabelledTexts(
        texts=texts,
        labels=labels,
        ids=ids,
        source=str(path),
        channels=channels,
        has_channel_column=CHANNEL_COLUMN in columns,
    )
