"""Reading a revision file's identity from its text (migrations_cli.graph.revision_reader): the
same values Alembic's import gives for every plain file, and None (so that Alembic imports
the file) for every file whose identity or docstring only running it can tell, or that does
not compile. Then, through the commands: a fresh clone's first run imports no plain file and
answers as Alembic does, and the files the reader refuses answer as Alembic's import does."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import test_revision_cache as revision_cache_tests
from alembic.util import load_python_file
from test_revision_cache import answers, check, history_of, names

from migrations_cli.graph.revision_reader import plain_identity

_settled_at_once = revision_cache_tests._settled_at_once
alembic_command = revision_cache_tests.alembic_command
alembic_answers = revision_cache_tests.alembic_answers
alembic_imported = revision_cache_tests.alembic_imported
imported = revision_cache_tests.imported

IDENTITY = ("revision", "down_revision", "branch_labels", "depends_on", "__doc__")

PLAIN = {
    "alembic's template": '''
        """Add users

        Revision ID: ab12
        Revises: cd34
        Create Date: 2025-01-01 09:00:00
        """
        from collections.abc import Sequence

        import sqlalchemy as sa
        from alembic import op

        # revision identifiers, used by Alembic.
        revision: str = "ab12"
        down_revision: str | Sequence[str] | None = "cd34"
        branch_labels: str | Sequence[str] | None = None
        depends_on: str | Sequence[str] | None = None


        def upgrade() -> None:
            op.execute("UPDATE t SET revision = 'x'  # not a comment")
            op.create_table("t", sa.Column("revision", sa.Integer))
        ''',
    "tuples, lists and one-element tuples": """
        '''Merge'''
        revision = 'ab12'
        down_revision = ('cd34', "ef56",)
        branch_labels = ['feature']
        depends_on = ('gh78',)
        """,
    "a parenthesized string is a string": """
        revision = ("ab12")
        down_revision = ()
        """,
    "escapes, raw and unicode strings": r'''
        """Fix the caf\u00e9 \"menu\"\n
        Second paragraph with a \\ backslash."""
        revision = r'ab\12'
        down_revision = u"cd34"  # a comment with 'quotes' and "more
        x = "# not a comment", '"'
        ''',
    "no docstring": """
        from __future__ import annotations
        '''Not the docstring: the second statement.'''
        revision = 'ab12'
        down_revision = None
        """,
    "a comment before the docstring": """
        #!/usr/bin/env python
        '''Doc.'''
        revision = 'ab12'
        down_revision = None
        """,
    "multi-line strings that look like code": """
        '''revision = 'not this one'
        down_revision = 'nor this'
        '''
        revision = 'ab12'
        x = '''
        revision = 'zz'
        '''
        down_revision = None
        """,
}

NOT_PLAIN = {
    "a computed value": "revision = 'ab' + '12'\ndown_revision = None\n",
    "a value from a name": "PARENT = 'cd34'\nrevision = 'ab12'\ndown_revision = PARENT\n",
    "a bytes value": "revision = b'ab12'\ndown_revision = None\n",
    "an f-string anywhere": "revision = 'ab12'\ndown_revision = None\nx = f'{1}'\n",
    "a star import": "from os import *\nrevision = 'ab12'\ndown_revision = None\n",
    "code run on import": "import os\nrevision = 'ab12'\ndown_revision = None\n"
    "KEY = os.environ['SECRET_KEY']\n",
    "a statement run on import": "revision = 'ab12'\ndown_revision = None\nraise SystemExit(3)\n",
    "globals()": "revision = 'ab12'\ndown_revision = None\nglobals()['revision'] = 'x'\n",
    "setattr": "import sys\nrevision = 'ab12'\ndown_revision = None\n"
    "setattr(sys.modules[__name__], 'x', 1)\n",
    "a module __getattr__": "revision = 'ab12'\ndown_revision = None\n"
    "def __getattr__(name):\n    return None\n",
    "an assignment in a block": "revision = 'ab12'\nif True:\n    down_revision = None\n",
    "assigned twice": "revision = 'ab12'\ndown_revision = None\ndown_revision = 'cd34'\n",
    "named elsewhere": "revision = 'ab12'\ndown_revision = None\nprint(revision)\n",
    "a name containing one": "revision = 'ab12'\ndown_revision = None\nold_revision = 1\n",
    "an attribute": "import sys\nrevision = 'ab12'\ndown_revision = None\n"
    "sys.modules[__name__].branch_labels = ('x',)\n",
    "a keyword argument at column 0": "revision = 'ab12'\ndown_revision = None\n"
    "dict(\nbranch_labels = None\n)\n",
    "a continued line": "revision = 'ab12'\nx = \\\ndown_revision = None\n",
    "no down_revision": "revision = 'ab12'\n",
    "the docstring set later": "revision = 'ab12'\ndown_revision = None\n__doc__ = 'x'\n",
    "a docstring of two strings": "'''a''' 'b'\nrevision = 'ab12'\ndown_revision = None\n",
    "a parenthesized docstring": "('''a''')\nrevision = 'ab12'\ndown_revision = None\n",
    "an escape Python rejects": "revision = 'ab\\N{no such name}'\ndown_revision = None\n",
    "a syntax error": "revision = 'ab12'\ndown_revision = None\ndef upgrade(:\n    pass\n",
    "an indentation error": "revision = 'ab12'\ndown_revision = None\n  x = 1\n",
    "a coding declaration": "# -*- coding: latin-1 -*-\nrevision = 'ab12'\ndown_revision = None\n",
    "carriage returns": "revision = 'ab12'\r\ndown_revision = None\r\n",
}


def _module_identity(tmp_path: Path, source: str) -> dict[str, object]:
    """What Alembic's import of `source` gives, by name."""
    path = tmp_path / "revision.py"
    path.write_text(source, newline="")
    module = load_python_file(str(tmp_path), "revision.py")
    return {name: getattr(module, name, None) for name in IDENTITY}


