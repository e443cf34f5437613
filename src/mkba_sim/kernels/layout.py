"""Family codes and quantile-table layout shared by the kernels and the distributions.

Plain constants, no numba: the distributions encode themselves with these codes when a
model is read, without importing the compiler. Codes are part of the compiled kernels'
contract; keep them stable.
"""

from __future__ import annotations

__all__ = [
    "DISCRETE",
    "EXPR",
    "FIXED",
    "POSTERIOR",
    "QT_LIMIT",
    "QT_SIZE",
    "TABLE",
    "TB_EDGE",
    "TB_N",
    "UNIFORM",
    "table_size",
]

FIXED = 0
UNIFORM = 1
TABLE = 2
DISCRETE = 3
POSTERIOR = 4
EXPR = 5  # parameters are expressions: the generated kernel computes the value per draw

TB_EDGE = 1.0 / 32.0  # bulk of a TABLE: u in [TB_EDGE, 1 - TB_EDGE] on TB_N steps
TB_N = 4096
QT_LIMIT = 38.0  # tails: QT_SIZE points of log(u / (1 - u)) in [-QT_LIMIT, QT_LIMIT]
QT_SIZE = 16385


def table_size() -> int:
    """Length of a TABLE entry in the pool: bulk points, then tail points."""
    return TB_N + 1 + QT_SIZE
