"""cfn-lint finds no error in any synthesized template (the app stack's SAM resources are checked against SAM's
schemas; ``test_sam_transform`` lints them once expanded)."""

from __future__ import annotations

import subprocess
import sys

from tests.infra.conftest import CFN_LINT_ERROR, Synthesized


def test_every_template_of_every_stage_lints_without_errors(synthesized: dict[str, Synthesized]) -> None:
    paths = [str(path) for stage in synthesized.values() for path in stage.template_paths()]
    done = subprocess.run([sys.executable, "-m", "cfnlint", *paths], capture_output=True, text=True, timeout=600,
                          check=False)
    assert not done.returncode & CFN_LINT_ERROR, done.stdout + done.stderr
    assert len(paths) == 6
