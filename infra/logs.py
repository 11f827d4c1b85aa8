"""Readable logs for the local stack: one coloured line per record instead of Lambda's JSON.

The shipped code logs through Powertools, whose JSON lines are right for CloudWatch and unreadable in a
terminal. Rather than making the shipped loggers aware of where they run, the local stack re-renders them:
every Powertools logger's handler is swapped for one that asks the Powertools formatter for the JSON (so the
structured keys such as ticket_id stay) and prints it through rich. Plain ``logging`` loggers (the poller,
the local stack itself) go through rich's own handler.
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
    def __init__(self, console: Console, formatter: logging.Formatter) -> None:
        super().__init__()
        self.console = console
        self.powertools_formatter = formatter

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
            if key not in _STANDARD_KEYS and key != "exception":
                line.append(f" {key}=", style="dim")
                line.append(str(value), style="magenta")
        self.console.print(line, soft_wrap=True)
        if "exception" in data:
            self.console.print(Text(str(data["exception"]), style="red"))


def install(console: Console, level: int = logging.INFO) -> None:
    """Route every logger, Powertools' included, to ``console``. Call again after new Powertools loggers appear."""
    root = logging.getLogger()
    if not any(isinstance(h, RichHandler) for h in root.handlers):
        root.addHandler(RichHandler(console=console, show_path=False, rich_tracebacks=True))
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if not isinstance(logger, logging.Logger):
            continue
        for handler in list(logger.handlers):
            if isinstance(handler.formatter, LambdaPowertoolsFormatter):
                logger.removeHandler(handler)
                logger.addHandler(PowertoolsRichHandler(console, handler.formatter))
                logger.propagate = False  # or the root's rich handler prints it a second time
