"""``python -m ops``: the operator commands."""

from ops.cli import app

app(prog_name="python -m ops")
