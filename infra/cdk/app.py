"""``python -m infra.cdk.app --stage STAGE [--outdir DIR]``: synthesize one stage's two stacks.

``switchboard-<stage>-data`` (``infra.cdk.data_stack``) and ``switchboard-<stage>-app`` (``infra.cdk.app_stack``).
One stage per process, on purpose: ``chalice package`` imports ``app.py`` with the stage's environment and Python
caches that import, so two stages in one process would share the first one's queue names. Synthesis needs no AWS
credentials (the stacks are environment-agnostic: account and region come from the deploying credentials).
Run by the CDK CLI (``cdk synth -c stage=prod``), the stage comes from the context instead.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import aws_cdk as cdk

from infra.cdk.app_stack import AppStack
from infra.cdk.config import STAGES, STAGES_KEY, app_stack_name, data_stack_name, stage_config
from infra.cdk.data_stack import DataStack
from infra.cdk.layer import build_layer

PACKAGING_REGION = "us-east-1"
"""``chalice package`` asks botocore for a region only to spell service principals (``amazonaws.com``); the
templates stay region-agnostic."""


def build(app: cdk.App, stage: str) -> tuple[DataStack, AppStack]:
    os.environ.setdefault("AWS_DEFAULT_REGION", PACKAGING_REGION)
    stages = app.node.try_get_context(STAGES_KEY)  # the CDK CLI passes cdk.json's context; else read cdk.json
    config = stage_config(stage, {STAGES_KEY: stages} if stages else None)
    tags = {"project": "switchboard", "stage": stage}
    data = DataStack(app, data_stack_name(stage), config=config, layer_dir=build_layer(), tags=tags,
                     description=f"Switchboard {stage}: tables, bus, queues, key, secrets, layer, alarms")
    application = AppStack(app, app_stack_name(stage), config=config, data=data, tags=tags,
                           description=f"Switchboard {stage}: the Chalice app (functions, API, aliases, canary)")
    return data, application


def synth(stage: str, outdir: Path) -> Path:
    """Write ``outdir`` (the stage's cloud assembly) and return it."""
    # chalice.cdk.Chalice packages into ./chalice.out: keep that out of the work tree.
    with tempfile.TemporaryDirectory(prefix="chalice-out-") as scratch:
        here = Path.cwd()
        os.chdir(scratch)
        try:
            app = cdk.App(outdir=str(outdir.resolve() if outdir.is_absolute() else here / outdir),
                          context={"stage": stage})
            build(app, stage)
            app.synth()
        finally:
            os.chdir(here)
    return outdir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--stage", choices=STAGES)
    parser.add_argument("--outdir", type=Path)
    args = parser.parse_args(argv)
    if args.stage is None:  # the CDK CLI: context and output directory come from its environment
        app = cdk.App()
        build(app, app.node.get_context("stage"))
        app.synth()
        return
    synth(args.stage, args.outdir or Path("cdk.out") / args.stage)


if __name__ == "__main__":
    main()
