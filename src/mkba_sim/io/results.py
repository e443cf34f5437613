"""Saving and loading simulation results; an output never destroys an input.

The format follows the file's extension:

``.nc``
    NetCDF (HDF5) with every variable and the provenance attributes; read back with
    :func:`load_result`.
``.json``
    The run summary (``mkba_sim.run/2``, as ``mkba-sim run --json`` prints it).
``.csv``
    The same summary as rows ``scenario,statistic,value``; the first row is
    ``,schema,mkba_sim.run/2``.

Before writing, :func:`check_output_path` refuses a target that is an input of the run
(the model file, its ``data`` folder, its draws files), an existing file that is not an
earlier mkba_sim output (unless ``force``), an unknown extension and — when asked — a
missing folder. Every write is atomic (:mod:`mkba_sim.io.atomic`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mkba_sim.errors import MkbaError
from mkba_sim.io.atomic import atomic_path, write_text_atomic
from mkba_sim.io.netcdf import load_dataset, save_dataset
from mkba_sim.results import RUN_SCHEMA, Result

__all__ = [
    "OUTPUT_FORMATS",
    "check_output_path",
    "is_mkba_output",
    "load_result",
    "model_inputs",
    "output_format",
    "save_result",
]

OUTPUT_FORMATS = {".nc": "NetCDF", ".json": "JSON summary", ".csv": "CSV summary"}
_CSV_HEADER = ["scenario", "statistic", "value"]
_RUN_FAMILY = RUN_SCHEMA.rsplit("/", 1)[0] + "/"  # any version of the run summary
_MAX_SNIFF = 64 * 2**20  # a JSON summary is small; a larger file is not ours


def output_format(path: str | os.PathLike[str]) -> str:
    """The extension of ``path`` if it is a format results can be saved in.

    Raises
    ------
    MkbaError
        For ``.zarr`` (not supported yet) and any other extension.
    """
    suffix = Path(path).suffix.lower()
    if suffix in OUTPUT_FORMATS:
        return suffix
    choices = ", ".join(OUTPUT_FORMATS)
    if suffix == ".zarr":
        raise MkbaError(f"{path}: Zarr output is not supported yet; use one of {choices}")
    shown = f"extension {suffix!r}" if suffix else "no extension"
    raise MkbaError(f"{path}: {shown}; results are saved as {choices}")


def model_inputs(model_path: str, draws_files: Iterable[str | os.PathLike[str]] = ()) -> set[Path]:
    """Files an output must never replace: the model file, its ``data`` folder, draws files."""
    out = {Path(model_path).resolve(), *(Path(f).resolve() for f in draws_files)}
    data = Path(model_path).parent / "data"
    with contextlib.suppress(OSError):
        if data.is_dir():
            out.add(data.resolve())
    return out


def _inputs_of(result: Result) -> set[Path]:
    """The inputs a result's provenance names (model file and draws files)."""
    attrs = result.dataset.attrs
    model_path = str(attrs.get("model_path", ""))
    if not model_path or model_path.startswith("<"):
        return set()
    try:
        posteriors = json.loads(str(attrs.get("posteriors", "[]")))
    except ValueError:
        posteriors = []
    folder = Path(model_path).parent
    files = [folder / str(p["file"]) for p in posteriors if isinstance(p, dict) and p.get("file")]
    return model_inputs(model_path, files)


