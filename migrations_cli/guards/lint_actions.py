"""What a revision does to a PostgreSQL schema, as facts the PostgreSQL lint rules read.

The same risk can be written as an Alembic operation (``op.create_foreign_key(...)``) or as
SQL (``op.execute("ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY ...")``, or the revision's
offline SQL). Both are turned into `Action`s here, so each rule is written once and finds the
risk however it was spelled. Operations are read from the parsed file (no import, no
database); SQL is parsed with pglast, which embeds PostgreSQL's own parser (libpg_query):
what it accepts and how it reads a statement is what the server will do, where a hand-made
parser or a generic one (sqlparse, sqlglot) guesses at PostgreSQL's grammar. pglast is an
optional extra (``migrations-cli[sql]``, 33 MB installed), imported only when SQL is linted.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from migrations_cli.guards.emptied_tables import EMPTY_TABLE
from migrations_cli.guards.op_calls import OpCall, called_name, is_true, string_literal

# Functions whose value changes row by row: a column added with one as its default makes
# PostgreSQL rewrite the whole table under an ACCESS EXCLUSIVE lock (a constant or a stable
# default such as now() is stored once, instantly, since PostgreSQL 11).
VOLATILE_FUNCTIONS = frozenset(
    {
        "random",
        "gen_random_uuid",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "uuidv4",
        "uuidv7",
        "clock_timestamp",
        "timeofday",
        "nextval",
        "txid_current",
    }
)
_FUNCTION_CALL = re.compile(r"([A-Za-z_][\w.]*)\s*\(")
# Whitespace and comments before a statement: its line is that of its first word.
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)
_SET_LOCK_TIMEOUT = re.compile(r"^\s*SET\s+(?:LOCAL\s+|SESSION\s+)?lock_timeout\b", re.I)

# Column types as families; names are SQLAlchemy's (sa.CHAR) and PostgreSQL's (bpchar, int4).
_TYPE_FAMILIES = {
    "char": "char",
    "nchar": "char",
    "bpchar": "char",
    "character": "char",
    "datetime": "timestamp",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
    "smallinteger": "int",
    "smallint": "int",
    "int2": "int",
    "integer": "int",
    "int": "int",
    "int4": "int",
    "serial": "serial",
    "serial4": "serial",
    "smallserial": "serial",
    "serial2": "serial",
    "biginteger": "bigint",
    "bigint": "bigint",
    "int8": "bigint",
    "bigserial": "bigserial",
    "serial8": "bigserial",
}


@dataclass(frozen=True)
class Column:
    """A column being created: its type family (``char``, ``timestamp``, ``int``, ``serial``,
    ``bigint``... or None), whether it is (part of) the primary key, NOT NULL, and its
    default's text when it has one."""

    name: str | None
    family: str | None
    primary_key: bool = False
    not_null: bool = False
    default: str | None = None

    @property
    def volatile_default(self) -> str | None:
        """The volatile function its default calls, if any (``gen_random_uuid``)."""
        for name in _FUNCTION_CALL.findall(self.default or ""):
            if name.lower().rsplit(".", 1)[-1] in VOLATILE_FUNCTIONS:
                return str(name)
        return None


@dataclass(frozen=True)
class Action:
    """One thing a revision does, at a line of the revision file. `kind` is one of
    create_table, add_column, alter_type, set_not_null, rename, drop_table, drop_column,
    add_constraint (`constraint`: foreign, check, unique or primary), validate_constraint,
    drop_constraint, create_index, drop_index, truncate, empty_table (a DELETE without WHERE, or
    each table a TRUNCATE names), drop_database, set_lock_timeout,
    other_ddl (a strong lock with nothing more to say about it). `shown` is how a finding
    names it: the operation call, or the SQL statement cut short."""

    kind: str
    line: int
    shown: str
    table: str | None = None
    constraint: str | None = None
    not_valid: bool = False
    using_index: bool = False
    concurrently: bool = False
    in_transaction: bool = True
    cascade: bool = False
    columns: tuple[Column, ...] = ()
    new_type: str | None = None
    from_sql: bool = False


# --- from operation calls --------------------------------------------------------------------


