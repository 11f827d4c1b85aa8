"""Errors of the routing brain. Callers catch ``RouterError`` and get a message fit for a human."""


class RouterError(Exception):
    """Base of every error the routing brain raises on purpose."""


class TaxonomyError(RouterError):
    """A taxonomy file is missing, malformed or inconsistent."""


class ModelArtifactError(RouterError):
    """A model directory is missing files, is corrupt, or was written by an incompatible version."""


class DatasetError(RouterError):
    """Training or evaluation data cannot be read: missing file, wrong columns, unknown labels, no rows."""


class KnowledgeBaseError(RouterError):
    """The knowledge-base file is missing, is not JSON, or does not follow the article schema."""
