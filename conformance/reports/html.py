"""The report as one self-contained HTML page: a servers x clauses grid whose cells open.

Rule: every string that reaches the page passes through ``html.escape`` (servers' bytes and
logs are untrusted), and the page loads nothing: no script, no external style or font. A cell
links to its detail section, which CSS shows when it is the URL's target.
"""

from __future__ import annotations

from html import escape
from typing import Any

COLOURS = {
    "PASS": "#c8e6c9",
    "N/A": "#eeeeee",
    "XFAIL": "#fff3c4",
    "NON-STRICT": "#ffe0b2",
    "XPASS-STRICT": "#f8bbd0",
    "TIMEOUT": "#ffab91",
    "FAIL": "#ef9a9a",
    "CRASH": "#e57373",
    "ERROR": "#ce93d8",
}

STYLE = """
body { font-family: sans-serif; margin: 1.5em; }
table.grid { border-collapse: collapse; }
table.grid th, table.grid td { border: 1px solid #999; padding: 0.2em 0.5em; text-align: center; }
table.grid td a { color: black; text-decoration: none; display: block; }
section.detail { display: none; border: 2px solid #555; padding: 0.5em 1em; margin: 1em 0; }
section.detail:target { display: block; }
pre { background: #f6f6f6; padding: 0.5em; white-space: pre-wrap; overflow-wrap: anywhere; }
""" + "".join(
    f"td.v-{_name.replace('/', '')} {{ background: {colour}; }}\n"
    for _name, colour in COLOURS.items()
)


def _css_class(verdict: str) -> str:
    return "v-" + verdict.replace("/", "")


def _anchor(server: str, clause: str) -> str:
    return escape(f"cell-{server}-{clause}", quote=True)


def render(document: dict[str, Any]) -> str:
    servers: list[str] = document["servers"]
    verdicts: dict[str, dict[str, str]] = document["verdicts"]
    clauses = [c for c in document["clauses"] if any(c["id"] in verdicts[s] for s in servers)]
    title = f"Conformance report: spec {document['spec_version']}, kit {document['kit_version']}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        "<p>" + escape(", ".join(f"{v} {n}" for v, n in document["totals"].items())) + "</p>",
        '<table class="grid"><tr><th>clause</th><th>level</th>',
        *(f"<th>{escape(s)}</th>" for s in servers),
        "</tr>",
    ]
    for clause in clauses:
        out.append(f"<tr><th>{escape(clause['id'])}</th><td>{escape(clause['level'])}</td>")
        for server in servers:
            verdict = verdicts[server].get(clause["id"], "")
            link = f'<a href="#{_anchor(server, clause["id"])}">{escape(verdict)}</a>'
            out.append(f'<td class="{_css_class(verdict)}">{link if verdict else ""}</td>')
        out.append("</tr>")
    out.append("</table>")
    out += _details(document, clauses)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _details(document: dict[str, Any], clauses: list[dict[str, Any]]) -> list[str]:
    """One section per (server, clause): the clause's text, then each test's evidence."""
    by_cell: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for result in document["results"]:
        by_cell.setdefault((result["server"], result["clause"]), []).append(result)
    out = []
    for clause in clauses:
        for server in document["servers"]:
            results = by_cell.get((server, clause["id"]))
            if not results:
                continue
            out += [
                f'<section class="detail" id="{_anchor(server, clause["id"])}">',
                f"<h2>{escape(server)}: {escape(clause['id'])} ({escape(clause['level'])}) "
                f"{escape(clause['title'])}</h2>",
                f"<pre>{escape(clause['text'])}</pre>",
            ]
            for r in results:
                out.append(
                    f"<h3>{escape(r['test'])}: {escape(r['verdict'])} ({r['duration']:.2f} s)</h3>"
                )
                for label in ("reason", "evidence", "crash", "log"):
                    if r.get(label):  # "crash" is absent from reports older than it
                        out.append(f"<p>{label}</p><pre>{escape(r[label])}</pre>")
            out.append("</section>")
    return out
