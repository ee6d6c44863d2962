"""One report from many runs: the report.json of several runs (servers, machines, CI jobs)
combined into one document, which the run's own writers then write (files.py).

Rules this module keeps:
- Only documents of this kit's ``schema`` and of one spec version merge: a verdict means
  something only against the text of its clause. Anything else is a MergeError naming the
  files and what differs.
- Every run keeps its entry in ``runs`` (with ``source``, the REPORT_DIR it was read from), so
  every column still says where it came from.
- Two runs may hold the same server name (the same server on two machines, or two jobs that
  kept the default names): both columns are kept, each renamed ``NAME@SOURCE``. Nothing
  is dropped or silently overwritten.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from conformance.reports.report import SCHEMA
from conformance.reports.verdicts import ORDER, totals


class MergeError(ValueError):
    """The reports cannot be merged; the message names the files and the reason."""


def load(given: Path) -> dict[str, Any]:
    """The document in ``given``: a report directory, or a report.json itself."""
    path = given / "report.json" if given.is_dir() else given
    try:
        document: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise MergeError(f"{path}: no such report (give a directory holding report.json)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MergeError(f"{path}: not a JSON report: {exc}") from None
    schema = document.get("schema") if isinstance(document, dict) else None
    if schema != SCHEMA:
        raise MergeError(
            f"{path}: report schema {schema}, this kit merges schema {SCHEMA} "
            "(run that server again with this kit)"
        )
    unknown = {v for cells in document["verdicts"].values() for v in cells.values()} - set(ORDER)
    if unknown:
        raise MergeError(f"{path}: unknown verdicts {sorted(unknown)}")
    return document


def combine(sources: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One document from ``(source, document)`` pairs, the source being the REPORT_DIR given."""
    if not sources:
        raise MergeError("no reports to merge")
    given = Counter(source for source, _ in sources)
    if max(given.values()) > 1:
        raise MergeError(f"{given.most_common(1)[0][0]} is given twice")
    first_source, first = sources[0]
    for source, document in sources:
        if document["spec_version"] != first["spec_version"]:
            raise MergeError(
                "cannot merge reports of different spec versions: "
                f"{first_source} is spec {first['spec_version']}, "
                f"{source} is spec {document['spec_version']}"
            )
    held = Counter(server for _, document in sources for server in document["servers"])
    runs: list[dict[str, Any]] = []
    clauses: dict[str, dict[str, Any]] = {}
    verdicts: dict[str, dict[str, str]] = {}
    results: list[dict[str, Any]] = []
    for source, document in sources:
        renamed = {s: f"{s}@{source}" if held[s] > 1 else s for s in document["servers"]}
        for run in document["runs"]:
            servers = {renamed.get(s, s): command for s, command in run["servers"].items()}
            # A merged report merged again keeps the first source it was read from too.
            origin = f"{run['source']} via {source}" if "source" in run else source
            runs.append(run | {"servers": servers, "source": origin})
        for clause in document["clauses"]:
            known = clauses.setdefault(clause["id"], clause | {"tests": []})
            known["tests"] = sorted({*known["tests"], *clause["tests"]})
        for server, cells in document["verdicts"].items():
            if renamed[server] in verdicts:
                raise MergeError(f"{source}: server {renamed[server]} is already in another report")
            verdicts[renamed[server]] = cells
        results += [r | {"server": renamed[r["server"]]} for r in document["results"]]
    kits = sorted({run["kit_version"] for run in runs})
    return {
        "schema": SCHEMA,
        "kit_version": ", ".join(kits),
        "spec_version": first["spec_version"],
        "runs": runs,
        "servers": sorted(verdicts),
        "clauses": list(clauses.values()),
        "verdicts": dict(sorted(verdicts.items())),
        "results": sorted(results, key=lambda r: (r["nodeid"], r["server"])),
        "totals": totals(verdicts),
    }
