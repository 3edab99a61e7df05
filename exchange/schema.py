"""TOML presets as frozen dataclasses: `extends` chains, deep merge, strict key and type checks.

Boards and fee schedules share this loader. A file may say `extends = "NAME"` (a shipped preset)
or `extends = "path/to/file.toml"` (relative to the extending file); its tables are merged into
the base key by key (tables recursively, every other value replaced whole). The merged table is
then built into the dataclass named by the caller: an unknown key, a missing key, a wrong type or
a refused value raises SchemaError naming the file, the line and the field, the value received and
what is allowed.

Input limits: a file is UTF-8 text (a leading BOM is dropped) of at most MAX_FILE_BYTES, an
`extends` chain at most MAX_CHAIN files, and every integer lies within +-MAX_INTEGER (2**53 - 1),
so a value converts to int64 and to float exactly; each dataclass bounds its fields further.
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
MAX_FILE_BYTES = 1 << 20  # bytes in one TOML file
MAX_CHAIN = 16  # files in one `extends` chain
MAX_INTEGER = 2**53 - 1  # the largest integer magnitude a field may hold


class SchemaError(ValueError):
    """A preset or user file that does not fit its schema; `field` is the dotted key, if any."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class Table(dict):
    """A merged TOML table that remembers its files, to say where a field was written."""

    def __init__(self, data: Mapping[str, Any], layers: list[tuple[Path, str, dict]]) -> None:
        super().__init__(data)
        self.layers = layers  # (path, text, parsed table) from the extending file to the base

    def locate(self, field: str) -> str:
        """Return "FILE line N" of the file and line that set a dotted field ("FILE" if unknown)."""
        keys = [k for k in field.replace("[", ".[").split(".") if k]
        for path, text, parsed in self.layers:
            if _holds(parsed, keys):
                line = _line_of(text, keys)
                return f"{path} line {line}" if line else str(path)
        return str(self.layers[0][0]) if self.layers else ""


def _holds(table: Any, keys: list[str]) -> bool:
    for key in keys:
        if key.startswith("["):
            index = int(key[1:-1])
            if not isinstance(table, list) or index >= len(table):
                return False
            table = table[index]
        elif isinstance(table, Mapping) and key in table:
            table = table[key]
        else:
            return False
    return True


def _line_of(text: str, keys: list[str]) -> int:
    """Return the line (1-based) where the last key of a dotted path is written, 0 if not found."""
    names = [k for k in keys if not k.startswith("[")]
    if not names:
        return 0
    header: list[str] = []
    arrays: dict[str, int] = {}
    best = 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            name = stripped.strip("[] ").split("]")[0].strip()
            header = [part.strip().strip('"') for part in name.split(".")]
            if stripped.startswith("[["):
                arrays[name] = arrays.get(name, -1) + 1
            if header == names:
                best = best or number
            continue
        key = stripped.split("=", 1)[0].strip().strip('"')
        if "=" in stripped and [*header, *key.split(".")][-len(names) :] == names:
            return number
    return best


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return base with override merged in: tables merge recursively, other values replace."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_chain(source: str | Path, preset_dir: Path, kind: str) -> Table:
    """Read a preset name or a TOML path, follow its `extends` chain and return the merged table."""
    seen: list[str] = []
    path = resolve(source, preset_dir, kind, Path.cwd())
    layers = []
    while True:
        if str(path) in seen:
            chain = " -> ".join([*seen, str(path)])
            raise SchemaError(f"{kind} extends itself: {chain}")
        if len(seen) == MAX_CHAIN:
            raise SchemaError(f"{path}: an extends chain holds at most {MAX_CHAIN} files")
        seen.append(str(path))
        text = read_text(path)
        try:
            layer = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise SchemaError(f"{path}: {error}") from None
        layers.append((path, text, dict(layer)))
        parent = layer.pop("extends", None)
        if parent is None:
            break
        if not isinstance(parent, str):
            raise SchemaError(
                f"{path} line {_line_of(text, ['extends'])}: extends must be a preset name or a "
                f"path, got {parent!r}"
            )
        try:
            path = resolve(parent, preset_dir, kind, path.parent)
        except SchemaError as error:
            raise SchemaError(f"{path} line {_line_of(text, ['extends'])}: {error}") from None
    table: dict[str, Any] = {}
    for _, _, layer in reversed(layers):
        table = deep_merge(table, {k: v for k, v in layer.items() if k != "extends"})
    return Table(table, layers)


def read_text(path: Path) -> str:
    """Return a TOML file's text: UTF-8 (a leading BOM dropped), at most MAX_FILE_BYTES."""
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise SchemaError(f"{path}: larger than {MAX_FILE_BYTES:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise SchemaError(
            f"{path} line {line}: byte 0x{data[error.start]:02x} is not UTF-8 text"
        ) from None


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


def build(cls: type[T], data: Any, where: str = "", origin: Table | None = None) -> T:
    """Build dataclass `cls` from a TOML table; raise SchemaError naming the field on any misfit.

    With `origin` (or when `data` is a Table) the message starts with the file and line that
    wrote the field.
    """
    origin = origin if origin is not None else data if isinstance(data, Table) else None
    try:
        return _convert(cls, data, where)
    except SchemaError as error:
        if origin is None:
            raise
        raise SchemaError(f"{origin.locate(error.field)}: {error}", error.field) from None


def _label(where: str) -> str:
    return f"[{where}]" if where else "the top level"


def _build_dataclass(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise SchemaError(f"{where or cls.__name__}: expected a table, got {data!r}", where)
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise SchemaError(
            f"unknown key {unknown[0]!r} in {_label(where)}; allowed keys: {', '.join(fields)}",
            f"{where}.{unknown[0]}" if where else unknown[0],
        )
    values = {}
    for name, field in fields.items():
        path = f"{where}.{name}" if where else name
        if name in data:
            values[name] = _convert(hints[name], data[name], path)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise SchemaError(f"missing key {name!r} in {_label(where)}", where)
    try:
        return cls(**values)
    except (ValueError, TypeError) as error:
        raise SchemaError(f"{_label(where)}: {error}", where) from error


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build_dataclass(hint, value, where)
    if origin is Literal:
        allowed = get_args(hint)
        if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
            choices = ", ".join(repr(a) for a in allowed)
            raise SchemaError(f"{where}: got {value!r}; allowed: {choices}", where)
        return value
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        return _convert(options[0], value, where)
    if origin is tuple:
        item = get_args(hint)[0]
        if not isinstance(value, list):
            raise SchemaError(f"{where}: expected a list, got {value!r}", where)
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is Mapping:
        key_hint, item = get_args(hint)
        if not isinstance(value, Mapping):
            raise SchemaError(f"{where}: expected a table, got {value!r}", where)
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
            f"{where}: got {_short(value)} ({type(value).__name__}); "
            f"expected {_SCALAR_WORDS[hint]}",
            where,
        )
    if hint is int and abs(value) > MAX_INTEGER:
        raise SchemaError(
            f"{where}: got {_short(value)}; allowed: an integer from -{MAX_INTEGER:,} to "
            f"{MAX_INTEGER:,}",
            where,
        )
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
