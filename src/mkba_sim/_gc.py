"""CPython's cyclic garbage collector, paused while the engine starts.

A first result in a fresh process imports numba, llvmlite, pydantic and numba's lowering
registries and then loads (or compiles) a kernel. That creates a few million objects that
live as long as the process, so the collector, which runs after every ~700 net
allocations (:func:`gc.get_threshold`), walks them ~300 times, three dozen of them full
collections, and frees almost nothing: about 0.19 s, an eighth of the first result of
``benchmarks/reference_model.toml`` (measured with :data:`gc.callbacks`; see
``docs/benchmarks.md``). Reference counting still frees everything that is not in a
cycle while the collector is paused; the cycles left are collected at the next automatic
collection after :func:`paused_gc` ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic garbage collector for the ``with`` block.

    It is enabled again afterwards only if it was enabled before, so a caller that
    disabled it keeps it disabled, and nested or concurrent blocks never leave it off
    (the block that found it enabled turns it back on).

    Examples
    --------
    >>> import gc
    >>> with paused_gc():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
