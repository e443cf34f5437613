"""Atomic file writes: a reader never sees a half-written output file.

A write goes to a hidden temporary file beside the target, ``.NAME.PID.XXXXXXXX.part``,
which is renamed over the target when complete. If the process dies before that
(``kill -9``, a power cut), the temporary file stays behind; the next write to the same
target removes it (:func:`remove_stale_parts`), unless the process that made it is still
running.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["atomic_path", "remove_stale_parts", "write_text_atomic", "write_with"]

_SUFFIX = ".part"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def remove_stale_parts(target: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary files left beside ``target`` by interrupted writes; return them.

    A temporary file whose name carries the id of a running process (another write in
    progress) is kept; one without a process id (older versions) is removed.
    """
    target = Path(target)
    prefix = f".{target.name}."
    removed: list[Path] = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    for p in entries:
        name = p.name
        if not (name.startswith(prefix) and name.endswith(_SUFFIX)):
            continue
        pid_text = name[len(prefix) :].split(".", 1)[0]
        if pid_text.isdigit() and _alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            if p.is_file() and not p.is_symlink():
                p.unlink()
                removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, make_parents: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    The temporary file lives in the same directory, so the final ``os.replace`` is atomic
    on POSIX file systems. On any exception (``KeyboardInterrupt`` included) the temporary
    file is removed and ``target`` is left untouched. Temporary files of earlier,
    interrupted writes to ``target`` are removed first.
    """
    target = Path(target)
    if make_parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(target)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.{os.getpid()}.", suffix=_SUFFIX, dir=target.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; give a normal file's mode
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``target`` atomically (UTF-8)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_with(target: str | os.PathLike[str], writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` and move the result over ``target`` atomically."""
    with atomic_path(target) as tmp:
        writer(tmp)
