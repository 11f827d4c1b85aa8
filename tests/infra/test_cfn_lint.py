"""cfn-lint finds no error in any synthesized template (it expands the app stack's SAM resources first)."""

from __future__ import annotations

import subprocess
import sys

from tests.infra.conftest import Synthesized

CFN_LINT_ERROR = 2
"""cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational."""


def test_every_template_of_every_stage_lints_without_errors(synthesized: dict[str, Synthesized]) -> None:
    paths = [str(path) for stage in synthesized.values() for path in stage.template_paths()]
    done = subprocess.run([sys.executable, "-m", "cfnlint", *paths], capture_output=True, text=True, timeout=600,
                          check=False)
    assert not done.returncode & CFN_LINT_ERROR, done.stdout + done.stderr
    assert len(paths) == 6
