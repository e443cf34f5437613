"""Reading model files from disk."""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path

from mkba_sim.errors import ModelFileError
from mkba_sim.model import Model, build_model

__all__ = ["load_model", "loads_model"]


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
    return build_model(doc, path=path, sha256=hashlib.sha256(raw).hexdigest())
