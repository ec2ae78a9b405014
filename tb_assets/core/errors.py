"""Errors raised by the pure library; their messages name the file, column, symbol or timestamp."""


class TbError(ValueError):
    """Base class: bad input that the user can fix."""


class ConfigError(TbError):
    """An environment variable or config value is invalid."""


class BarsValidationError(TbError):
    """Bars failed validation (columns, prices, timestamps)."""


class SourceError(TbError):
    """A data source could not produce bars for a symbol (missing, unreadable, corrupt)."""
