"""The layer rules of docs/architecture.md, checked on the source."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "mkba_sim"

# layer -> (mkba_sim layers it may import, third-party packages it may import at top level)
RULES: dict[str, tuple[set[str], set[str]]] = {
    "kernels": ({"kernels", "_cache"}, {"numpy", "numba"}),
    "distributions": ({"kernels", "distributions"}, {"numpy", "scipy"}),
    "model": ({"distributions", "model", "errors"}, {"numpy", "pydantic"}),
    "engine": (
        {"kernels", "distributions", "model", "results", "errors", "engine", "_cache", "_gc"},
        {"numpy", "numba", "scipy", "xarray"},
    ),
    "results": (set(), {"numpy", "xarray"}),
    "resources": ({"model", "errors"}, set()),
    "analysis": (
        {"analysis", "model", "results", "errors", "distributions"},
        {"numpy", "SALib", "xarray", "scipy"},
    ),
    "report": ({"report", "plot", "analysis", "model", "results", "errors"}, {"numpy"}),
    "plot": ({"plot", "analysis", "results", "errors"}, {"numpy"}),
    "bayes": (
        {"bayes", "model", "distributions", "errors", "results"},
        {"numpy", "xarray", "scipy"},
    ),
    # io touches disk and never imports bayes (the posterior store holds plain datasets)
    "io": (
        {"io", "model", "distributions", "results", "errors", "_cache"},
        {"numpy", "xarray"},
    ),
    # the application layer: everything above, heavy packages lazily
    "fitting": (
        {"bayes", "io", "model", "distributions", "errors", "results", "_cache"},
        {"numpy"},
    ),
}
_ALL_LAYERS = {layer for layers, _ in RULES.values() for layer in layers} | set(RULES)
# the shell and the application layer may import everything (the package itself too)
RULES["workflow"] = (_ALL_LAYERS | {"", "workflow", "fitting"}, set())
RULES["cli"] = (_ALL_LAYERS | {"", "workflow", "fitting", "cli"}, set())
LAZY_ONLY = {"pymc", "arviz", "pytensor", "matplotlib", "dask", "distributed"}


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(tree: ast.AST, top_level_only: bool) -> list[str]:
    names: list[str] = []
    body = tree.body if top_level_only and isinstance(tree, ast.Module) else None
    nodes = body if body is not None else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


FILES = sorted(p for p in SRC.rglob("*.py") if _layer(p) in RULES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_layer_imports(path: Path) -> None:
    layer = _layer(path)
    allowed_layers, allowed_pkgs = RULES[layer]
    tree = ast.parse(path.read_text())
    for name in _imports(tree, top_level_only=False):
        root = name.split(".")[0]
        if root == "mkba_sim":
            sub = name.split(".")[1] if "." in name else ""
            assert sub in allowed_layers | {layer}, f"{path.name}: {layer} imports {name}"
    for name in _imports(tree, top_level_only=True):
        root = name.split(".")[0]
        if root in ("mkba_sim", "__future__") or root in sys.stdlib_module_names:
            continue
        assert root not in LAZY_ONLY, f"{path.name}: {root} must be imported inside functions"
        assert root in allowed_pkgs, f"{path.name}: {layer} imports {name} at top level"


#: Calls that read or write files; ``bayes`` must make none of them (data arrive as bytes,
#: posteriors leave as datasets; :mod:`mkba_sim.fitting` and :mod:`mkba_sim.io` do the rest).
DISK_CALLS = {
    "open",
    "read_bytes",
    "read_text",
    "write_bytes",
    "write_text",
    "to_netcdf",
    "to_zarr",
    "open_dataset",
    "open_datatree",
    "load_dataset",
    "save_dataset",
    "mkdir",
    "unlink",
    "cache_root",
    "from_netcdf",
}


@pytest.mark.parametrize(
    "path",
    sorted((SRC / "bayes").glob("*.py")),
    ids=lambda p: p.name,
)
def test_bayes_never_touches_the_disk(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = (
                f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            )
            assert name not in DISK_CALLS, f"{path.name}:{node.lineno}: bayes calls {name}()"


def test_no_eval_or_exec_in_package() -> None:
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"eval", "exec", "compile"}, f"{path}: {node.func.id}"
