"""Running the lint rules on a project: the built-in rules and the plugins', file by file,
each finding reported with its file, line and revision, as `lint` and `create` print it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from migrations_cli.guards.lint_rules import BUILTIN_RULES
from migrations_cli.guards.postgresql_rules import ACTION_RULES
from migrations_cli.guards.revision_source import (
    LOCK_TIMEOUT_SETTING,
    Finding,
    RevisionSource,
    Rule,
    dialect_of,
    project_disabled,
    project_setting,
    read_revision,
    run_rules,
)

if TYPE_CHECKING:
    from migrations_cli.core.context import MigrationsContext
    from migrations_cli.guards.lint_offline import Statement


@dataclass(frozen=True)
class Reported:
    """A finding in a given revision file, as `migrate lint` and `migrate create` print it."""

    finding: Finding
    revision: str
    path: str

    def line_text(self, severity: str | None = None) -> str:
        """`alembic/versions/x.py:12: ML002 error in ab12: drop_column(...): advice`;
        `severity` is the severity as shown (coloured, say)."""
        finding = self.finding
        source = f" ({finding.source})" if finding.source != "migrate" else ""
        return (
            f"{self.path}:{finding.line}: {finding.rule}{source} {severity or finding.severity} "
            f"in {self.revision}: {finding.message}"
        )

    def document(self) -> dict[str, object]:
        finding = self.finding
        return {
            "rule": finding.rule,
            "severity": finding.severity,
            "revision": self.revision,
            "path": self.path,
            "line": finding.line,
            "message": finding.message,
            "source": finding.source,
        }


def project_rules(context: MigrationsContext) -> list[Rule]:
    """The built-in rules, then those the plugins return from `lint_rules`."""
    from migrations_cli.core.hook_calls import call_hook

    returned = call_hook(context.plugin_manager.hook.lint_rules)
    return [*BUILTIN_RULES, *(rule for rules in returned for rule in rules or ())]


def lint_files(
    context: MigrationsContext,
    files: Sequence[tuple[Path, str | None]],
    *,
    offline_sql: bool = False,
    squawk: bool = False,
) -> list[Reported]:
    """Every finding in `files` (each a path and its revision id when known), file by file.
    With `offline_sql` the rules also read each revision's offline SQL, with `squawk` squawk
    does too; a finding already made at the same line under the same rule is not repeated."""
    from migrations_cli.graph.revision_graph import shown_path

    rules = project_rules(context)
    settings = context.settings
    disabled = project_disabled(settings.env_file)
    dialect = dialect_of(settings.database_url)
    timeout = project_setting(LOCK_TIMEOUT_SETTING, settings.env_file) is not None
    statements: dict[Path, list[Statement]] = {}
    from_squawk: dict[Path, list[Finding]] = {}
    if offline_sql or squawk:
        from migrations_cli.guards.lint_offline import (
            offline_statements,
            require_parser,
            squawk_executable,
            squawk_findings,
        )

        if offline_sql:
            require_parser()
        executable = squawk_executable() if squawk else None
        statements = offline_statements(context, [path for path, _ in files])
        if executable:
            from_squawk = squawk_findings(executable, statements)
    reported: list[Reported] = []
    unparsed = 0
    for path, revision_id in files:
        revision = _parsed(path, revision_id, dialect, timeout)
        unparsed += revision.unparsed_sql
        shown = shown_path(str(path))
        found = _checked_findings(revision, rules, disabled, shown)
        if offline_sql and path in statements:
            found += _offline_findings(revision, statements[path], disabled, shown)
        found += [item for item in from_squawk.get(path, []) if item.rule not in disabled]
        unique = {(item.rule, item.line): item for item in reversed(found)}
        ordered = sorted(unique.values(), key=lambda item: (item.line, item.source, item.rule))
        reported += [Reported(finding, revision.revision, shown) for finding in ordered]
    if unparsed:
        from migrations_cli.core import output

        output.info(
            f"note: the SQL of op.execute() in {unparsed} revision(s) was not linted: "
            "pip install 'migrations-cli[sql]' (pglast, PostgreSQL's parser) to lint it"
        )
    return reported


def _offline_findings(
    revision: RevisionSource, statements: list[Statement], disabled: frozenset[str], shown: str
) -> list[Finding]:
    """The action rules on the revision's offline SQL instead of its operations."""
    from dataclasses import replace

    from migrations_cli.guards.lint_offline import offline_actions

    actions = tuple(offline_actions(statements))
    return _checked_findings(replace(revision, actions=actions), ACTION_RULES, disabled, shown)


def _parsed(
    path: Path, revision: str | None, dialect: str | None, lock_timeout: bool
) -> RevisionSource:
    from migrations_cli.core.errors import MigrationsError

    try:
        return read_revision(
            path, revision=revision, dialect=dialect, project_lock_timeout=lock_timeout
        )
    except SyntaxError as error:
        where = f"line {error.lineno}: " if error.lineno else ""
        raise MigrationsError(f"{path}: {where}{error.msg}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MigrationsError(f"{path}: cannot read ({error})") from None


def _checked_findings(
    revision: RevisionSource, rules: Sequence[Rule], disabled: frozenset[str], shown: str
) -> list[Finding]:
    """run_rules, with a rule that raises (a plugin's bug) reported as one line naming it."""
    from migrations_cli.core.errors import PluginError, first_line
    from migrations_cli.core.output import mask_outside

    checked: list[Rule] = []
    for rule in rules:

        def guarded(source: RevisionSource, rule: Rule = rule) -> list[Finding]:
            try:
                return list(rule(source))
            except Exception as error:
                name = f"{getattr(rule, '__module__', '?')}.{getattr(rule, '__qualname__', rule)}"
                raise PluginError(
                    f"lint rule {name} failed on {shown}: "
                    f"{type(error).__name__}: {mask_outside(first_line(str(error)))}"
                ) from error

        checked.append(guarded)
    return run_rules(revision, checked, disabled)
