"""Reading posterior draws from files a model names: untrusted data, checked before use.

A draws file (``file = "..."`` of a ``posterior`` parameter) is read only if

* its path, resolved (symbolic links followed), lies inside the model file's folder —
  unless the caller allows other places (``mkba-sim run --allow-outside-files``);
* it is a regular file ending in ``.npy`` or ``.nc``;
* its header describes real floating-point numbers (``float16/32/64``), and the number
  of values fits both the file's real size and :data:`MAX_DRAWS`, before anything is
  allocated;
* the array is one-dimensional — or, for NetCDF, has the dimensions ``(chain, draw)``
  of an ArviZ posterior, read chain after chain;
* it holds at least one value and every value is finite.

Every problem becomes one :class:`~mkba_sim.errors.ModelFileError` naming the model file,
the parameter's key and the draws file. Pickled objects are never loaded.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from mkba_sim.errors import ModelFileError

__all__ = ["DRAWS_SUFFIXES", "MAX_DRAWS", "read_draws", "resolve_draws_path"]

MAX_DRAWS = 100_000_000
"""Most values a draws file may hold (800 MB as float64)."""

DRAWS_SUFFIXES = (".npy", ".nc")
_ARVIZ_DIMS = ("chain", "draw")


def resolve_draws_path(
    model_path: str, source: str, key: str, *, allow_outside: bool = False
) -> Path:
    """The draws file ``source`` names, resolved against the model file's folder.

    Raises
    ------
    ModelFileError
        If the path leaves the model's folder (and ``allow_outside`` is false), does not
        exist, is not a regular file or has an unknown suffix.
    """
    folder = Path(model_path).parent.resolve()
    try:
        path = (folder / source).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a NUL byte
        raise ModelFileError(model_path, key, f"draws file {source!r}: bad path ({exc})") from None
    if not allow_outside and not path.is_relative_to(folder):
        raise ModelFileError(
            model_path,
            key,
            f"draws file {source!r} is outside the model's folder {str(folder)!r}; move it "
            "there, or allow it with --allow-outside-files (Python: allow_outside_files=True)",
        )
    if path.suffix.lower() not in DRAWS_SUFFIXES:
        raise ModelFileError(
            model_path,
            key,
            f"draws file {source!r} must end in {' or '.join(DRAWS_SUFFIXES)}",
        )
    if not path.exists():
        raise ModelFileError(model_path, key, f"draws file {str(path)!r} not found")
    if not path.is_file():
        raise ModelFileError(model_path, key, f"draws file {str(path)!r} is not a regular file")
    return path


def read_draws(path: Path, variable: str, model_path: str, key: str) -> np.ndarray:
    """Read and check the draws of ``variable`` from ``path`` (see the module docstring).

    Returns
    -------
    numpy.ndarray
        One-dimensional ``float64`` array, every value finite.
    """
    where = f"draws file {path.name!r}"

    def fail(problem: str) -> ModelFileError:
        return ModelFileError(model_path, key, f"{where}: {problem}")

    if path.suffix.lower() == ".npy":
        arr = _read_npy(path, fail)
    else:
        where = f"draws file {path.name!r}, variable {variable!r}"
        arr = _read_netcdf(path, variable, fail)
    if arr.size == 0:
        raise fail("holds no draws")
    out = np.asarray(arr, dtype=np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        n_nan = int(np.isnan(out).sum())
        n_inf = int(bad.sum()) - n_nan
        first = int(np.argmax(bad))
        raise fail(
            f"{n_nan} NaN and {n_inf} infinite value(s) among {out.size:,} draws "
            f"(first at index {first}); draws must be finite"
        )
    return np.ascontiguousarray(out)


def _check_dtype(dtype: np.dtype[Any], fail: Any) -> None:
    if dtype.kind != "f" or dtype.hasobject or dtype.fields is not None:
        what = {
            "c": "complex numbers",
            "O": "Python objects",
            "U": "text",
            "S": "bytes",
            "b": "booleans",
            "i": "integers",
            "u": "integers",
            "V": "records",
        }.get(dtype.kind, f"dtype {dtype}")
        raise fail(
            f"holds {what} ({dtype}); draws must be real floating-point numbers "
            "(save with arr.astype(float))"
        )


def _check_count(count: int, fail: Any) -> None:
    if count > MAX_DRAWS:
        raise fail(f"claims {count:,} values; at most {MAX_DRAWS:,} draws are read")


def _read_npy(path: Path, fail: Any) -> np.ndarray:
    size = path.stat().st_size
    try:
        with open(path, "rb") as fh:
            shape, fortran, dtype = _npy_header(fh)
            _check_dtype(dtype, fail)
            if len(shape) != 1:
                raise fail(
                    f"has shape {shape}; a .npy draws file is one-dimensional "
                    "(save arr.ravel(), or a NetCDF file with dimensions (chain, draw))"
                )
            count = math.prod(shape)
            _check_count(count, fail)
            need = count * dtype.itemsize
            have = size - fh.tell()
            if have != need:
                raise fail(
                    f"header claims {count:,} values ({need:,} bytes) but the file holds "
                    f"{max(have, 0):,} bytes of data; the file is damaged or truncated"
                )
            arr = np.fromfile(fh, dtype=dtype, count=count)
    except ModelFileError:
        raise
    except Exception as exc:  # untrusted file: numpy's header parser raises many kinds
        raise fail(f"not a readable .npy file ({_reason(exc)})") from None
    del fortran  # irrelevant for one dimension
    return arr


def _npy_header(fh: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    """Shape, Fortran order and dtype from a ``.npy`` header (never unpickles)."""
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    if version == (1, 0):
        shape, fortran, dtype = fmt.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, fortran, dtype = fmt.read_array_header_2_0(fh)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    if not isinstance(shape, tuple) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise ValueError(f"bad shape {shape!r} in the header")
    return shape, bool(fortran), np.dtype(dtype)


def _read_netcdf(path: Path, variable: str, fail: Any) -> np.ndarray:
    import xarray as xr

    try:
        with xr.open_dataset(path, engine="h5netcdf", decode_times=False) as ds:
            if variable not in ds.variables:
                have = sorted(map(str, ds.data_vars))
                raise fail(f"has no such variable; it has {have}")
            var = ds.variables[variable]
            _check_dtype(var.dtype, fail)
            dims = tuple(map(str, var.dims))
            if len(dims) > 1 and dims != _ARVIZ_DIMS:
                raise fail(
                    f"has dimensions {dims}; draws are one-dimensional or "
                    f"{_ARVIZ_DIMS} (an ArviZ posterior)"
                )
            _check_count(math.prod(var.shape), fail)
            return np.asarray(var.values).ravel()  # (chain, draw): chain after chain
    except ModelFileError:
        raise
    except Exception as exc:  # untrusted file: h5py/xarray raise many kinds of error
        raise fail(f"not a readable NetCDF file ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if len(first) > 120:
        first = first[:117] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
