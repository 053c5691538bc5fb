"""The package's layers: every import, at module level or inside a function, goes to the same
layer or one below it, and no modules import each other in a loop. The layers, bottom up, are
the pipeline's order; a new module belongs to one of them (or the test says where it is)."""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "repro"
LAYERS = ("base", "method", "config", "engine", "store", "pipeline", "fidelity", "report", "api", "cli", "__main__")


def modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def imports(f: Path, known: dict[str, Path]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(f.read_bytes())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{f}: relative import"
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known}
    return {m for m in found if m in known and m != "repro"}


def layer(module: str) -> int:
    part = module.split(".")[1] if module != "repro" else "__init__"
    if part not in LAYERS:
        pytest.fail(f"{module} is in no layer; put it in one of {', '.join(LAYERS)}")
    return LAYERS.index(part)


GRAPH = {m: imports(f, modules()) for m, f in modules().items()}


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m != "repro"))
def test_imports_only_go_down(module):
    up = sorted(m for m in GRAPH[module] if layer(m) > layer(module))
    assert not up, f"{module} (layer {LAYERS[layer(module)]}) imports from higher layers: {up}"


def test_the_package_face_imports_nothing_eagerly():
    # `import repro` (every CLI start, every worker) must not pull in torch or the layers below.
    top = ast.parse((PACKAGE / "__init__.py").read_bytes())
    assert not [n for n in top.body if isinstance(n, (ast.Import, ast.ImportFrom)) and
                not (isinstance(n, ast.ImportFrom) and n.module == "__future__")]


def test_no_import_loops():
    state: dict[str, int] = {}

    def visit(m, path):
        if state.get(m) == 1:
            pytest.fail("import loop: " + " -> ".join(path[path.index(m):] + [m]))
        if state.get(m) == 2:
            return
        state[m] = 1
        for n in sorted(GRAPH[m]):
            if n != m and not m.startswith(n + "."):  # a module importing its own package's face is no loop
                visit(n, path + [m])
        state[m] = 2

    for m in sorted(GRAPH):
        visit(m, [])


def test_the_rule_sees_an_upward_import(tmp_path):
    # the checker itself: a method module that reached up into the pipeline would be found
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from repro.pipeline.sweep import run_sweep\n")
    found = imports(f, modules())
    assert "repro.pipeline.sweep" in found and layer("repro.pipeline.sweep") > layer("repro.method.model")


def _strings(f: Path) -> list[str]:
    """The string constants of a module's code (docstrings left out: they may name files)."""
    tree = ast.parse(f.read_bytes())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]


CACHE_NAMES = ("training.json", "metrics.json", "model.pt", "losses.npy", "summary.json", "runs.csv",
               "per_color.csv", "score-", "eval-", "sweep-", "sensitivity-", "verification", "paper-timings")


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m not in ("repro.store.layout", "repro")))
def test_one_owner_for_cache_paths_and_variables(module):
    # The cache's folders and file names are spelled in repro/store/layout.py alone, and the
    # REPRO_* variables are read in repro/base/paths.py alone.
    strings = _strings(modules()[module])
    # a path or a piece of one has no spaces (a message that names a file is no path)
    spelled = sorted({s for s in strings for name in CACHE_NAMES if name in s and not re.search(r"\s", s)
                      and not s.endswith((".tex", ".j2"))})
    assert not spelled, f"{module} spells cache paths {spelled}: ask repro.store.layout"
    if module != "repro.base.paths":
        assert not [s for s in strings if s.startswith("REPRO_")], f"{module} reads a REPRO_ variable itself"


def test_verification_never_trains():
    # verify reads results through a protocol (repro.fidelity.verify.Results); whatever computes
    # them (repro.pipeline.workspace) stands below it and is handed in
    reached = {n for m in GRAPH if m.startswith("repro.fidelity.") for n in GRAPH[m]}
    assert not sorted(n for n in reached if n.startswith(("repro.pipeline", "repro.engine")))
