"""Errors that tell the user what is wrong and how to fix it."""


class TransgrnError(Exception):
    """Base class of every error transgrn raises on purpose."""


class ConfigError(TransgrnError):
    """The configuration is invalid (unknown key, wrong type, inconsistent values)."""


class InputError(TransgrnError):
    """An input file (AnnData, prior, reference) cannot be used as given."""


class OutputError(TransgrnError):
    """An output cannot be written where the run puts it (a read-only or full results folder)."""
