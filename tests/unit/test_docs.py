"""Every public function, class and method of the package says what it is: a docstring of its
own, or, for a method that overrides one, the docstring of the method it overrides."""

import ast
import importlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "repro"


def undocumented() -> list[str]:
    out = []
    for f in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(f.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.parse(f.read_bytes()).body:
            if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) or node.name.startswith("_"):
                continue
            if not ast.get_docstring(node):
                out.append(f"{module}.{node.name}")
            if isinstance(node, ast.ClassDef):
                cls = None
                for m in node.body:
                    if not isinstance(m, ast.FunctionDef) or m.name.startswith("_") or ast.get_docstring(m):
                        continue
                    cls = cls or getattr(importlib.import_module(module), node.name)
                    if not any(getattr(getattr(base, m.name, None), "__doc__", None) for base in cls.__mro__[1:]):
                        out.append(f"{module}.{node.name}.{m.name}")
    return out


def test_every_public_name_has_a_docstring():
    assert undocumented() == []
