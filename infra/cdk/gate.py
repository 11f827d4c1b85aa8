"""``python -m infra.cdk.gate --stage STAGE [--minutes 10]``: pass only if the stage's alarms stay quiet.

The pipeline runs it after each stage's deploy and tests, before the next stage: it watches every alarm of the
stage (they are all named ``switchboard-<stage>-…``, see ``infra.cdk.observability``) for the bake time and fails
at the first one in ALARM, naming it. Exit status 0: quiet throughout; 1: an alarm fired.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import boto3

from infra.cdk.functions import APP_NAME


def firing(cloudwatch: Any, stage: str) -> list[str]:
    """The stage's alarms in ALARM now."""
    names: list[str] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=f"{APP_NAME}-{stage}-", AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    ):
        alarms = page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])
        names += [alarm["AlarmName"] for alarm in alarms if alarm["StateValue"] == "ALARM"]
    return sorted(names)


def watch(
    cloudwatch: Any,
    stage: str,
    minutes: float,
    *,
    every_s: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Check every ``every_s`` for ``minutes``; the alarms firing at the first check that finds any, else []."""
    deadline = clock() + minutes * 60
    while True:
        found = firing(cloudwatch, stage)
        if found or clock() >= deadline:
            return found
        sleep(min(every_s, max(deadline - clock(), 0)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--minutes", type=float, default=10.0, help="bake time (default 10)")
    args = parser.parse_args(argv)
    found = watch(boto3.client("cloudwatch"), args.stage, args.minutes)
    if found:
        print(f"{args.stage}: alarms firing: {', '.join(found)}")
        return 1
    print(f"{args.stage}: every alarm quiet for {args.minutes:g} minutes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