def from_calls(calls: Sequence[OpCall]) -> Iterator[Action]:
    """The actions of `op` calls (raw SQL of op.execute excluded: see `from_sql`)."""
    for call in calls:
        action = _from_call(call)
        if action is not None:
            yield action


def _from_call(call: OpCall) -> Action | None:
    name, line = call.name, call.line
    table_keyword = "source_table" if name == "create_foreign_key" else "table_name"
    table = call.text(1 if name in _TABLE_SECOND else 0, table_keyword)
    constraint_name = call.text(0, "index_name" if name == "create_index" else "constraint_name")
    shown = call.shown(constraint_name if name in _TABLE_SECOND else None, table)
    if name == "create_table":
        return Action(
            name, line, call.shown(table), table=table, columns=_table_columns(call.args[1:])
        )
    if name == "add_column":
        column_node = call.keywords.get("column") or (call.args[1] if len(call.args) > 1 else None)
        column = _column(column_node)
        shown = call.shown(table, column.name if column else None)
        return Action(name, line, shown, table=table, columns=(column,) if column else ())
    if name == "alter_column":
        column_name = call.text(1, "column_name")
        shown = call.shown(table, column_name)
        already_not_null = _is_false(call.keywords.get("existing_nullable"))
        if _is_false(call.keywords.get("nullable")) and not already_not_null:
            return Action("set_not_null", line, shown, table=table)
        if "type_" in call.keywords:
            family = _family(call.keywords["type_"])
            return Action("alter_type", line, shown, table=table, new_type=family)
        return Action("other_ddl", line, shown, table=table)
    if name in _CONSTRAINTS:
        kind = _CONSTRAINTS[name]
        not_valid = is_true(call.keywords.get("postgresql_not_valid"))
        return Action(
            "add_constraint", line, shown, table=table, constraint=kind, not_valid=not_valid
        )
    concurrently = is_true(call.keywords.get("postgresql_concurrently"))
    in_transaction = not call.in_autocommit_block
    if name == "create_index":
        index_shown = call.shown(call.text(0, "index_name"), table)
        return Action(
            name,
            line,
            index_shown,
            table=table,
            concurrently=concurrently,
            in_transaction=in_transaction,
        )
    if name == "drop_index":
        index_shown = call.shown(call.text(0, "index_name"))
        table = string_literal(call.keywords.get("table_name")) or call.text(1, "table_name")
        return Action(
            name,
            line,
            index_shown,
            table=table,
            concurrently=concurrently,
            in_transaction=in_transaction,
        )
    if name == "drop_column":
        return Action(name, line, call.shown(table, call.text(1, "column_name")), table=table)
    if name in ("drop_table", "rename_table"):
        kind = "rename" if name == "rename_table" else name
        return Action(kind, line, call.shown(table), table=table)
    if name == "drop_constraint":
        return Action(name, line, shown, table=table)
    return None


_TABLE_SECOND = frozenset(
    {
        "create_foreign_key",
        "create_check_constraint",
        "create_unique_constraint",
        "create_primary_key",
        "drop_constraint",
        "create_index",
    }
)
_CONSTRAINTS = {
    "create_foreign_key": "foreign",
    "create_check_constraint": "check",
    "create_unique_constraint": "unique",
    "create_primary_key": "primary",
}


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _family(node: ast.expr | None) -> str | None:
    """`sa.DateTime(timezone=True)` → timestamptz, `sa.CHAR(3)` → char, `sa.Integer` → int."""
    if node is None:
        return None
    name = called_name(node)
    family = _TYPE_FAMILIES.get((name or "").lower())
    if family == "timestamp" and isinstance(node, ast.Call):
        timezone = next((kw.value for kw in node.keywords if kw.arg == "timezone"), None)
        if timezone is None and node.args:
            timezone = node.args[0]
        if isinstance(timezone, ast.Constant) and timezone.value is True:
            return "timestamptz"
    return family


