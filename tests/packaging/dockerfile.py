"""Just enough of a Dockerfile parser for the packaging tests: instructions (continuations
joined, comments dropped) grouped into build stages. hadolint does the real linting; these
helpers let a test ask what the final stage runs, copies and starts."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str          # upper case: FROM, RUN, COPY ...
    args: str             # the rest of the line, continuations joined
    line: int             # 1-based line where it starts

    def words(self) -> list[str]:
        """Exec form (a JSON list) as its items, shell form split as a shell would."""
        text = self.args.strip()
        if text.startswith("["):
            return list(json.loads(text))
        return shlex.split(text)


@dataclass
class Stage:
    base: str                            # the FROM image (or an earlier stage's name)
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def of(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_instructions(text: str) -> list[Instruction]:
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue                                  # comment inside a continuation
        if not pending:
            start = number
        continued = stripped.endswith("\\")
        pending.append(stripped[:-1].rstrip() if continued else stripped)
        if not continued:
            keyword, _, args = " ".join(p for p in pending if p).partition(" ")
            out.append(Instruction(keyword.upper(), args.strip(), start))
            pending = []
    if pending:
        raise ValueError(f"line {start}: continuation runs past the end of the file")
    return out


def parse_stages(text: str) -> list[Stage]:
    stages: list[Stage] = []
    for ins in parse_instructions(text):
        if ins.keyword == "FROM":
            words = [w for w in ins.words() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif ins.keyword == "ARG" and not stages:
            continue                                  # global ARGs before the first FROM
        elif not stages:
            raise ValueError(f"line {ins.line}: {ins.keyword} before the first FROM")
        else:
            stages[-1].instructions.append(ins)
    return stages


def copy_sources(ins: Instruction) -> tuple[list[str], str | None]:
    """(sources, --from stage or None) of a COPY/ADD; the last word is the destination."""
    words = ins.words()
    flags = [w for w in words if w.startswith("--")]
    paths = [w for w in words if not w.startswith("--")]
    origin = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
    return paths[:-1], origin


def read_stages(path: Path) -> list[Stage]:
    return parse_stages(path.read_text(encoding="utf-8"))
