"""Small HTML helpers for the pages idia writes (evidence.html, report.html): every value that
came from a user (names, templates, file labels) is escaped before it enters a page."""
from __future__ import annotations

import base64
import html


def escape(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def img_tag(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}" style="max-width:100%">'


def html_table(rows: list[dict], columns: list[str] | None = None, fmt: int = 3) -> str:
    if not rows:
        return "<p><em>none</em></p>"
    columns = columns or list(rows[0].keys())
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            if isinstance(v, float):
                v = f"{v:.{fmt}f}"
            elif v is None:
                v = "–"
            cells.append(f"<td>{escape(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def kv_table(pairs: list[tuple[str, object]]) -> str:
    return "<table class='kv'>" + "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in pairs) + "</table>"


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0;font-size:.85em;display:block;max-width:100%;overflow-x:auto} td,th{border:1px solid #ddd;padding:3px 7px;text-align:left}
th{background:#f5f5f5} .kv th{width:14em} .verdict{font-size:1.3em;padding:.6em 1em;border-radius:6px}
.member{background:#e8f5e9;border:1px solid #2e7d32} .nonmember{background:#fafafa;border:1px solid #999}
code,.hash{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em;word-break:break-all}
.note{color:#555;font-size:.9em}
"""


def page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{_STYLE}</style></head>"
            f"<body>{body}</body></html>\n")