def _column(node: ast.expr | None) -> Column | None:
    """A `sa.Column("id", sa.Integer(), primary_key=True, server_default=...)`."""
    if not (isinstance(node, ast.Call) and called_name(node) == "Column"):
        return None
    args = list(node.args)
    name = string_literal(args.pop(0)) if args and string_literal(args[0]) is not None else None
    keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
    kind = args[0] if args else keywords.get("type_")
    nullable = keywords.get("nullable")
    primary = is_true(keywords.get("primary_key"))
    return Column(
        name,
        _family(kind),
        primary_key=primary,
        not_null=_is_false(nullable) or (primary and nullable is None),
        default=_default_text(keywords.get("server_default")),
    )


def _default_text(node: ast.expr | None) -> str | None:
    """The SQL of `server_default="x"`, `sa.text("now()")` or `sa.func.now()`."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return None
    if isinstance(node, ast.Constant):
        return repr(node.value)
    if isinstance(node, ast.Call):
        name = called_name(node)
        if name in ("text", "literal_column") and node.args:
            inner = node.args[0]
            if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                return inner.value
        if isinstance(node.func, ast.Attribute):
            return f"{node.func.attr}()"
    return ast.unparse(node)


def _table_columns(args: Sequence[ast.expr]) -> tuple[Column, ...]:
    """The columns of create_table, a PrimaryKeyConstraint's columns marked as the key."""
    columns = [column for column in map(_column, args) if column is not None]
    keyed: set[str] = set()
    for node in args:
        if isinstance(node, ast.Call) and called_name(node) == "PrimaryKeyConstraint":
            keyed |= {
                arg.value
                for arg in node.args
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            }
    return tuple(
        Column(c.name, c.family, True, True, c.default) if c.name in keyed else c for c in columns
    )


# --- from SQL ---------------------------------------------------------------------------------


@functools.cache
def sql_is_parsable() -> bool:
    """Whether pglast, PostgreSQL's parser, is installed (`migrations-cli[sql]`)."""
    import importlib.util

    return importlib.util.find_spec("pglast") is not None


def sets_lock_timeout(sql: str) -> bool:
    """`SET [LOCAL] lock_timeout ...`: recognised without pglast too."""
    return any(_SET_LOCK_TIMEOUT.match(part) for part in sql.split(";"))


class SqlSyntaxError(ValueError):
    """SQL that PostgreSQL's parser rejects: `message` is the parser's."""


def from_sql(sql: str, first_line: int, *, in_transaction: bool = True) -> list[Action]:
    """The actions of `sql` (one or more statements); a statement's line is `first_line` plus
    the lines before it in `sql`. BEGIN and COMMIT move in and out of a transaction."""
    import pglast
    from pglast.parser import ParseError

    try:
        statements = pglast.parse_sql(sql)
    except ParseError as error:
        raise SqlSyntaxError(str(error)) from None
    actions: list[Action] = []
    for raw in statements:  # pglast gives offsets in characters; a length of 0 means "to the end"
        start = raw.stmt_location or 0
        text = sql[start : start + raw.stmt_len] if raw.stmt_len else sql[start:]
        skipped = _LEADING.match(text)
        start += skipped.end() if skipped else 0
        text = text[skipped.end() if skipped else 0 :]
        line = first_line + sql.count("\n", 0, start)
        node = raw.stmt
        kind = type(node).__name__
        if kind == "TransactionStmt":
            in_transaction = _transaction_state(node, in_transaction)
            continue
        actions += _statement_actions(node, line, _shortened(text), in_transaction)
    return actions


