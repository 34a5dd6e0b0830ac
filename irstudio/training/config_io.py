"""Reading and writing ``TrainConfig``: TOML and JSON, strict keys, typed values.

The parser walks the dataclasses' type hints: tables become sections, arrays become tuples, strings
become paths where a path is expected, integers are accepted where a float is. A key that is not a
field raises ``ConfigError`` naming it (``unknown key 'optim.lrate' (did you mean 'lr'?)``); so does a
value of the wrong type. TOML has no null: a ``None`` field is written by leaving the key out.
``with_overrides`` applies ``section.key=value`` assignments (``irstudio train --set``) to a config.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard, TypeVar

from irstudio.data import Degradation
from irstudio.training.config import ConfigError, TrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    try:
        import tomli as tomllib
    except ImportError as error:
        raise ImportError(
            "reading TOML on Python 3.10 needs the 'tomli' package (pip install tomli)"
        ) from error

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_D = TypeVar("_D", bound="DataclassInstance")

# --------------------------------------------------------------------------------------------------
# dict -> dataclasses


def _type_name(hint: object) -> str:
    names: dict[object, str] = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        Path: "a path (string)",
    }
    name: str = getattr(hint, "__name__", str(hint))
    return names.get(hint, name)


def _convert(hint: object, value: object, where: str, base: Path | None) -> object:
    """``value`` (from TOML/JSON) as the Python value of type ``hint``; ``ConfigError`` otherwise.
    Relative paths are made absolute against ``base`` when it is given."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if value is None:
            return None
        return _convert(options[0], value, where, base)
    if origin is tuple:
        return _convert_tuple(hint, value, where, base)
    if hint is Degradation:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a table")
        try:
            return Degradation.from_dict(value)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, where, base)
    checks = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
        Path: lambda v: isinstance(v, (str, Path)),
    }
    if not isinstance(hint, type) or hint not in checks:
        raise TypeError(f"{where}: unsupported field type {hint!r}")
    if not checks[hint](value):
        raise ConfigError(f"{where} must be {_type_name(hint)}, got {value!r}")
    # The isinstance tests below repeat what checks[hint] has just ensured (for the type checker).
    if hint is float and isinstance(value, (int, float)) and not math.isfinite(value):
        raise ConfigError(f"{where} must be a finite number, got {value!r}")
    if hint is Path and not str(value).strip():
        raise ConfigError(f"{where} must name a folder or file, got an empty path")
    if hint is Path and base is not None and isinstance(value, (str, Path)) and not Path(value).is_absolute():
        return (base / Path(value)).resolve()
    return hint(value)


def _convert_tuple(hint: object, value: object, where: str, base: Path | None) -> tuple[object, ...]:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where} must be an array, got {value!r}")
    args = typing.get_args(hint)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_convert(args[0], item, f"{where}[{i}]", base) for i, item in enumerate(value))
    if len(value) != len(args):
        raise ConfigError(f"{where} must have {len(args)} values, got {list(value)!r}")
    return tuple(
        _convert(arg, item, f"{where}[{i}]", base)
        for i, (arg, item) in enumerate(zip(args, value, strict=True))
    )


def _build(cls: type[_D], data: object, where: str, base: Path | None) -> _D:
    """Instantiate dataclass ``cls`` from a mapping, refusing unknown keys and missing required ones."""
    label = where or "the top level"
    if not isinstance(data, Mapping):
        raise ConfigError(f"[{where}] must be a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {item.name: item for item in dataclasses.fields(cls)}
    prefix = f"{where}." if where else ""
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(f"unknown key '{prefix}{key}' ({hint}known in {label}: {', '.join(fields)})")
    for name, item in fields.items():
        required = item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
        if required and name not in data:
            raise ConfigError(f"'{prefix}{name}' is required")
    values = {name: _convert(hints[name], value, f"{prefix}{name}", base) for name, value in data.items()}
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{label}: {error}") from None


def config_from_dict(data: Mapping[str, object], *, base_dir: str | Path | None = None) -> TrainConfig:
    """Build and validate a ``TrainConfig``; relative paths given in ``data`` are resolved against
    ``base_dir`` when it is given (defaults such as ``output_dir = runs`` are left as they are)."""
    base = Path(base_dir).resolve() if base_dir is not None else None
    return _build(TrainConfig, data, "", base)


def parse_toml(text: str, *, base_dir: str | Path | None = None) -> TrainConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}") from None
    return config_from_dict(data, base_dir=base_dir)


