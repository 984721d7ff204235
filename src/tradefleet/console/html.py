"""The page frame and the small formatting rules every page shares. Every value put into a
page goes through ``esc``; money is integer won; times are Asia/Seoul."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from html import escape
from urllib.parse import urlencode

NAV = (("/", "Fleet"), ("/orders", "Orders"), ("/day", "Day"), ("/events", "Events"))


def esc(value: object) -> str:
    return "" if value is None else escape(str(value), quote=True)


def won(value: int | Decimal | None) -> str:
    """Integer won with thousands separators (a Decimal price is rounded to the won)."""
    if value is None:
        return ""
    return f"{int(round(value)):,}"


def pnl(value: int | None) -> str:
    if value is None:
        return ""
    cls = "pos" if value > 0 else "neg" if value < 0 else ""
    return f'<span class="{cls}">{won(value)}</span>'


def hms(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%H:%M:%S")


def query(**params: str | None) -> str:
    kept = {k: v for k, v in params.items() if v}
    return "?" + urlencode(kept) if kept else ""


def table(head: Sequence[str], rows: Iterable[Sequence[str]], *, row_classes:
          Sequence[str] | None = None, table_id: str = "") -> str:
    """Cells are HTML already (escaped by the caller)."""
    rows = list(rows)
    classes = row_classes or [""] * len(rows)
    body = "".join(
        f'<tr class="{c}">' + "".join(f"<td>{cell}</td>" for cell in r) + "</tr>"
        for r, c in zip(rows, classes, strict=True))
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    empty = "" if rows else f'<tr><td colspan="{len(head)}" class="empty">none</td></tr>'
    ident = f' id="{esc(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{th}</tr></thead><tbody>{body}{empty}</tbody></table>"


def select(name: str, options: Sequence[str], chosen: str | None, label: str) -> str:
    opts = [f'<option value="">all {esc(label)}</option>'] + [
        f'<option value="{esc(o)}"{" selected" if o == chosen else ""}>{esc(o)}</option>'
        for o in options]
    return f'<select name="{esc(name)}">{"".join(opts)}</select>'


def frame(title: str, path: str, content: str, *, day: str, signed_in: str | None,
          csrf: str | None) -> str:
    """The whole page: navigation, who is signed in, the live region and the script."""
    nav = "".join(f'<a href="{href}"{" class=here" if href == path else ""}>{name}</a>'
                  for href, name in NAV)
    who = (f'signed in as <b>{esc(signed_in)}</b> <form method="post" action="/logout" '
           f'class="inline"><input type="hidden" name="csrf" value="{esc(csrf)}">'
           f'<button>sign out</button></form>' if signed_in
           else '<a href="/login">sign in to act</a> (read-only)')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · tradefleet</title>
<link rel="stylesheet" href="/static/console.css">
<script src="/static/console.js" defer></script>
</head><body data-csrf="{esc(csrf or '')}">
<header><b>tradefleet</b> <nav>{nav}</nav>
<span class="day">trading day {esc(day)}</span>
<span id="live" class="live off">connecting</span>
<span class="who">{who}</span></header>
<div id="flash" role="status"></div>
<main id="content">{content}</main>
</body></html>"""
