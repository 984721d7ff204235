"""Docker's .dockerignore rules, for asking "is this path in the build context?" in a test.

Patterns are matched in order and the last one that matches decides (``!`` re-includes);
``*`` and ``?`` stay inside one path segment, ``**`` spans any number of them, and a pattern
that matches a directory decides for everything under it (Docker checks each parent too,
for ``!`` patterns as well)."""

from __future__ import annotations

import re
from pathlib import Path


def _regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out.append(pattern[i:end + 1])
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def read_patterns(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """(negated, regex) per pattern line; comments and blank lines dropped."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        body = line[1:].strip() if negated else line
        body = body.lstrip("/").rstrip("/")
        while body.startswith("./"):
            body = body[2:]
        rules.append((negated, _regex(body)))
    return rules


def _matches(rule: re.Pattern[str], path: str) -> bool:
    parts = path.split("/")
    return any(rule.match("/".join(parts[:n])) for n in range(1, len(parts) + 1))


def excluded(rules: list[tuple[bool, re.Pattern[str]]], path: str) -> bool:
    """True when ``path`` (relative, ``/``-separated) is left out of the build context."""
    verdict = False
    for negated, rule in rules:
        if _matches(rule, path):
            verdict = not negated
    return verdict


def read_rules(path: Path) -> list[tuple[bool, re.Pattern[str]]]:
    return read_patterns(path.read_text(encoding="utf-8"))
