"""The code-sum memo: code sums remembered by the text sum of the bytes they came from, so
that a file read again is tokenized only when its bytes are new. It is an optimisation: a
missing, damaged or unwritable memo only means tokenizing, and never a wrong sum."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrations_cli.core.tool_tables import CHECKSUM_TABLE
from migrations_cli.guards import code_sums
from migrations_cli.guards.code_sums import MEMO_FORMAT, MEMO_NAME, CodeSumMemo, file_checksums

SOURCE = '''"""Add users"""
import sqlalchemy as sa
from alembic import op

revision = "aaaa00000001"
down_revision = None


def upgrade():
    op.create_table("users", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade():
    op.drop_table("users")
'''


def write_files(folder: Path, count: int) -> list[Path]:
    paths = []
    for number in range(count):
        path = folder / f"r{number}.py"
        path.write_text(SOURCE.replace('"users"', f'"t{number}"'))
        paths.append(path)
    return paths


def no_tokenizing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(data: bytes) -> str:
        raise AssertionError("tokenized a file whose code sum the memo holds")

    monkeypatch.setattr(code_sums, "_code_checksum", refuse)


def test_remembered_sums_are_the_sums_tokenizing_gives(tmp_path, monkeypatch):
    memo_path = tmp_path / "cache" / MEMO_NAME
    paths = write_files(tmp_path, 3)
    expected = [file_checksums(path) for path in paths]

    first = CodeSumMemo(memo_path)
    assert [file_checksums(path, first) for path in paths] == expected
    first.save()
    assert (tmp_path / "cache" / ".gitignore").exists()

    no_tokenizing(monkeypatch)
    second = CodeSumMemo(memo_path)
    assert [file_checksums(path, second) for path in paths] == expected


def test_new_bytes_are_tokenized_even_beside_a_remembered_file(tmp_path):
    memo_path = tmp_path / MEMO_NAME
    [path] = write_files(tmp_path, 1)
    original = path.read_text()
    memo = CodeSumMemo(memo_path)
    before = file_checksums(path, memo)
    memo.save()

    path.write_text(original.replace('"t0"', '"people"'))  # code edited
    after = file_checksums(path, CodeSumMemo(memo_path))
    assert after == file_checksums(path)
    assert after.code != before.code and after.text != before.text

    path.write_text(original.replace("import sqlalchemy", "# a comment\nimport sqlalchemy"))
    commented = file_checksums(path, CodeSumMemo(memo_path))
    assert commented.code == before.code and commented.text != before.text


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"[]",
        json.dumps({"format": "migrations-cli code sums 0", "sums": {}}).encode(),
        json.dumps({"format": MEMO_FORMAT, "sums": []}).encode(),
        json.dumps({"format": MEMO_FORMAT, "sums": {"a" * 64: "not a sum"}}).encode(),
        json.dumps({"format": MEMO_FORMAT, "sums": {"A" * 64: "b" * 64}}).encode(),
        json.dumps({"format": MEMO_FORMAT, "sums": {"a" * 64: 1}}).encode(),
        b"\xff\xfe binary",
    ],
    ids=[
        "empty",
        "not-json",
        "a-list",
        "older-format",
        "sums-not-a-mapping",
        "code-not-a-sum",
        "text-not-lowercase",
        "code-not-text",
        "binary",
    ],
)
def test_a_damaged_memo_is_ignored_and_replaced(tmp_path, content):
    memo_path = tmp_path / MEMO_NAME
    memo_path.write_bytes(content)
    [path] = write_files(tmp_path, 1)

    memo = CodeSumMemo(memo_path)
    assert file_checksums(path, memo) == file_checksums(path)
    memo.save()

    document = json.loads(memo_path.read_bytes())
    assert document["format"] == MEMO_FORMAT
    assert document["sums"] == {file_checksums(path).text: file_checksums(path).code}


def test_a_damaged_entry_is_taken_again_and_the_good_ones_are_kept(tmp_path, monkeypatch):
    memo_path = tmp_path / MEMO_NAME
    good, damaged = write_files(tmp_path, 2)
    sums = {path: file_checksums(path) for path in (good, damaged)}
    junk = {"A" * 64: "b" * 64, "c" * 64: 1}
    memo_path.write_text(
        json.dumps(
            {
                "format": MEMO_FORMAT,
                "sums": {
                    sums[good].text: sums[good].code,
                    sums[damaged].text: "not a sum",
                    **junk,
                },
            }
        )
    )

    memo = CodeSumMemo(memo_path)
    assert file_checksums(damaged, memo) == sums[damaged]  # taken again, not "not a sum"
    no_tokenizing(monkeypatch)
    assert file_checksums(good, memo) == sums[good]  # remembered
    memo.save()
    document = json.loads(memo_path.read_bytes())
    assert document["sums"] == {sums[path].text: sums[path].code for path in (damaged, good)}


def test_a_memo_that_is_a_folder_or_cannot_be_written_changes_nothing(tmp_path):
    [path] = write_files(tmp_path, 1)
    folder_memo = tmp_path / "folder"
    folder_memo.mkdir()
    memo = CodeSumMemo(folder_memo)
    assert file_checksums(path, memo) == file_checksums(path)
    memo.save()  # cannot replace a folder: nothing raised
    assert folder_memo.is_dir()

    under_a_file = tmp_path / "r0.py" / MEMO_NAME  # its folder is a file
    memo = CodeSumMemo(under_a_file)
    assert file_checksums(path, memo) == file_checksums(path)
    memo.save()
    assert path.is_file()


def test_the_memo_keeps_the_sums_used_last_within_its_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(code_sums, "MEMO_LIMIT", 3)
    memo_path = tmp_path / MEMO_NAME
    paths = write_files(tmp_path, 4)
    sums = [file_checksums(path) for path in paths]

    memo = CodeSumMemo(memo_path)
    for path in paths[:3]:
        file_checksums(path, memo)
    memo.save()
    memo = CodeSumMemo(memo_path)
    file_checksums(paths[0], memo)  # used again: kept
    file_checksums(paths[3], memo)  # new: written
    memo.save()

    kept = json.loads(memo_path.read_bytes())["sums"]
    assert list(kept) == [sums[2].text, sums[0].text, sums[3].text]


def test_nothing_is_written_when_every_sum_was_remembered(tmp_path):
    memo_path = tmp_path / MEMO_NAME
    paths = write_files(tmp_path, 2)
    memo = CodeSumMemo(memo_path)
    for path in paths:
        file_checksums(path, memo)
    memo.save()
    memo_path.write_bytes(memo_path.read_bytes() + b" ")  # a mark a rewrite would drop

    memo = CodeSumMemo(memo_path)
    for path in paths:
        file_checksums(path, memo)
    memo.save()
    assert memo_path.read_bytes().endswith(b" ")


def recorded(database: Path) -> list[tuple[str, str, str]]:
    import sqlite3

    connection = sqlite3.connect(database)
    try:
        return connection.execute(
            f"SELECT revision, code_sha256, text_sha256 FROM {CHECKSUM_TABLE} ORDER BY revision"
        ).fetchall()
    finally:
        connection.close()


def test_upgrades_record_the_same_sums_with_and_without_the_memo(project, migrate, monkeypatch):
    project.write("alembic/versions/aaaa00000001_add_users.py", SOURCE)
    sums = file_checksums(project.root / "alembic/versions/aaaa00000001_add_users.py")
    expected = [("aaaa00000001", sums.code, sums.text)]
    project.write_env(DATABASE_URL="sqlite:///first.db")
    assert migrate("upgrade").exit_code == 0
    assert (project.root / ".migrations-cache" / MEMO_NAME).is_file()

    no_tokenizing(monkeypatch)  # the second database's sums come from the memo
    project.write_env(DATABASE_URL="sqlite:///second.db")
    result = migrate("upgrade")
    assert result.exit_code == 0, result.output

    assert recorded(project.root / "first.db") == expected
    assert recorded(project.root / "second.db") == expected
