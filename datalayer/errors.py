"""Errors of the data layer: one base, one class per dependency, so callers catch what they can act on.

``StoreError``, ``PublishError`` and ``QueueError`` are dependency failures (the API answers 503, a worker lets
SQS retry), never bad input; ``SettingsError`` is a deployment mistake that should stop a process at start.
"""


class DataLayerError(Exception):
    """Base of every error the data layer raises on purpose."""


class SettingsError(DataLayerError):
    """A setting is missing or invalid; the message names it."""


class StoreError(DataLayerError):
    """DynamoDB failed or refused a request."""


class PublishError(DataLayerError):
    """EventBridge did not accept an event."""


class QueueError(DataLayerError):
    """SQS did not accept a message."""