def is_mkba_output(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a file mkba_sim saved (NetCDF with provenance, run JSON or CSV)."""
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if not p.is_file() or p.is_symlink():
            return False
        if suffix == ".nc":
            with open(p, "rb") as fh:
                if fh.read(8) != b"\x89HDF\r\n\x1a\n":
                    return False
            import xarray as xr

            with xr.open_dataset(p, engine="h5netcdf") as ds:
                return "model_sha256" in ds.attrs and "mkba_sim_version" in ds.attrs
        if p.stat().st_size > _MAX_SNIFF:
            return False
        if suffix == ".json":
            doc = json.loads(p.read_text(encoding="utf-8"))
            return isinstance(doc, dict) and str(doc.get("schema", "")).startswith(_RUN_FAMILY)
        if suffix == ".csv":
            with open(p, encoding="utf-8", newline="") as fh:
                rows = csv.reader(fh)
                if next(rows, None) != _CSV_HEADER:
                    return False
                second = next(rows, [])
                return (
                    len(second) == 3
                    and second[:2] == ["", "schema"]
                    and second[2].startswith(_RUN_FAMILY)
                )
    except Exception:  # unreadable or foreign: not ours
        return False
    return False


def check_output_path(
    path: str | os.PathLike[str],
    *,
    inputs: Iterable[Path] = (),
    force: bool = False,
    make_parents: bool = True,
) -> Path:
    """Check that ``path`` may receive a result; return it.

    Parameters
    ----------
    path
        The output file.
    inputs
        Files (or folders) of the run that must never be replaced.
    force
        Replace an existing file that is not an earlier mkba_sim output.
    make_parents
        If false, a missing folder is an error instead of being created.

    Raises
    ------
    MkbaError
        Naming the file and what to do.
    """
    p = Path(path)
    resolved = p.resolve()
    for inp in inputs:
        if resolved == inp or (inp.is_dir() and resolved.is_relative_to(inp)) or _same(p, inp):
            what = "the folder" if inp.is_dir() else "the file"
            raise MkbaError(
                f"{path}: is an input of this run ({what} {str(inp)!r}); choose another output file"
            )
    output_format(p)
    if p.is_dir():
        raise MkbaError(f"{path}: is a folder; give a file name such as {p / 'result.nc'}")
    if not p.parent.exists() and not make_parents:
        raise MkbaError(f"{path}: folder {str(p.parent)!r} does not exist; create it first")
    if p.parent.exists() and not p.parent.is_dir():
        raise MkbaError(f"{path}: {str(p.parent)!r} is not a folder")
    if (p.exists() or p.is_symlink()) and not force and not is_mkba_output(p):
        raise MkbaError(
            f"{path}: exists and is not an earlier mkba_sim output; choose another name, "
            "or replace it with --force (Python: force=True)"
        )
    return p


def _same(a: Path, b: Path) -> bool:
    """True if ``a`` and ``b`` are the same existing file (a hard link included)."""
    try:
        return a.is_file() and b.is_file() and os.path.samefile(a, b)
    except OSError:
        return False


def save_result(
    result: Result,
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    make_parents: bool = True,
) -> Path:
    """Write ``result`` to ``path`` in the format its extension names; return the path.

    The write is atomic: an interrupted write leaves no partial file, and temporary
    files of earlier interrupted writes to ``path`` are removed. The model file and draws
    files named in the result's provenance are never replaced, nor (unless ``force``) an
    existing file that mkba_sim did not write. See :func:`check_output_path`.
    """
    p = check_output_path(path, inputs=_inputs_of(result), force=force, make_parents=make_parents)
    suffix = output_format(p)
    try:
        if suffix == ".nc":
            return save_dataset(result.dataset, p)
        if suffix == ".json":
            write_text_atomic(p, json.dumps(result.to_dict(), indent=2) + "\n")
            return p
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(_CSV_HEADER)
        writer.writerows(_csv_rows(result.to_dict()))
        with atomic_path(p) as tmp:
            tmp.write_text(buf.getvalue(), encoding="utf-8", newline="")
        return p
    except OSError as exc:
        raise MkbaError(f"{path}: cannot write result ({exc.strerror or exc})") from None


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(f"{prefix}.{k}" if prefix else str(k), v)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _flatten(f"{prefix}[{i}]", v)
    else:
        yield prefix, value


def _csv_rows(doc: dict[str, Any]) -> Iterator[list[str]]:
    yield ["", "schema", str(doc["schema"])]
    for part in ("model", "run"):
        for k, v in _flatten(part, doc[part]):
            yield ["", k, _cell(v)]
    for name, summary in doc["scenarios"].items():
        for k, v in _flatten("", summary):
            yield [name, k, _cell(v)]


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ""
    return str(v)


def load_result(path: str | os.PathLike[str]) -> Result:
    """Read a result saved by :func:`save_result` as NetCDF (``.nc``)."""
    try:
        ds = load_dataset(path)
    except FileNotFoundError:
        raise MkbaError(f"{path}: file not found") from None
    except (OSError, ValueError) as exc:
        raise MkbaError(f"{path}: not a mkba_sim result ({exc})") from None
    if "model_sha256" not in ds.attrs:
        raise MkbaError(f"{path}: not a mkba_sim result (no provenance attributes)")
    return Result(ds)