def load_config(path: str | Path) -> TrainConfig:
    """Read a TOML file; errors name the file. Relative paths inside are relative to its folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the file ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    try:
        return parse_toml(text, base_dir=path.resolve().parent)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def config_from_json(text: str, *, base_dir: str | Path | None = None) -> TrainConfig:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"not valid JSON: {error}") from None
    return config_from_dict(data, base_dir=base_dir)


# --------------------------------------------------------------------------------------------------
# dataclasses -> dict / TOML / JSON


def _plain(value: object) -> object:
    if isinstance(value, Degradation):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain_fields(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value


def _plain_fields(value: DataclassInstance) -> dict[str, object]:
    return {
        item.name: _plain(getattr(value, item.name))
        for item in dataclasses.fields(value)
        if getattr(value, item.name) is not None
    }


def config_to_dict(config: TrainConfig) -> dict[str, object]:
    """Plain JSON/TOML data (None fields left out, paths as strings); ``config_from_dict`` inverts it."""
    return _plain_fields(config)


def config_to_json(config: TrainConfig) -> str:
    return json.dumps(config_to_dict(config), indent=2, ensure_ascii=False)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            repr(value)
            if math.isfinite(value)
            else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
        )
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def _is_table_array(value: object) -> TypeGuard[list[dict[str, object]]]:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def _toml_table(lines: list[str], table: Mapping[str, object], path: tuple[str, ...]) -> None:
    for key, value in table.items():
        if not isinstance(value, dict) and not _is_table_array(value):
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in table.items():
        if isinstance(value, dict):
            lines.extend(["", f"[{'.'.join((*path, key))}]"])
            _toml_table(lines, value, (*path, key))
    for key, value in table.items():
        if _is_table_array(value):
            for item in value:
                lines.extend(["", f"[[{'.'.join((*path, key))}]]"])
                _toml_table(lines, item, (*path, key))


def config_to_toml(config: TrainConfig) -> str:
    """The config as a TOML document that ``parse_toml`` reads back to an equal config."""
    lines: list[str] = []
    _toml_table(lines, config_to_dict(config), ())
    return "\n".join(lines).strip() + "\n"


def save_config(config: TrainConfig, path: str | Path) -> Path:
    """Write ``config`` as TOML (``.toml``) or JSON (any other suffix); returns the path."""
    path = Path(path)
    text = config_to_toml(config) if path.suffix.lower() == ".toml" else config_to_json(config) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# command-line overrides


def _override_value(text: str) -> object:
    """A ``--set`` value: a TOML value (``4``, ``1e-3``, ``true``, ``[0, 50]``, ``"a b"``), else the
    text itself as a string (so folders need no quotes)."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def with_overrides(
    config: TrainConfig, assignments: Sequence[str], *, base_dir: str | Path | None = None
) -> TrainConfig:
    """``config`` with each ``"section.key=value"`` of ``assignments`` applied, validated as a file
    is; relative paths among the values are resolved against ``base_dir`` (e.g. the current folder).
    Keys inside arrays of tables (``degradation.steps``) cannot be set. ``ConfigError`` names the
    assignment that is malformed, unknown or of the wrong type."""
    if not assignments:
        return config
    data = config_to_dict(config)
    for assignment in assignments:
        key, equals, text = assignment.partition("=")
        parts = key.strip().split(".")
        if not equals or not all(parts):
            raise ConfigError(f"--set {assignment!r}: write it as section.key=value, e.g. train.steps=2000")
        table: dict[str, object] = data
        for part in parts[:-1]:
            inner = table.setdefault(part, {})
            if not isinstance(inner, dict):
                raise ConfigError(f"--set {assignment!r}: '{part}' is not a table of keys")
            table = inner
        table[parts[-1]] = _override_value(text.strip())
    return config_from_dict(data, base_dir=base_dir)
