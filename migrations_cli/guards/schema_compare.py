"""Two schemas compared in full: one reflected into a MetaData (what a history builds, or
another database), the other a live connection, by Alembic's autogenerate comparison.

`squash` proves its baseline with it, `baseline` decides whether a database may be stamped,
`drift` compares a database with its own history and `diff` two databases. Alembic compares
tables, columns, types, nullability, server defaults, comments, indexes, unique and foreign
keys; what it leaves out (primary keys, check constraints, PostgreSQL enum types and
sequences) is compared here beside it, so that "equal" means equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrations_cli.core.tool_tables import BOOKKEEPING_TABLES, plugin_include_object
from migrations_cli.guards.model_diff import column_change, describe_difference, flattened

if TYPE_CHECKING:
    import pluggy
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class Schema:
    """A database's schema held in memory: its tables reflected, and what MetaData does not
    hold (PostgreSQL's enum types and free-standing sequences)."""

    metadata: MetaData
    enums: dict[str, tuple[str, ...]]
    sequences: frozenset[str]


@dataclass(frozen=True)
class SchemaDifference:
    """One difference, in words naming both sides ("column only in the database: ...")."""

    kind: str
    description: str


def reflect_schema(connection: Connection) -> Schema:
    """Everything but the bookkeeping tables, as the database reports it."""
    from sqlalchemy import MetaData, inspect

    metadata = MetaData()
    metadata.reflect(connection, only=lambda name, _metadata: name not in BOOKKEEPING_TABLES)
    inspector: Any = inspect(connection)
    enums: dict[str, tuple[str, ...]] = {}
    sequences: frozenset[str] = frozenset()
    if connection.dialect.name == "postgresql":
        enums = {enum["name"]: tuple(enum["labels"]) for enum in inspector.get_enums()}
        sequences = frozenset(inspector.get_sequence_names()) - _owned_sequences(connection)
    return Schema(metadata, enums, sequences)


def _owned_sequences(connection: Connection) -> frozenset[str]:
    """Sequences a SERIAL column owns: they come and go with their table."""
    from sqlalchemy import text

    rows = connection.execute(
        text(
            "SELECT s.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
            "WHERE s.relkind = 'S' AND d.deptype IN ('a', 'i')"
        )
    )
    return frozenset(name for (name,) in rows)


def schema_differences(
    expected: Schema,
    found: Connection,
    *,
    expected_name: str,
    found_name: str,
    hook: pluggy.HookRelay | None = None,
) -> list[SchemaDifference]:
    """What differs between `expected` and the schema behind `found`, each difference naming
    the side it is on by `expected_name` / `found_name` ("the history", "the database")."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    migration_context = MigrationContext.configure(
        found,
        opts={
            "target_metadata": expected.metadata,
            "compare_type": True,
            "compare_server_default": True,
            "include_object": _include_object(hook),
        },
    )
    diffs = list(flattened(compare_metadata(migration_context, expected.metadata)))
    words = _Words(expected_name, found_name)
    found_differences = [words.describe(diff, found) for diff in diffs]
    return found_differences + _beyond_alembic(expected, reflect_schema(found), words)


def _include_object(hook: pluggy.HookRelay | None) -> Any:
    """The bookkeeping tables are left out; with a plugin manager, the plugins' include_object
    too (a team's own exclusions hold here as in `check`)."""

    plugins = plugin_include_object(hook) if hook is not None else None

    def include_object(
        object: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        if type_ == "table" and name in BOOKKEEPING_TABLES:
            return False
        return plugins is None or bool(plugins(object, name, type_, reflected, compare_to))

    return include_object


@dataclass(frozen=True)
class _Words:
    """The two sides' names, for differences that say where each object is."""

    expected: str
    found: str

    def describe(self, diff: tuple[Any, ...], found: Connection) -> SchemaDifference:
        """model_diff's words for the models and a database ("column added: users.email"),
        said of two schemas: an "added" object is only on the expected side, a "removed" one
        only on the found side, a modified column has a value on each."""
        kind = diff[0]
        if kind.startswith("modify_"):
            change = column_change(diff, found.dialect)
            what = change.what.replace(" changed", " differs")
            return SchemaDifference(
                kind,
                f"{what}: {change.column} {change.old} in {self.found}, "
                f"{change.new} in {self.expected}",
            )
        text = describe_difference(diff, found.dialect).description
        what, _, rest = text.partition(": ")
        if what.endswith(" changed"):  # a table comment on both sides, each its own
            return SchemaDifference(kind, f"{what.replace(' changed', ' differs')}: {rest}")
        if kind.startswith("add_"):
            return self.only(kind, True, _thing(what), rest)
        if kind.startswith("remove_"):
            return self.only(kind, False, _thing(what), rest)
        return SchemaDifference(kind, text)  # a kind a later Alembic adds, in its own words

    def only(self, kind: str, on_expected: bool, what: str, rest: str) -> SchemaDifference:
        side = self.expected if on_expected else self.found
        return SchemaDifference(kind, f"{what} only in {side}: {rest}")


def _thing(what: str) -> str:
    """ "unique index added" -> "unique index"."""
    return what.rsplit(" ", 1)[0]


def _beyond_alembic(expected: Schema, found: Schema, words: _Words) -> list[SchemaDifference]:
    """Primary keys and check constraints of the tables both sides have, enum types and
    sequences: what autogenerate does not compare."""
    differences: list[SchemaDifference] = []
    for name, table in expected.metadata.tables.items():
        other = found.metadata.tables.get(name)
        if other is None:
            continue
        keys = (_primary_key(table), _primary_key(other))
        if keys[0] != keys[1]:
            differences.append(
                SchemaDifference(
                    "modify_primary_key",
                    f"primary key differs: {name} {keys[1]} in {words.found}, "
                    f"{keys[0]} in {words.expected}",
                )
            )
        differences += _one_sided(
            words, "check", "check constraint", _checks(table), _checks(other), f"{name} "
        )
    differences += _one_sided(words, "enum", "enum type", set(expected.enums), set(found.enums))
    for enum in sorted(expected.enums.keys() & found.enums.keys()):
        if expected.enums[enum] != found.enums[enum]:
            differences.append(
                SchemaDifference(
                    "modify_enum",
                    f"enum type differs: {enum} {_labels(found.enums[enum])} in {words.found}, "
                    f"{_labels(expected.enums[enum])} in {words.expected}",
                )
            )
    differences += _one_sided(words, "sequence", "sequence", expected.sequences, found.sequences)
    return differences


def _one_sided(
    words: _Words,
    kind: str,
    what: str,
    expected: Iterable[str],
    found: Iterable[str],
    prefix: str = "",
) -> list[SchemaDifference]:
    expected, found = set(expected), set(found)
    return [
        words.only(f"add_{kind}", True, what, prefix + name) for name in sorted(expected - found)
    ] + [
        words.only(f"remove_{kind}", False, what, prefix + name)
        for name in sorted(found - expected)
    ]


def _labels(labels: tuple[str, ...]) -> str:
    return f"({', '.join(labels)})"


def _primary_key(table: Any) -> str:
    return f"({', '.join(column.name for column in table.primary_key.columns)})"


def _checks(table: Any) -> set[str]:
    """Each check constraint as `name (condition)`, whitespace normalised."""
    from sqlalchemy import CheckConstraint

    return {
        f"{constraint.name or ''} ({' '.join(str(constraint.sqltext).split())})".lstrip()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }
