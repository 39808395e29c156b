"""report.html: a self-contained page rendered from results.json (a pure function of it).

Inline CSS, plots as base64 PNG data URIs, no JavaScript, no external resources. Every
string that comes from data (case texts, names, descriptions, headers) passes through
`html.escape`, because suite cases are extremist content and may contain markup.
What it leaves out: the layout of the content, which report.document() decides.
"""

from __future__ import annotations

import base64
from html import escape

from veguard.evaluation.report import document

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:72rem;
color:#1b1b1b;line-height:1.4;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.3rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.2rem .45rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}td{max-width:40rem;overflow-wrap:anywhere}
.alert{color:#9b1c1c;font-weight:600}img{max-width:100%;margin:.5rem 0}
"""


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def render_html(results: dict, plots: bool = True) -> str:
    """The whole page. `plots=False` skips matplotlib (faster, for tests of the markup)."""
    if plots:
        from veguard.evaluation.plots import PLOTS
    title = escape(f"veguard evaluation: {results['models']['model']['name']}")
    body = []
    for block in document(results):
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            body.append(f"<{kind}>{escape(block[1])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{escape(block[1])}</p>")
        elif kind == "alert":
            body.append(f'<p class="alert">{escape(block[1])}</p>')
        elif kind == "list":
            body.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in block[1]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{escape(h)}</th>" for h in block[1])
            rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
                           for row in block[2])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "plot" and plots:
            png = PLOTS[block[1]](results, results["suites"][block[2]])
            if png:
                body.append(_img(png, f"{block[1]} for {block[2]}"))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")
