"""One self-contained HTML page: inline CSS, figures as inline SVG, no script, no network.

A page is a list of :class:`Section` objects, each a heading, paragraphs,
key-value and column tables and figures, rendered in order. Text is escaped
everywhere; a figure is written by matplotlib's SVG backend into the page, so
the file opens offline in any browser and its figures stay sharp when zoomed.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Section", "figure_svg", "format_value", "page", "table_html"]

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;
color:#1b1b1b;background:#fafafa;line-height:1.45}
main{max-width:1040px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:1.6em;margin:0.2em 0 0.1em}h2{font-size:1.2em;margin-top:2em;
border-bottom:1px solid #ddd;padding-bottom:4px}p.meta{color:#555;margin:0.2em 0}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:0.9em;background:#f2f2f2;
padding:1px 4px;border-radius:3px}pre{padding:8px;overflow-x:auto;white-space:pre-wrap}
table{border-collapse:collapse;margin:0.6em 0 1em;font-size:0.9em}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f2f4f7}
td.t,th.t{text-align:left}figure{margin:0.8em 0 1.4em}figure svg{max-width:100%;height:auto}
figcaption{color:#555;font-size:0.88em}details{margin:0.4em 0}summary{cursor:pointer;color:#0b5394}
.note{color:#555;font-size:0.9em}
"""


@dataclass
class Section:
    """A heading and its content, drawn in the order added."""

    title: str
    parts: list[str] = field(default_factory=list)

    def text(self, words: str) -> Section:
        """A paragraph (escaped)."""
        self.parts.append(f"<p>{html.escape(words)}</p>")
        return self

    def note(self, words: str) -> Section:
        """A small grey paragraph (escaped)."""
        self.parts.append(f'<p class="note">{html.escape(words)}</p>')
        return self

    def pre(self, words: str) -> Section:
        """Preformatted text (escaped)."""
        self.parts.append(f"<pre>{html.escape(words)}</pre>")
        return self

    def pairs(self, rows: Mapping[str, Any]) -> Section:
        """A two-column table of names and values."""
        body = "".join(
            f'<tr><th class="t">{html.escape(str(k))}</th><td class="t">'
            f"{html.escape(format_value(v))}</td></tr>"
            for k, v in rows.items()
        )
        self.parts.append(f"<table>{body}</table>")
        return self

    def table(self, columns: Mapping[str, Sequence[Any]], *, folded: str | None = None) -> Section:
        """A table of equal-length columns; ``folded`` puts it under a closed summary line."""
        block = table_html(columns)
        if folded is not None:
            block = f"<details><summary>{html.escape(folded)}</summary>{block}</details>"
        self.parts.append(block)
        return self

    def figure(self, fig: Any, caption: str) -> Section:
        """A matplotlib figure as inline SVG, with its caption."""
        self.parts.append(
            f"<figure>{figure_svg(fig)}<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
        return self


def format_value(value: Any) -> str:
    """A cell's text: floats to 4 significant digits (6 for large), lists joined."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "—"
        return f"{v:.6g}" if abs(v) >= 1e4 else f"{v:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    return "—" if value is None else str(value)


def table_html(columns: Mapping[str, Sequence[Any]]) -> str:
    """An HTML table of equal-length columns (text columns left-aligned)."""
    names = list(columns)
    data = [list(columns[c]) for c in names]
    n = len(data[0]) if data else 0
    text = [not all(isinstance(v, (int, float, np.number)) for v in col) for col in data]
    head = "".join(
        f'<th class="{"t" if t else ""}">{html.escape(str(c))}</th>'
        for c, t in zip(names, text, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"t" if t else ""}">{html.escape(format_value(col[i]))}</td>'
            for col, t in zip(data, text, strict=True)
        )
        + "</tr>"
        for i in range(n)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def figure_svg(fig: Any) -> str:
    """The figure as an inline ``<svg>`` element (the XML header dropped)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def page(title: str, meta: Sequence[str], sections: Sequence[Section]) -> str:
    """The whole document."""
    lines = "".join(f'<p class="meta">{html.escape(m)}</p>' for m in meta)
    body = "".join(
        f"<section><h2>{html.escape(s.title)}</h2>{''.join(s.parts)}</section>" for s in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{lines}{body}</main></body></html>\n"
    )
