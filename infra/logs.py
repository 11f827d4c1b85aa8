"""Readable logs for the local stack: one coloured line per record instead of Lambda's JSON.

The shipped code logs through Powertools, whose JSON lines are right for CloudWatch and unreadable in a
terminal. Rather than making the shipped loggers aware of where they run, the local stack re-renders them:
every Powertools logger's handler is swapped for one that asks the Powertools formatter for the JSON (so the
structured keys such as ticket_id stay) and prints it through rich. Plain ``logging`` loggers (the poller,
the local stack itself) go through rich's own handler.

A failure is one line (its exception's type and message) unless the stack runs with ``--debug``, which prints
the traceback as well: when moto restarts, every worker in flight fails once, and a screen of tracebacks would
hide the one line that says what happened.
"""

from __future__ import annotations

import json
import logging

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from rich.console import Console
from rich.logging import RichHandler
from rich.text import Text

_STANDARD_KEYS = frozenset(
    {"level", "location", "message", "timestamp", "service", "sampling_rate", "xray_trace_id", "cold_start",
     "function_name", "function_memory_size", "function_arn", "function_request_id", "exception_name"}
)
_NOISY = ("werkzeug", "botocore", "boto3", "urllib3", "httpx", "httpcore", "moto")
"""Per-request lines of moto's and Chalice's servers and SDK chatter drown the pipeline's own logs."""
_LEVEL_STYLES = {"DEBUG": "dim", "INFO": "green", "WARNING": "yellow", "ERROR": "bold red", "CRITICAL": "bold red"}


class PowertoolsRichHandler(logging.Handler):
    def __init__(self, console: Console, formatter: logging.Formatter, tracebacks: bool = False) -> None:
        super().__init__()
        self.console = console
        self.powertools_formatter = formatter
        self.tracebacks = tracebacks

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = json.loads(self.powertools_formatter.format(record))
        except (ValueError, TypeError):
            self.handleError(record)
            return
        line = Text()
        line.append(f"{data.get('level', record.levelname):<8}", style=_LEVEL_STYLES.get(record.levelname, ""))
        line.append(f"{data.get('service', record.name)} ", style="cyan")
        line.append(str(data.get("message", "")))
        for key, value in data.items():
            if key not in _STANDARD_KEYS and key not in ("exception", "stack_trace"):
                line.append(f" {key}=", style="dim")
                line.append(str(value), style="magenta")
        if "exception" in data and not self.tracebacks:
            line.append(f" {_last_line(str(data['exception']))}", style="red")
        self.console.print(line, soft_wrap=True)
        if "exception" in data and self.tracebacks:
            self.console.print(Text(str(data["exception"]), style="red"))


class OneLineErrors(logging.Filter):
    """A record's exception becomes the end of its message (type and text), its traceback is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg, record.args = f"{record.getMessage()}: {type(error).__name__}: {error}", ()
            record.exc_info, record.exc_text = None, None
        return True


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def install(console: Console, level: int = logging.INFO, tracebacks: bool = False) -> None:
    """Route every logger, Powertools' included, to ``console``. Call again after new Powertools loggers appear.

    ``tracebacks``: print a failure's traceback after its line (``--debug``), not only its type and message."""
    root = logging.getLogger()
    if not any(isinstance(h, RichHandler) for h in root.handlers):
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=True)
        if not tracebacks:
            handler.addFilter(OneLineErrors())
        root.addHandler(handler)
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if not isinstance(logger, logging.Logger):
            continue
        for handler in list(logger.handlers):
            if isinstance(handler.formatter, LambdaPowertoolsFormatter):
                logger.removeHandler(handler)
                logger.addHandler(PowertoolsRichHandler(console, handler.formatter, tracebacks))
                logger.propagate = False  # or the root's rich handler prints it a second time
