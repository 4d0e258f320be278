"""Who holds the lock a statement timed out waiting for, as the database says just after
the timeout: the tables the statement names, and each session holding a lock on them (pid,
application, user, state, for how long, its query), with the statement that would end it.
For the retry's lines and its final error (ddl_retry.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrations_cli.running.migration_run import shortened_statement

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

# Names in a statement that may be the table it waited for: words and "quoted" or `quoted`.
_NAME = re.compile(r'"((?:[^"]|"")+)"|`((?:[^`]|``)+)`|\b([A-Za-z_][A-Za-z0-9_$]*)\b')
_SHOWN_QUERY_CHARS = 60


@dataclass(frozen=True)
class LockWait:
    """What the database says, just after the timeout, about the lock waited for."""

    where: str  # "on table accounts, held by pid 4242 (...)"
    end_holders: tuple[str, ...] = ()  # the statements that would end each holder


def lock_wait(connection: Connection, mysql: bool, statement: str | None) -> LockWait:
    """The tables the failed statement names and the sessions holding locks on them, as
    far as the database says; the transaction that held the lock may have ended since."""
    names = _names(statement or "")
    try:
        if mysql:
            tables, holders = _mysql_holders(connection, names)
        else:
            tables, holders = _postgresql_holders(connection, names)
    except Exception as error:  # the look is for the message: never its own failure
        connection.rollback()
        return LockWait(f"(could not look up who held it: {type(error).__name__})")
    connection.rollback()  # no transaction open while pausing
    where = f"on table {', '.join(tables)}" if tables else "(on a table the statement names)"
    if not holders:
        return LockWait(f"{where} (whoever held it has finished since)")
    return LockWait(
        f"{where}, held by {'; '.join(holder for holder, _ in holders)}",
        tuple(end for _, end in holders),
    )


def _names(statement: str) -> list[str]:
    """Every name the statement could be naming, as the database stores it (unquoted names
    folded to lower case, which both PostgreSQL and MariaDB's defaults compare equal)."""
    names: dict[str, None] = {}
    for double, back, word in _NAME.findall(statement):
        name = double.replace('""', '"') or back.replace("``", "`") or word.lower()
        names[name] = None
    return list(names)


# The tables a statement names, and (description, statement that ends it) of each holder.
_Holders = tuple[list[str], list[tuple[str, str]]]


def _postgresql_holders(connection: Connection, names: list[str]) -> _Holders:
    from sqlalchemy import text

    rows = connection.execute(
        text(
            "SELECT c.oid::regclass::text FROM pg_class c "
            "WHERE c.oid IN (SELECT to_regclass(quote_ident(n)) "
            "FROM unnest(CAST(:names AS text[])) n) "
            "AND c.relkind IN ('r', 'p', 'm', 'i', 'I')"
        ),
        {"names": names},
    ).all()
    tables = [table for (table,) in rows]
    holders = connection.execute(
        text(
            "SELECT a.pid, a.application_name, a.usename, a.state, "
            "EXTRACT(EPOCH FROM now() - COALESCE(a.xact_start, a.query_start)), a.query "
            "FROM pg_stat_activity a WHERE a.pid IN ("
            "SELECT l.pid FROM pg_locks l WHERE l.granted AND l.pid <> pg_backend_pid() "
            "AND l.relation IN (SELECT to_regclass(t) FROM unnest(CAST(:tables AS text[])) t)) "
            "ORDER BY a.xact_start"
        ),
        {"tables": tables},
    ).all()
    return tables, [
        (
            f"pid {pid} ({application + ', ' if application else ''}user {user}, {state} "
            f"for {_seconds(age)}: {_query(query)})",
            f"SELECT pg_terminate_backend({pid})",
        )
        for pid, application, user, state, age, query in holders
    ]


def _mysql_holders(connection: Connection, names: list[str]) -> _Holders:
    """MariaDB says which session holds a table's metadata lock only with its
    METADATA_LOCK_INFO plugin; without it, the sessions with a transaction open are the
    suspects (a transaction holds the metadata lock of every table it has touched)."""
    from sqlalchemy import bindparam, text

    tables = [
        table
        for (table,) in connection.execute(
            text(
                "SELECT TABLE_NAME FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN :names"
            ).bindparams(bindparam("names", expanding=True)),
            {"names": names or [""]},
        )
    ]
    has_lock_info = connection.execute(
        text(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
            "'information_schema' AND TABLE_NAME = 'METADATA_LOCK_INFO'"
        )
    ).scalar()
    if has_lock_info:
        suspects = (
            "SELECT THREAD_ID FROM information_schema.METADATA_LOCK_INFO "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN :tables"
        )
    else:
        suspects = "SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX"
    statement = text(
        "SELECT p.ID, p.USER, p.COMMAND, p.TIME, p.INFO FROM information_schema.PROCESSLIST p "
        f"WHERE p.ID <> CONNECTION_ID() AND p.ID IN ({suspects}) ORDER BY p.TIME DESC"
    )
    parameters: dict[str, Any] = {}
    if has_lock_info:
        statement = statement.bindparams(bindparam("tables", expanding=True))
        parameters["tables"] = tables or [""]
    holders = connection.execute(statement, parameters).all()
    open_transaction = "" if has_lock_info else ", a transaction open"
    return tables, [
        (
            f"connection {thread} (user {user}, {command} for {_seconds(age)}{open_transaction}"
            f"{': ' + _query(query) if query else ''})",
            f"KILL {thread}",
        )
        for thread, user, command, age, query in holders
    ]


def _seconds(age: Any) -> str:
    return f"{float(age or 0):.1f}s"


def _query(query: str | None) -> str:
    return shortened_statement(query or "", _SHOWN_QUERY_CHARS) or "no query"
