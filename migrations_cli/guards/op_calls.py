"""An operation call of a revision as its source states it (``op.drop_column("users",
"name")`` at line 21), read with `ast`: what the lint rules and the lint's actions both
read, apart from either."""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class OpCall:
    """One operation call, e.g. ``op.drop_column("users", "name")`` at line 21. A batch
    operation's arguments are given as the plain `op` call's, its table put back in place;
    `in_autocommit_block` says it runs inside ``op.get_context().autocommit_block()``."""

    name: str
    line: int
    args: tuple[ast.expr, ...]
    keywords: dict[str, ast.expr]
    in_autocommit_block: bool = False

    def text(self, index: int, keyword: str | None = None) -> str | None:
        """A string argument, by position or keyword; None when absent or not a literal."""
        node = self.keywords.get(keyword) if keyword else None
        if node is None and index < len(self.args):
            node = self.args[index]
        return string_literal(node)

    def shown(self, *names: str | None) -> str:
        """`drop_column('users', 'name')`: the call as a finding names it."""
        return f"{self.name}({', '.join(repr(name) for name in names if name is not None)})"


def string_literal(node: ast.expr | None) -> str | None:
    """The string a node states as a literal; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def called_name(node: ast.expr | None) -> str | None:
    """The name a call or a type is written with: `sa.Column(...)` and `Column` → "Column";
    None for anything else."""
    function = node.func if isinstance(node, ast.Call) else node
    if isinstance(function, ast.Attribute):
        return function.attr
    return function.id if isinstance(function, ast.Name) else None


def is_true(node: ast.expr | None) -> bool:
    """Whether a node is the literal True."""
    return isinstance(node, ast.Constant) and node.value is True