def _shortened(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 60 else flat[:57] + "..."


def _transaction_state(node: Any, current: bool) -> bool:
    kind = node.kind.name
    if kind in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
        return True
    if kind in ("TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK"):
        return False
    return current


def _statement_actions(node: Any, line: int, shown: str, in_transaction: bool) -> list[Action]:
    """What one parsed statement does, as actions (an ALTER TABLE may do several things)."""
    kind = type(node).__name__
    base: dict[str, Any] = {"line": line, "shown": shown, "from_sql": True}
    table = _relation(getattr(node, "relation", None))
    if kind == "CreateStmt":
        return [Action("create_table", table=table, columns=_sql_columns(node), **base)]
    if kind == "IndexStmt":
        return [
            Action(
                "create_index",
                table=table,
                concurrently=bool(node.concurrent),
                in_transaction=in_transaction,
                **base,
            )
        ]
    if kind == "DropStmt":
        removed = node.removeType.name
        if removed == "OBJECT_INDEX":
            return [
                Action(
                    "drop_index",
                    concurrently=bool(node.concurrent),
                    in_transaction=in_transaction,
                    **base,
                )
            ]
        if removed == "OBJECT_TABLE":
            return [Action("drop_table", **base)]
        return []
    if kind == "TruncateStmt":
        cascade = node.behavior.name == "DROP_CASCADE"
        emptied = [_relation(relation) for relation in node.relations or ()]
        return [Action("truncate", cascade=cascade, **base)] + [
            Action(EMPTY_TABLE, table=name, **base) for name in emptied if name
        ]
    if kind == "DeleteStmt" and node.whereClause is None:
        return [Action(EMPTY_TABLE, table=table, **base)] if table else []
    if kind == "DropdbStmt":
        return [Action("drop_database", **base)]
    if kind == "RenameStmt":
        return [Action("rename", table=table, **base)]
    if kind == "VariableSetStmt" and (node.name or "").lower() == "lock_timeout":
        return [Action("set_lock_timeout", **base)]
    if kind == "AlterTableStmt" and node.objtype.name == "OBJECT_TABLE":
        return [_alter_table_action(command, table, base) for command in node.cmds or ()]
    return []


def _relation(node: Any) -> str | None:
    return getattr(node, "relname", None) if node is not None else None


_CONSTRAINT_TYPES = {
    "CONSTR_FOREIGN": "foreign",
    "CONSTR_CHECK": "check",
    "CONSTR_UNIQUE": "unique",
    "CONSTR_PRIMARY": "primary",
}


def _alter_table_action(command: Any, table: str | None, base: dict[str, Any]) -> Action:
    subtype = command.subtype.name
    if subtype == "AT_AddColumn":
        return Action("add_column", table=table, columns=(_sql_column(command.def_),), **base)
    if subtype == "AT_DropColumn":
        return Action("drop_column", table=table, **base)
    if subtype == "AT_SetNotNull":
        return Action("set_not_null", table=table, **base)
    if subtype == "AT_AlterColumnType":
        family = _sql_family(command.def_.typeName)
        return Action("alter_type", table=table, new_type=family, **base)
    if subtype == "AT_AddConstraint":
        constraint = command.def_
        return Action(
            "add_constraint",
            table=table,
            constraint=_CONSTRAINT_TYPES.get(constraint.contype.name, "other"),
            not_valid=bool(constraint.skip_validation),
            using_index=bool(getattr(constraint, "indexname", None)),
            **base,
        )
    if subtype == "AT_ValidateConstraint":
        return Action("validate_constraint", table=table, **base)
    if subtype == "AT_DropConstraint":
        return Action("drop_constraint", table=table, **base)
    return Action("other_ddl", table=table, **base)


def _sql_family(type_name: Any) -> str | None:
    names = [getattr(part, "sval", "") for part in type_name.names or ()]
    return _TYPE_FAMILIES.get(names[-1].lower()) if names else None


def _sql_columns(node: Any) -> tuple[Column, ...]:
    columns = [
        _sql_column(element)
        for element in node.tableElts or ()
        if type(element).__name__ == "ColumnDef"
    ]
    keyed: set[str] = set()
    for element in node.tableElts or ():
        if type(element).__name__ == "Constraint" and element.contype.name == "CONSTR_PRIMARY":
            keyed |= {key.sval for key in element.keys or ()}
    return tuple(
        Column(c.name, c.family, True, True, c.default) if c.name in keyed else c for c in columns
    )


def _sql_column(node: Any) -> Column:
    from pglast.stream import RawStream

    constraints = {constraint.contype.name: constraint for constraint in node.constraints or ()}
    default = constraints.get("CONSTR_DEFAULT")
    primary = "CONSTR_PRIMARY" in constraints
    return Column(
        node.colname,
        _sql_family(node.typeName),
        primary_key=primary,
        not_null=primary or "CONSTR_NOTNULL" in constraints,
        default=RawStream()(default.raw_expr) if default is not None else None,
    )
