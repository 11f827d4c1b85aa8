"""Where a purge keeps dead letters before deleting them: a local file, or the stage's S3 bucket in AWS.

Both are hand-overs of ``ops.drain``: a batch is deleted from the DLQ only once the archive holds it (the file
flushed to disk, the S3 object written), so an interrupted purge never loses a message it had not archived.
One record per message, JSON lines: the queue, the message id, the body as it was, the SQS attributes and the
message attributes, and when it was archived; enough to inspect it later or send it again by hand.

* ``FileArchive``: one file per purge, ``<dir>/<queue>/<UTC time>-<run id>.jsonl`` (readable by its owner only);
  the local stack's purges, and any purge given ``--archive-dir``;
* ``S3Archive``: one object per batch, ``<queue>/<YYYY>/<MM>/<DD>/<UTC time>-<run id>/<batch>.jsonl``, in the data
  stack's bucket (KMS-encrypted, private, TLS only, expired after 90 days).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from datalayer.clock import Clock, utc_now
from ops.dead_letters import DeadLetter
from ops.drain import Handed


class ArchiveError(Exception):
    """The archive did not take a batch: nothing of it was deleted."""


def archive_record(queue: str, letter: DeadLetter, archived_at: datetime) -> dict[str, Any]:
    return {
        "queue": queue,
        "message_id": letter.message_id,
        "body": letter.body,
        "attributes": dict(letter.attributes),
        "message_attributes": dict(letter.message_attributes),
        "archived_at": archived_at.isoformat(),
    }


def _lines(queue: str, letters: Sequence[DeadLetter], archived_at: datetime) -> str:
    return "".join(json.dumps(archive_record(queue, letter, archived_at)) + "\n" for letter in letters)


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y%m%dT%H%M%SZ}"


class FileArchive:
    def __init__(self, directory: Path, queue: str, started: datetime, run_id: str, clock: Clock = utc_now) -> None:
        self.queue = queue
        self.path = directory / queue / f"{_stamp(started)}-{run_id}.jsonl"
        self.clock = clock

    @property
    def location(self) -> str:
        return str(self.path)

    def hand_over(self, letters: Sequence[DeadLetter]) -> Handed:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(descriptor, "a", encoding="utf-8") as archive:
                archive.write(_lines(self.queue, letters, self.clock()))
                archive.flush()
                os.fsync(archive.fileno())
        except OSError as exc:
            raise ArchiveError(f"archive {self.path} not written: {exc}") from exc
        return Handed(frozenset(letter.message_id for letter in letters))


class S3Archive:
    def __init__(self, s3: Any, bucket: str, queue: str, started: datetime, run_id: str,
                 clock: Clock = utc_now) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.queue = queue
        self.prefix = f"{queue}/{started:%Y/%m/%d}/{_stamp(started)}-{run_id}/"
        self.clock = clock
        self._batches = 0

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def hand_over(self, letters: Sequence[DeadLetter]) -> Handed:
        self._batches += 1
        key = f"{self.prefix}{self._batches:05d}.jsonl"
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=_lines(self.queue, letters, self.clock()).encode(),
                               ContentType="application/x-ndjson")
        except (ClientError, BotoCoreError) as exc:
            raise ArchiveError(f"archive s3://{self.bucket}/{key} not written: {exc}") from exc
        return Handed(frozenset(letter.message_id for letter in letters))
