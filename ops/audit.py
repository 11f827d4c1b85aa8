"""The operators' audit trail: who did what to which dead-letter queue, when, with which filters, how many.

Every ``switchboard dlq`` action (looking included: ``show`` prints what customers wrote, masked or not) writes one
JSON record to the CloudWatch Logs group ``switchboard-<stage>-audit`` (``Settings.audit_log_group``), in a
stream per UTC day. The data stack creates the group in AWS (KMS-encrypted, kept 90 days); against the local
stack the tool creates it on first use. A mutating action opens the log *before* it starts, so that an
operator who may not write the audit trail is stopped before anything moves, and records how it ended
(``completed``, ``interrupted``, ``failed``) with what it had done by then.

Who: the caller's ARN (``sts get-caller-identity``) in AWS; the operating-system user against the local stack.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from datalayer.clock import Clock, utc_now


class AuditLogError(Exception):
    """The audit trail cannot be written (missing group, no permission): the action does not start."""


@dataclass(frozen=True)
class AuditRecord:
    who: str
    when: str
    """ISO 8601, UTC."""
    stage: str
    action: str
    """``list``, ``show``, ``redrive``, ``purge``."""
    queue: str | None
    count: int
    """Messages listed, shown, moved or archived and deleted."""
    outcome: str = "completed"
    filters: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    """Method, dry run, rate, destination, archive location, what was left or refused."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AuditRecord:
        values = json.loads(text)
        return cls(**{name: values[name] for name in cls.__dataclass_fields__ if name in values})


def local_operator() -> str:
    """``user@host`` of this machine, for actions against the local stack."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        user = f"uid-{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


class AuditLog:
    def __init__(self, logs: Any, group: str, *, create_group: bool, clock: Clock = utc_now) -> None:
        """``create_group``: against the local stack; in AWS the data stack owns the group (and its key)."""
        self.logs = logs
        self.group = group
        self.create_group = create_group
        self.clock = clock
        self._streams: set[str] = set()

    def open(self) -> None:
        """Make sure today's stream exists (and the group, locally)."""
        stream = self._stream()
        if stream in self._streams:
            return
        if self.create_group:
            self._create(self.logs.create_log_group, logGroupName=self.group)
        try:
            self._create(self.logs.create_log_stream, logGroupName=self.group, logStreamName=stream)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                raise AuditLogError(f"audit log group {self.group} does not exist: deploy the stage's data stack "
                                    "(make deploy-data)") from exc
            raise
        self._streams.add(stream)

    def write(self, record: AuditRecord) -> None:
        self.open()
        answer = self.logs.put_log_events(
            logGroupName=self.group,
            logStreamName=self._stream(),
            logEvents=[{"timestamp": int(self.clock().timestamp() * 1000), "message": record.to_json()}],
        )
        if answer.get("rejectedLogEventsInfo"):  # CloudWatch drops events from > 14 days ago or > 2 h ahead, silently
            raise AuditLogError(f"the audit log refused the record (is this machine's clock right?): "
                                f"{answer['rejectedLogEventsInfo']}")

    def read(self, since: timedelta, limit: int) -> list[AuditRecord]:
        """The newest ``limit`` records of the last ``since``, oldest first."""
        start = int((self.clock() - since).timestamp() * 1000)
        records: list[AuditRecord] = []
        request: dict[str, Any] = {"logGroupName": self.group, "startTime": start}
        try:
            while True:
                answer = self.logs.filter_log_events(**request)
                for event in answer.get("events", []):
                    try:
                        records.append(AuditRecord.from_json(event["message"]))
                    except (ValueError, TypeError):
                        continue
                if not answer.get("nextToken") or answer["nextToken"] == request.get("nextToken"):
                    break
                request["nextToken"] = answer["nextToken"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return []
            raise
        records.sort(key=lambda record: record.when)
        return records[-limit:]

    def _stream(self) -> str:
        return f"dlq/{self.clock():%Y-%m-%d}"

    @staticmethod
    def _create(create: Any, **request: str) -> None:
        try:
            create(**request)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise
