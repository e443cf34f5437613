"""Reading model files from disk."""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path
from typing import Any

from mkba_sim.errors import ModelFileError
from mkba_sim.io.tables import table_cache
from mkba_sim.model import Model, build_model

__all__ = ["MAX_TOML_DEPTH", "load_model", "loads_model"]

MAX_TOML_DEPTH = 20
"""Deepest nesting of tables and arrays in a model file (the format needs about 6)."""


def load_model(path: str | os.PathLike[str]) -> Model:
    """Read, parse and validate a TOML model file.

    Raises
    ------
    ModelFileError
        If the file is missing, is not valid TOML, or fails validation.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(str(p), "", "file not found") from None
    except OSError as exc:
        raise ModelFileError(str(p), "", f"cannot read file ({exc.strerror})") from None
    return loads_model(data, path=str(p))


def loads_model(data: bytes | str, *, path: str = "<string>") -> Model:
    """Parse and validate model text (``path`` is only used in messages and provenance)."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(path, "", f"not UTF-8 text (byte {exc.start})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ModelFileError(path, "", f"not valid TOML: {exc}") from None
    except ValueError as exc:  # e.g. an integer longer than Python's 4300-digit limit
        raise ModelFileError(path, "", f"not valid TOML: {exc}") from None
    except (RecursionError, MemoryError):
        raise ModelFileError(
            path,
            "",
            f"arrays or tables are nested too deeply to read (a model file needs at most "
            f"{MAX_TOML_DEPTH} levels)",
        ) from None
    deep = _too_deep(doc, MAX_TOML_DEPTH)
    if deep is not None:
        raise ModelFileError(
            path, deep, f"nested more than {MAX_TOML_DEPTH} levels deep; a model file needs fewer"
        )
    sha256 = hashlib.sha256(raw).hexdigest()
    # kept quantile tables answer the usability checks without scipy (same model either way)
    return build_model(doc, path=path, sha256=sha256, tables=table_cache())


def _too_deep(doc: Any, limit: int) -> str | None:
    """Dotted key of the first value nested more than ``limit`` levels deep, else ``None``."""
    stack: list[tuple[Any, str, int]] = [(doc, "", 0)]
    while stack:
        node, key, depth = stack.pop()
        if depth > limit:
            return key if len(key) <= 60 else key[:57] + "..."
        if isinstance(node, dict):
            stack.extend((v, f"{key}.{k}" if key else str(k), depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{key}[{i}]", depth + 1) for i, v in enumerate(node))
    return None
