"""`--format text|json|github|sarif` for the commands a CI pipeline runs (`lint`, `check`,
`status --check`): one list of `Annotation`s, written as GitHub workflow commands (an
annotation on the file and line of the diff) or as SARIF 2.1.0 (what GitHub code scanning
and other tools upload). Text and JSON stay each command's own."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any

import typer

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/migrations-cli/migrations-cli"


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"
    sarif = "sarif"


FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        help="text for people, json for scripts, github for annotations in a GitHub "
        "workflow, sarif for code scanning.",
        case_sensitive=False,
    ),
]


def chosen(output_format: OutputFormat, json_output: bool) -> OutputFormat:
    """`--json` is kept as the short form of `--format json`; with another format it is a
    contradiction, refused rather than settled silently."""
    if json_output and output_format not in (OutputFormat.text, OutputFormat.json):
        raise typer.BadParameter(
            f"--json and --format {output_format.value} ask for two formats: pick one",
            param_hint="'--format'",
        )
    return OutputFormat.json if json_output else output_format


@dataclass(frozen=True)
class Annotation:
    """One problem for CI: `rule` an id, `level` error or warning, `path` and `line` where
    it is when it has a place in a file (a model difference has none)."""

    rule: str
    level: str
    message: str
    path: str | None = None
    line: int | None = None
    source: str = "migrate"


def github_lines(annotations: Iterable[Annotation]) -> list[str]:
    """GitHub workflow commands: ``::error file=a.py,line=3,title=ML001::message``."""
    lines = []
    for annotation in annotations:
        properties = []
        if annotation.path:
            properties.append(f"file={_property(annotation.path)}")
            if annotation.line:
                properties.append(f"line={annotation.line}")
        title = (
            annotation.rule
            if annotation.source == "migrate"
            else (f"{annotation.rule} ({annotation.source})")
        )
        properties.append(f"title={_property(title)}")
        level = "error" if annotation.level == "error" else "warning"
        lines.append(f"::{level} {','.join(properties)}::{_data(annotation.message)}")
    return lines


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def sarif_document(
    tool: str, annotations: Sequence[Annotation], descriptions: dict[str, str] | None = None
) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run per source (migrate, squawk), each listing its rules;
    `descriptions` gives a rule's one-line description where known."""
    runs = []
    sources = list(dict.fromkeys(annotation.source for annotation in annotations)) or ["migrate"]
    for source in sources:
        found = [annotation for annotation in annotations if annotation.source == source]
        rules = sorted({annotation.rule for annotation in found})
        driver: dict[str, Any] = {
            "name": tool if source == "migrate" else source,
            "informationUri": INFORMATION_URI if source == "migrate" else "https://squawkhq.com",
            "rules": [_rule(rule, (descriptions or {}).get(rule)) for rule in rules],
        }
        runs.append(
            {
                "tool": {"driver": driver},
                "results": [_result(annotation, rules) for annotation in found],
            }
        )
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": runs}


def _rule(rule: str, description: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": rule}
    if description:
        entry["shortDescription"] = {"text": description}
    return entry


def _result(annotation: Annotation, rules: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": annotation.rule,
        "ruleIndex": rules.index(annotation.rule),
        "level": "error" if annotation.level == "error" else "warning",
        "message": {"text": annotation.message},
    }
    if annotation.path:
        location: dict[str, Any] = {"artifactLocation": {"uri": annotation.path}}
        if annotation.line:
            location["region"] = {"startLine": annotation.line}
        result["locations"] = [{"physicalLocation": location}]
    return result


def print_annotations(
    output_format: OutputFormat,
    tool: str,
    annotations: Sequence[Annotation],
    descriptions: dict[str, str] | None = None,
) -> None:
    """Write `annotations` on stdout as GitHub commands or a SARIF document."""
    from migrations_cli.core import output

    if output_format is OutputFormat.github:
        for line in github_lines(annotations):
            output.result(line)
    else:
        output.json_result(sarif_document(tool, annotations, descriptions))