@pytest.mark.parametrize("name", PLAIN)
def test_a_plain_file_reads_as_alembic_imports_it(tmp_path, name):
    source = textwrap.dedent(PLAIN[name]).lstrip("\n")
    read = plain_identity(source.encode(), "revision.py")

    assert read is not None
    assert {key: read.get(key) for key in IDENTITY} == _module_identity(tmp_path, source)


@pytest.mark.parametrize("name", NOT_PLAIN)
def test_what_only_an_import_tells_is_refused(name):
    assert plain_identity(NOT_PLAIN[name].encode(), "revision.py") is None


def test_a_fresh_clone_imports_no_plain_revision_file(
    project, migrate, alembic_answers, alembic_imported
):
    revisions = history_of(project, **revision_cache_tests.HISTORIES["depends_on"])

    first = answers(migrate)

    assert alembic_imported == []
    assert first == alembic_answers()
    assert len(first["history",][1]["revisions"]) == len(revisions)


@pytest.mark.parametrize(
    ("name", "learned", "head"),
    [
        # An import, then a cache entry: the identity is literals (the f-string is elsewhere).
        ("an f-string anywhere", True, "abab00001212"),
        # An import on every command: only running the file tells its identity.
        ("globals()", False, "x"),
    ],
)
def test_a_refused_file_is_imported_and_answers_as_alembic(
    project, migrate, alembic_answers, imported, name, learned, head
):
    revisions = history_of(project, n=5)
    parent = f"down_revision = {revisions[-1].revision!r}"
    refused = project.versions / "refused.py"
    source = NOT_PLAIN[name].replace("down_revision = None", parent)
    refused.write_text(source.replace("'ab12'", "'abab00001212'"))

    first = check(
        migrate,
        alembic_answers,
        imported,
        expect_imports=[*names(revisions), *[refused.name] * learned],
        every_time=[refused.name] * (not learned),
    )
    assert [found["revision"] for found in first["heads",][1]["heads"]] == [head]


def test_a_syntax_error_fails_as_alembics_import(project, migrate, alembic_command):
    history_of(project, n=5)
    broken = project.versions / "broken.py"
    broken.write_text(NOT_PLAIN["a syntax error"])

    for command in ("heads", "history", "current"):
        ours, theirs = migrate(command), alembic_command(command)
        assert ours.exit_code == theirs.exit_code == 1
        assert ours.stderr == theirs.stderr
        assert "invalid syntax" in ours.stderr
    assert json.loads(migrate("heads", "--json").stdout or "null") is None
