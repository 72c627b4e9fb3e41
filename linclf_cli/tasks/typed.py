"""Moved to :mod:`linclf_cli.typed` (below the assignments, whose run registry builds configs
with it); the names stay importable from here for the task-file code and the CLI."""

from linclf_cli.typed import ConfigError, build, coerce, unknown_key_error

__all__ = ["ConfigError", "build", "coerce", "unknown_key_error"]
