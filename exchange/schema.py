"""TOML presets as frozen dataclasses: `extends` chains, deep merge, strict key and type checks.

Boards and fee schedules share this loader. A file may say `extends = "NAME"` (a shipped preset)
or `extends = "path/to/file.toml"` (relative to the extending file); its tables are merged into
the base key by key (tables recursively, every other value replaced whole). The merged table is
then built into the dataclass named by the caller: an unknown key, a missing key, a wrong type or
a refused value raises SchemaError naming the field, the value received and what is allowed.
"""

from __future__ import annotations

import dataclasses
import datetime
import tomllib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


class SchemaError(ValueError):
    """A preset or user file that does not fit its schema."""


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return base with override merged in: tables merge recursively, other values replace."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_chain(source: str | Path, preset_dir: Path, kind: str) -> dict[str, Any]:
    """Read a preset name or a TOML path, follow its `extends` chain and return the merged table."""
    seen: list[str] = []
    path = resolve(source, preset_dir, kind, Path.cwd())
    table: dict[str, Any] = {}
    layers = []
    while True:
        if str(path) in seen:
            chain = " -> ".join([*seen, str(path)])
            raise SchemaError(f"{kind} extends itself: {chain}")
        seen.append(str(path))
        with path.open("rb") as handle:
            layer = tomllib.load(handle)
        layers.append(layer)
        parent = layer.pop("extends", None)
        if parent is None:
            break
        if not isinstance(parent, str):
            raise SchemaError(f"{path}: extends must be a preset name or a path, got {parent!r}")
        path = resolve(parent, preset_dir, kind, path.parent)
    for layer in reversed(layers):
        table = deep_merge(table, layer)
    return table


def presets(preset_dir: Path) -> list[str]:
    """Return the names of the presets shipped in a directory."""
    return sorted(p.stem for p in preset_dir.glob("*.toml"))


def resolve(source: str | Path, preset_dir: Path, kind: str, relative_to: Path) -> Path:
    """Return the file of a preset name or of a path (relative paths from `relative_to`)."""
    text = str(source)
    if not text.endswith(".toml"):
        path = preset_dir / f"{text}.toml"
        if not path.is_file():
            raise SchemaError(
                f"unknown {kind} preset {text!r}; presets: {', '.join(presets(preset_dir))} "
                "(or a path ending in .toml)"
            )
        return path
    path = Path(text)
    path = path if path.is_absolute() else relative_to / path
    if not path.is_file():
        raise SchemaError(f"{kind} file {path} does not exist")
    return path


def build(cls: type[T], data: Any, where: str = "") -> T:
    """Build dataclass `cls` from a TOML table; raise SchemaError naming the field on any misfit."""
    return _convert(cls, data, where)


def _label(where: str) -> str:
    return f"[{where}]" if where else "the top level"


def _build_dataclass(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise SchemaError(f"{where or cls.__name__}: expected a table, got {data!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise SchemaError(
            f"unknown key {unknown[0]!r} in {_label(where)}; allowed keys: {', '.join(fields)}"
        )
    values = {}
    for name, field in fields.items():
        path = f"{where}.{name}" if where else name
        if name in data:
            values[name] = _convert(hints[name], data[name], path)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise SchemaError(f"missing key {name!r} in {_label(where)}")
    try:
        return cls(**values)
    except (ValueError, TypeError) as error:
        raise SchemaError(f"{_label(where)}: {error}") from error


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build_dataclass(hint, value, where)
    if origin is Literal:
        allowed = get_args(hint)
        if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
            choices = ", ".join(repr(a) for a in allowed)
            raise SchemaError(f"{where}: got {value!r}; allowed: {choices}")
        return value
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        return _convert(options[0], value, where)
    if origin is tuple:
        item = get_args(hint)[0]
        if not isinstance(value, list):
            raise SchemaError(f"{where}: expected a list, got {value!r}")
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is Mapping:
        key_hint, item = get_args(hint)
        if not isinstance(value, Mapping):
            raise SchemaError(f"{where}: expected a table, got {value!r}")
        converted = {
            _convert(key_hint, k, f"{where} key"): _convert(item, v, f"{where}.{k}")
            for k, v in value.items()
        }
        return types.MappingProxyType(converted)
    return _scalar(hint, value, where)


_SCALAR_WORDS = {
    int: "an integer",
    bool: "true or false",
    str: "a string",
    datetime.date: "a date (YYYY-MM-DD)",
}


def _scalar(hint: type, value: Any, where: str) -> Any:
    if hint not in _SCALAR_WORDS:
        raise TypeError(f"{where}: unsupported schema type {hint!r}")
    wrong_subtype = (hint is int and isinstance(value, bool)) or (
        hint is datetime.date and isinstance(value, datetime.datetime)
    )
    if not isinstance(value, hint) or wrong_subtype:
        raise SchemaError(
            f"{where}: got {value!r} ({type(value).__name__}); expected {_SCALAR_WORDS[hint]}"
        )
    return value
