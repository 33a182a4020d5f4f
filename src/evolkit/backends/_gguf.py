"""Read the metadata header of a GGUF file, without loading the model.

Only the key/value section at the start of the file is read, so this is cheap even for a
multi-gigabyte model; large arrays (the tokenizer's vocabulary) are skipped, not decoded.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from evolkit.errors import BackendError

__all__ = ["CHAT_TEMPLATE_KEY", "GGUFError", "read_metadata", "require_chat_template"]

CHAT_TEMPLATE_KEY = "tokenizer.chat_template"
_MAGIC = b"GGUF"

# GGUF value types: id -> struct format of a scalar (strings and arrays are handled apart).
_SCALARS: dict[int, str] = {
    0: "<B",  # uint8
    1: "<b",  # int8
    2: "<H",  # uint16
    3: "<h",  # int16
    4: "<I",  # uint32
    5: "<i",  # int32
    6: "<f",  # float32
    7: "<?",  # bool
    10: "<Q",  # uint64
    11: "<q",  # int64
    12: "<d",  # float64
}
_STRING = 8
_ARRAY = 9
_MAX_KEYS = 1_000_000
_MAX_STRING = 64 * 1024 * 1024

Scalar = int | float | bool | str
Value = Scalar | list[Scalar] | None


class GGUFError(BackendError):
    """A file is not a readable GGUF model, or lacks something evolkit needs."""


def _read(f: BinaryIO, n: int, path: Path) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise GGUFError(f"{path}: truncated GGUF header (is the file complete?)")
    return data


def _unpack(f: BinaryIO, fmt: str, path: Path) -> int | float | bool:
    value: int | float | bool = struct.unpack(fmt, _read(f, struct.calcsize(fmt), path))[0]
    return value


def _string(f: BinaryIO, path: Path, keep: bool = True) -> str:
    n = int(_unpack(f, "<Q", path))
    if n > _MAX_STRING:
        raise GGUFError(f"{path}: implausible string length {n} in GGUF header")
    if not keep:
        # Reading small strings is faster than seeking past them (a seek drops the buffer).
        if n <= 65536:
            _read(f, n, path)
        else:
            f.seek(n, 1)
        return ""
    return _read(f, n, path).decode("utf-8", errors="replace")


def _value(f: BinaryIO, vtype: int, path: Path, keep: bool) -> Value:
    if vtype in _SCALARS:
        return _unpack(f, _SCALARS[vtype], path)
    if vtype == _STRING:
        return _string(f, path, keep)
    if vtype == _ARRAY:
        item_type = int(_unpack(f, "<I", path))
        count = int(_unpack(f, "<Q", path))
        if item_type in _SCALARS:
            size = struct.calcsize(_SCALARS[item_type])
            if not keep:
                f.seek(size * count, 1)
                return None
            values: list[Scalar] = [_unpack(f, _SCALARS[item_type], path) for _ in range(count)]
            return values
        if item_type == _STRING:
            items: list[Scalar] = [_string(f, path, keep) for _ in range(count)]
            return items if keep else None
        raise GGUFError(f"{path}: unsupported GGUF array item type {item_type}")
    raise GGUFError(f"{path}: unknown GGUF value type {vtype}")


def read_metadata(path: str | Path, *, keys: set[str] | None = None) -> dict[str, Value]:
    """The key/value metadata of the GGUF file at ``path``.

    With ``keys``, only those keys are decoded (the rest are skipped), which keeps reading the
    header of a large model fast. Raises :class:`GGUFError` if the file is not GGUF.
    """
    p = Path(path)
    try:
        f = p.open("rb")
    except OSError as exc:
        raise GGUFError(f"cannot open model file {p}: {exc.strerror or exc}") from exc
    with f:
        if f.read(4) != _MAGIC:
            raise GGUFError(f"{p} is not a GGUF model file (wrong magic bytes)")
        version = int(_unpack(f, "<I", p))
        if version < 2:
            raise GGUFError(f"{p}: GGUF version {version} is too old (need 2 or later)")
        _unpack(f, "<Q", p)  # tensor count
        n_kv = int(_unpack(f, "<Q", p))
        if n_kv > _MAX_KEYS:
            raise GGUFError(f"{p}: implausible metadata count {n_kv} in GGUF header")
        out: dict[str, Value] = {}
        for _ in range(n_kv):
            key = _string(f, p)
            vtype = int(_unpack(f, "<I", p))
            keep = keys is None or key in keys
            value = _value(f, vtype, p, keep)
            if keep:
                out[key] = value
        return out


def require_chat_template(path: str | Path) -> str:
    """The chat template stored in the GGUF at ``path``; :class:`GGUFError` if it has none.

    evolkit sends chat messages, so a model without a chat template (a base model) would be
    prompted in a made-up format and answer nonsense; it is refused instead.
    """
    meta = read_metadata(path, keys={CHAT_TEMPLATE_KEY, "general.name"})
    template = meta.get(CHAT_TEMPLATE_KEY)
    if not isinstance(template, str) or not template.strip():
        name = meta.get("general.name")
        label = f"{path} ({name})" if isinstance(name, str) and name else str(path)
        raise GGUFError(
            f"{label} has no chat template (tokenizer.chat_template), so it cannot be sent chat "
            "messages; use an instruction-tuned GGUF that carries its chat template"
        )
    return template
