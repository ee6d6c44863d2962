"""The files of a report, written from its document: the same writers for a run and a merge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance.reports import html
from conformance.reports.report import to_junit, to_markdown, write_json

FILES = ("report.json", "report.md", "report.html", "junit.xml")


def write_reports(document: dict[str, Any], directory: Path, junit: bool = True) -> None:
    """report.json, report.md, report.html and junit.xml (``junit=False`` when pytest's
    --junitxml writes it, as in a run)."""
    directory.mkdir(parents=True, exist_ok=True)
    write_json(document, directory / "report.json")
    (directory / "report.md").write_text(to_markdown(document))
    (directory / "report.html").write_text(html.render(document))
    if junit:
        (directory / "junit.xml").write_text(to_junit(document))
