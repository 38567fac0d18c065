"""HTML building blocks: the page frame, escaping, tables and the small SVG charts.

Every value that can come from an event, a tenant or a query passes through `esc` (or `attrs`),
so a `<script>` in an event's detail is shown as text. CSS and the few lines of script are
inline: the console works with no internet access and needs no build step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any
from urllib.parse import urlencode

CSS = """
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,sans-serif;color:#1b1f24;
background:#f6f7f9}header{background:#1f2937;color:#fff;padding:.5rem 1rem;display:flex;
flex-wrap:wrap;gap:.25rem 1rem;align-items:center}header a{color:#e5e7eb;text-decoration:none}
header a.on{color:#fff;font-weight:600;border-bottom:2px solid #60a5fa}header .brand{
font-weight:700;margin-right:1rem}main{padding:1rem;max-width:1400px;margin:auto}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;background:#fff}
th,td{padding:.35rem .5rem;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600;white-space:nowrap}td.num{text-align:right;
font-variant-numeric:tabular-nums}form.filter{display:flex;flex-wrap:wrap;gap:.5rem;
margin:.5rem 0 1rem}input,select,button{font:inherit;padding:.3rem .5rem}button{cursor:pointer}
button.danger{background:#b91c1c;color:#fff;border:0;border-radius:3px}
pre{background:#fff;border:1px solid #e5e7eb;padding:.5rem;overflow:auto;white-space:pre-wrap;
word-break:break-word}.state{padding:0 .4rem;border-radius:3px;background:#e5e7eb}
.state.ACTIVE,.state.published{background:#d1fae5}.state.PENDING,.state.pending{
background:#fef3c7}.state.DELETED,.state.dead_lettered,.state.missing{background:#fee2e2}
.note{background:#eef2ff;border-left:3px solid #6366f1;padding:.5rem;margin:.5rem 0}
.error{background:#fee2e2;border-left:3px solid #b91c1c;padding:.5rem;margin:.5rem 0}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:1rem}
.chart{background:#fff;border:1px solid #e5e7eb;padding:.5rem}.chart svg{width:100%;height:80px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}
dd{margin:0;word-break:break-word}@media (max-width:600px){main{padding:.5rem}
table,tbody,tr,td{display:block}thead{display:none}tr{border-bottom:2px solid #d1d5db;
padding:.25rem 0}td{border:0;padding:.1rem .5rem}td.num{text-align:left}
td::before{content:attr(data-label);font-weight:600;display:inline-block;min-width:8.5rem}}
"""

NAV = (
    ("/ui", "Overview"),
    ("/ui/tenants", "Tenants"),
    ("/ui/dead-letters", "Dead letters"),
    ("/ui/events", "Event lookup"),
)


def esc(value: Any) -> str:
    """Text for an HTML body or attribute; None shows as a dash."""
    return "-" if value is None else escape(str(value), quote=True)


def link(path: str, query: dict[str, str]) -> str:
    kept = {key: value for key, value in query.items() if value}
    return esc(f"{path}?{urlencode(kept)}" if kept else path)


def page(title: str, current: str, body: str, signed_in: bool = False) -> str:
    items = "".join(
        f'<a href="{path}"{" class=on" if path == current else ""}>{label}</a>'
        for path, label in NAV
    )
    sign_out = (
        '<form method="post" action="/ui/logout" style="margin-left:auto">'
        '<button type="submit">Sign out</button></form>'
        if signed_in
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)} · partner-publisher</title><style>{CSS}</style></head><body>"
        f'<header><span class="brand">partner-publisher</span>{items}{sign_out}</header>'
        f"<main><h1>{esc(title)}</h1>{body}</main></body></html>"
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """Cells are HTML already (escape them first); columns in `numeric` align right."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td{" class=num" if i in numeric else ""} data-label="{esc(headers[i])}">{cell}</td>'
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def state_badge(state: str | None) -> str:
    return f'<span class="state {esc(state)}">{esc(state)}</span>'


def fields(pairs: Iterable[tuple[str, str]]) -> str:
    """A definition list; values are HTML already."""
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def chart(title: str, points: Sequence[tuple[float, float]], window_s: float) -> str:
    """A line over the window (right edge: now), scaled to its own peak."""
    peak = max((rate for _, rate in points), default=0.0)
    top = peak or 1.0
    coords = " ".join(
        f"{300 * (1 - ago / window_s):.1f},{78 - 74 * rate / top:.1f}" for ago, rate in points
    )
    latest = points[-1][1] if points else 0.0
    return (
        f'<div class="chart"><div><b>{esc(title)}</b>: now {latest:,.1f}, peak {peak:,.1f}</div>'
        '<svg viewBox="0 0 300 80" preserveAspectRatio="none" role="img" '
        f'aria-label="{esc(title)}"><polyline fill="none" stroke="#2563eb" stroke-width="1.5" '
        f'points="{coords}"/></svg><div style="font-size:12px;color:#6b7280">last 15 min</div>'
        "</div>"
    )
