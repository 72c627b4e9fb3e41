"""Strict construction of frozen config dataclasses from YAML/JSON mappings.

``build(cls, mapping, where)`` rejects unknown keys and wrong types *before any work starts*,
naming the file and key path, the value received and what was expected (the habit of
scikit-learn's ``_parameter_constraints``).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from typing import Any

from linclf_cli.errors import UsageError


class ConfigError(UsageError):
    """A schema error in a config file: exit 2."""


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        inner = _type_name(args[0]) if args else "value"
        return f"a list of {inner}s"
    return {int: "an integer", float: "a number", bool: "true/false", str: "a string",
            dict: "a mapping"}.get(tp, getattr(tp, "__name__", str(tp)))


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; return it normalised (lists -> tuples)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return coerce(value, arg, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}.")
    if tp is type(None):
        if value is None:
            return None
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin in (tuple, list) or tp in (tuple, list):
        if isinstance(value, (list, tuple)):
            args = typing.get_args(tp)
            if len(args) == 2 and args[1] is Ellipsis or len(args) == 1:
                return tuple(coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
            if args and len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} values, got {value!r}.")
            if args:
                return tuple(coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
            return tuple(value)
    elif origin is dict or tp is dict:
        if isinstance(value, dict):
            return dict(value)
    else:  # pragma: no cover - unsupported annotation
        return value
    raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}.")


def unknown_key_error(key: str, allowed: typing.Iterable[str], where: str) -> ConfigError:
    allowed = sorted(allowed)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"{where}: unknown key {key!r}.{hint} Allowed keys: {', '.join(allowed)}.")


@functools.lru_cache(maxsize=None)
def _fields(cls: type) -> tuple[dict, frozenset]:
    hints = typing.get_type_hints(cls)
    return hints, frozenset(f.name for f in dataclasses.fields(cls) if f.init)


def build(cls: type, mapping: Any, where: str):
    """Construct dataclass ``cls`` from ``mapping`` strictly."""
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where}: expected a mapping of options, got {mapping!r}.")
    hints, fields = _fields(cls)
    # the one vocabulary (learning_rate, batch_size, epochs, l2, ...) as aliases of a course
    # config's own names (eta, n_batch, n_epochs, lam, ...): the config, and so the hashed
    # parameters of every cached run, keep the course names
    aliases = getattr(cls, "ALIASES", {})
    kwargs = {}
    for key, value in mapping.items():
        name = aliases.get(key, key)
        if name not in fields:
            raise unknown_key_error(str(key), fields | frozenset(aliases), where)
        if name in kwargs:
            raise ConfigError(f"{where}: {key!r} and {name!r} name the same option; give one of them.")
        kwargs[name] = coerce(value, hints[name], f"{where}.{key}")
    return cls(**kwargs)
