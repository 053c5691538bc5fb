"""The small expression language of the registry: read fields of a result and combine them.

    per_color[red].suppression.delta          a field; [name] picks a row by its "name"
    runs[seed=40].score                       [key=value] picks a row by any key
    per_color[red].latent.0                   .N is the N-th element of a list
    100 * {label_counts.red} / {label_counts.total}
    abs({per_color[cyan].ablation.delta}) < 0.0005 and {score} >= 0.975

Only numbers, fields in braces, + - * /, comparisons, and/or/not and abs/min/max are allowed:
registry files are data, never code.
"""

from __future__ import annotations

import ast
import math
import operator
import re

_FIELD = re.compile(r"\{([^{}]+)\}")
_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_CMP = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
        ast.Eq: operator.eq, ast.NotEq: operator.ne}
_CALLS = {"abs": abs, "min": min, "max": max}


class ExpressionError(ValueError):
    """A malformed expression (a registry error, not a missing value)."""


def lookup(data, dotted: str):
    """A field of nested dicts and lists: 'per_color[red].suppression.delta', 'runs[seed=40].score'."""
    node = data
    for part in re.findall(r"[^.\[\]]+|\[[^\]]+\]", dotted):
        if part.startswith("["):
            key, _, value = part[1:-1].partition("=")
            field, want = (key, value) if value else ("name", key)
            node = next((r for r in node if isinstance(r, dict) and str(r.get(field)) == want), None)
            if node is None:
                raise KeyError(f"{dotted}: no row with {field} = {want}")
        elif isinstance(node, list) and part.isdigit():
            node = node[int(part)]  # an element of a list: latent.0
        else:
            node = node[part]
    return node


_PATH = re.compile(r"[A-Za-z0-9_./\[\]=\- ]+")


def check_syntax(expr: str) -> None:
    """Raise ExpressionError unless `expr` is a valid expression (without reading any data)."""
    if "{" not in expr and _PATH.fullmatch(expr):
        return  # a plain field path
    if len(expr) > 10_000:
        raise ExpressionError(f"{expr[:40]!r}...: longer than 10,000 characters")
    try:
        tree = ast.parse(_FIELD.sub("_v0", expr), mode="eval")
        _validate(tree.body, expr)
    except SyntaxError as e:
        raise ExpressionError(f"{expr!r}: {e.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"{expr[:40]!r}...: nested too deeply") from None


MAX_DEPTH = 100  # nesting of operators and calls; evaluation recurses once per level


def _depth(n) -> int:
    """How deeply the tree nests (iteratively: a deep tree must not overflow the check itself)."""
    deepest, todo = 0, [(n, 1)]
    while todo:
        node, d = todo.pop()
        deepest = max(deepest, d)
        todo.extend((c, d + 1) for c in ast.iter_child_nodes(node))
    return deepest


def _validate(n, expr: str) -> None:
    ok = (ast.BinOp, ast.Compare, ast.BoolOp, ast.UnaryOp, ast.Call, ast.Constant, ast.Name,
          ast.And, ast.Or, ast.Not, ast.USub, ast.Load, *_BIN, *_CMP)
    if _depth(n) > MAX_DEPTH:
        raise ExpressionError(f"{expr[:40]!r}...: nested deeper than {MAX_DEPTH} levels "
                              "(a long sum of fields nests one level per term; use fewer terms)")
    for node in ast.walk(n):
        if not isinstance(node, ok):
            raise ExpressionError(f"{expr!r}: {type(node).__name__} is not allowed")
        if isinstance(node, ast.Name) and not (node.id.startswith("_v") or node.id in _CALLS):
            raise ExpressionError(f"{expr!r}: unknown name {node.id!r}; put fields in braces")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _CALLS):
            raise ExpressionError(f"{expr!r}: only abs, min and max may be called")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise ExpressionError(f"{expr!r}: only numbers may be written literally")
        if isinstance(node, ast.Constant) and not _finite(node.value):
            raise ExpressionError(f"{expr[:40]!r}...: the number {str(node.value)[:20]}... is not a finite float")


def _finite(v) -> bool:
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def value_of(expr: str, data):
    """The value of `expr` over `data` (a number, or a bool for a comparison)."""
    if "{" not in expr and _PATH.fullmatch(expr):
        return float(lookup(data, expr.strip()))
    values: list[float] = []

    def sub(m):
        values.append(float(lookup(data, m.group(1).strip())))
        return f"_v{len(values) - 1}"

    try:
        tree = ast.parse(_FIELD.sub(sub, expr), mode="eval")
    except SyntaxError as e:
        raise ExpressionError(f"{expr!r}: {e.msg}") from None
    _validate(tree.body, expr)

    def ev(n):
        if isinstance(n, ast.BinOp):
            return _BIN[type(n.op)](ev(n.left), ev(n.right))
        if isinstance(n, ast.UnaryOp):
            return (lambda x: not x)(ev(n.operand)) if isinstance(n.op, ast.Not) else -ev(n.operand)
        if isinstance(n, ast.BoolOp):
            vals = [ev(v) for v in n.values]
            return all(vals) if isinstance(n.op, ast.And) else any(vals)
        if isinstance(n, ast.Compare):
            left = ev(n.left)
            for op, right in zip(n.ops, n.comparators):
                r = ev(right)
                if not _CMP[type(op)](left, r):
                    return False
                left = r
            return True
        if isinstance(n, ast.Call):
            return _CALLS[n.func.id](*[ev(a) for a in n.args])
        if isinstance(n, ast.Constant):
            return n.value
        return values[int(n.id[2:])]

    return ev(tree.body)
