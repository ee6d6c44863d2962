"""The report as one self-contained HTML page: a servers x clauses grid whose cells open.

Rules:
- Every string that reaches the page passes through ``html.escape`` (servers' bytes and logs are
  untrusted, and so is a report.json read back for a merge). The clause text is Markdown: it is
  escaped first and marked up after (``markdown``), so the only tags on the page are the ones
  this module writes.
- The page loads nothing: no script, no external style or font. A cell links to its detail
  section, which CSS shows when it is the URL's target.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from conformance.reports.report import origins, run_summary, server_origins

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
body { font-family: sans-serif; margin: 1.5em; max-width: 80em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #999; padding: 0.2em 0.5em; }
table.grid td { text-align: center; }
table.grid td.title, table.servers td { text-align: left; }
table.servers td { white-space: nowrap; }
table.servers td.wraps { white-space: normal; overflow-wrap: break-word; }
span.word { white-space: nowrap; }
table.grid td a { color: black; text-decoration: none; display: block; }
section.detail { display: none; border: 2px solid #555; padding: 0.5em 1em; margin: 1em 0; }
section.detail:target { display: block; }
div.clause { line-height: 1.4; }
code { background: #f0f0f0; padding: 0 0.2em; }
pre { background: #f6f6f6; padding: 0.5em; white-space: pre-wrap; overflow-wrap: anywhere; }
""" + "".join(
    f"td.v-{_name.replace('/', '')} {{ background: {colour}; }}\n"
    for _name, colour in COLOURS.items()
)

# The Markdown the spec's clauses use: **bold**, `code`, blank-line paragraphs, "- " lists.
CODE = re.compile(r"`([^`\n]+)`")
BOLD = re.compile(r"\*\*(.+?)\*\*")
ITEM = "- "


def markdown(text: str) -> str:
    """Clause text as HTML: paragraphs and lists of inline Markdown, escaped before marked up."""
    out = []
    for block in re.split(r"\n[ \t]*\n", text.strip()):
        lines = [line.strip() for line in block.splitlines()]
        if lines and lines[0].startswith(ITEM):
            items: list[list[str]] = []
            for line in lines:
                if line.startswith(ITEM) or not items:
                    items.append([line.removeprefix(ITEM)])
                else:  # a continuation line of the item above
                    items[-1].append(line)
            listed = "".join(f"<li>{_inline(' '.join(item))}</li>" for item in items)
            out.append(f"<ul>{listed}</ul>")
        elif lines:
            out.append(f"<p>{_inline(' '.join(lines))}</p>")
    return "\n".join(out)


def _inline(text: str) -> str:
    """**bold** and `code` in one line of text; code spans are literal (no bold inside)."""
    parts = CODE.split(escape(text))  # even indexes: prose; odd: the inside of a code span
    return "".join(
        f"<code>{part}</code>" if i % 2 else BOLD.sub(r"<strong>\1</strong>", part)
        for i, part in enumerate(parts)
    )


def _css_class(verdict: str) -> str:
    return "v-" + verdict.replace("/", "")


def _anchor(server: str, clause: str) -> str:
    return escape(f"cell-{server}-{clause}", quote=True)


def render(document: dict[str, Any]) -> str:
    servers: list[str] = document["servers"]
    verdicts: dict[str, dict[str, str]] = document["verdicts"]
    runs = origins(document)
    clauses = [c for c in document["clauses"] if any(c["id"] in verdicts[s] for s in servers)]
    title = f"Conformance report: spec {document['spec_version']}, kit {document['kit_version']}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        "<p>" + escape(", ".join(f"{v} {n}" for v, n in document["totals"].items())) + "</p>",
        '<table class="grid"><tr><th>clause</th><th>level</th><th>title</th>',
        *(f'<th title="{escape(run_summary(runs.get(s, {})))}">{escape(s)}</th>' for s in servers),
        "</tr>",
    ]
    for clause in clauses:
        named = escape(f"{clause['id']} {clause['title']}")
        out.append(
            f"<tr><th>{escape(clause['id'])}</th><td>{escape(clause['level'])}</td>"
            f'<td class="title">{escape(clause["title"])}</td>'
        )
        for server in servers:
            verdict = verdicts[server].get(clause["id"], "")
            link = f'<a href="#{_anchor(server, clause["id"])}">{escape(verdict)}</a>'
            tip = f"{named}: {escape(server)} {escape(verdict)}"
            css = escape(_css_class(verdict))
            out.append(f'<td class="{css}" title="{tip}">{link if verdict else ""}</td>')
        out.append("</tr>")
    out.append("</table>")
    out += _servers(document)
    out += _details(document, clauses)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _servers(document: dict[str, Any]) -> list[str]:
    """Where each column came from: how the server was started, and the run it was tested in."""
    headings, rows = server_origins(document)
    out = [
        "<h2>Servers</h2>",
        '<table class="servers"><tr>' + "".join(f"<th>{escape(h)}</th>" for h in headings),
        "</tr>",
    ]
    for server, started_by, host, started, kit, *paths in rows:
        # A command breaks between its words only, never at the hyphen of an option.
        words = " ".join(f'<span class="word">{escape(w)}</span>' for w in started_by.split(" "))
        out.append(
            f'<tr><th>{escape(server)}</th><td class="wraps"><code>{words}</code></td>'
            f"<td>{escape(host)}</td><td>{escape(started)}</td><td>{escape(kit)}</td>"
            + "".join(f'<td class="wraps">{escape(path)}</td>' for path in paths)
            + "</tr>"
        )
    out.append("</table>")
    problems = [p for run in document["runs"] for p in run["problems"]]
    if problems:
        out.append("<h2>Run problems</h2><ul>")
        out += [f"<li>{escape(p)}</li>" for p in problems]
        out.append("</ul>")
    return out


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
                f'<div class="clause">{markdown(clause["text"])}</div>',
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
