"""Masking hides every form of the password, and never rewrites migrate's own words.

A password that is one of migrate's words (`database`, `heads`, `a`) must not turn a check's
name into *** in `doctor --json` (breaking scripts, and telling the reader the password), nor
a message into "c***nnot connect"; it is still masked where a URL, a driver's error or a
plugin's output carries it. Every password form a URL library writes is masked too.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from migrations_cli.core.output import Redactor

# pysqlite ignores the password query argument the SQLite URLs here carry, and says so.
pytestmark = pytest.mark.filterwarnings("ignore:Query string argument")

# A plugin that prints the URL the ways a plugin author might: as SQLAlchemy renders it, as
# urllib encodes the password, inside JSON; and raises one with the URL in it when asked.
LEAKY_PLUGIN = """
import json
import os
from urllib.parse import quote, quote_plus

import typer

from migrations_cli.hookspecs import hookimpl


@hookimpl
def register_commands(app):
    @app.command()
    def leak():
        from sqlalchemy.engine import make_url

        url = make_url(os.environ["LEAK_URL"])
        rendered = url.render_as_string(hide_password=False)
        print(rendered)
        print(json.dumps({"url": rendered}))
        print(json.dumps({"password": url.password}))
        print(json.dumps({"password": url.password}, ensure_ascii=False))
        print(quote(url.password), quote(url.password, safe=""), quote_plus(url.password))
        print("plain:", url.password)


@hookimpl
def before_migrate(config, direction, current, target):
    raise RuntimeError("refused " + os.environ["LEAK_URL"] + " and " + os.environ["LEAK_WORD"])
"""


def test_every_form_a_url_library_writes_of_the_password_is_masked(project, migrate, monkeypatch):
    plain = 'S3cr3tZ!q "é/+ x'
    url = f"postgresql+psycopg://app:{quote(plain, safe='')}@db.invalid/app"
    project.write("leaky.py", LEAKY_PLUGIN)
    project.write_env(DATABASE_URL=url, MIGRATIONS_PLUGINS="leaky")
    monkeypatch.setenv("LEAK_URL", url)

    result = migrate("leak")

    assert result.exit_code == 0, result.output
    assert result.stdout.count("***") >= 8, result.stdout
    for marker in ("S3cr3tZ", "%21q", "\\u00e9"):
        assert marker not in result.output, result.output


COMMON_WORDS = ["database", "heads", "a", "nnot", "name", "revision", "1"]


def doctor_json(migrate) -> dict:
    result = migrate("doctor", "--json")
    return json.loads(result.stdout)


@pytest.mark.parametrize("password", COMMON_WORDS)
def test_a_password_that_is_one_of_our_words_leaves_our_text_alone(project, migrate, password):
    """Whole words of ours stay (a check's name, a JSON key, "a", "the database is at"),
    where the password still goes from the URL that carries it."""
    url = f"sqlite:///db.sqlite?password={password}"  # (pysqlite ignores it; doctor shows it)
    project.write_env(DATABASE_URL=url)
    assert migrate("create", "Add users", "--empty").exit_code == 0
    plain = migrate("doctor", "--json")
    assert migrate("upgrade").exit_code == 0

    document = json.loads(plain.stdout)
    names = [check["name"] for check in document["checks"]]
    assert "***" not in names
    assert {"name", "status", "message"} <= set(document["checks"][0])
    assert f"password={password}" not in plain.output
    text = migrate("doctor")
    assert "password=***" in text.output
    assert f"password={password}" not in text.output
    for check in names:  # the same names in text as in JSON
        assert check in text.stdout
    heads = migrate("heads", "--json")
    assert heads.exit_code == 0
    assert "***" not in heads.stdout
    status = migrate("status")
    assert "***" not in status.output, status.output


@pytest.mark.parametrize("password", ["database", "a", "heads"])
def test_a_common_word_password_is_still_masked_where_a_plugin_or_an_error_carries_it(
    project, migrate, monkeypatch, password
):
    url = f"postgresql+psycopg://app:{password}@db.invalid/app"  # what the plugin shows
    project.write("leaky.py", LEAKY_PLUGIN)
    project.write_env(  # a database migrate reaches, with the same password
        DATABASE_URL=f"sqlite:///db.sqlite?password={password}", MIGRATIONS_PLUGINS="leaky"
    )
    monkeypatch.setenv("LEAK_URL", url)
    monkeypatch.setenv("LEAK_WORD", password)

    leaked = migrate("leak")
    refused = migrate("upgrade")

    assert f"plain: {password}\n" not in leaked.stdout  # a plugin's print is outside text
    assert "plain: ***" in leaked.stdout
    assert f":{password}@" not in leaked.stdout
    assert refused.exit_code == 1
    assert f":{password}@" not in refused.stderr
    assert f"and {password}" not in refused.stderr  # a plugin's exception is outside text
    assert "plugin 'leaky' failed in before_migrate" in refused.stderr  # our words stay


def test_the_redactor_masks_whole_words_only_and_spares_our_words():
    redactor = Redactor({"a", "heads", "S3cr3t"})

    outside = redactor.text("cannot connect: a heads S3cr3t; heads-up S3cr3tive")
    with redactor.own_words():
        ours = redactor.text("cannot connect to a database: heads S3cr3t postgresql://u:a@h")

    assert outside == "cannot connect: *** *** ***; ***-up S3cr3tive"
    assert ours == "cannot connect to a database: heads *** postgresql://u:***@h"
    assert redactor.outside("c a nnot") == "c *** nnot"
