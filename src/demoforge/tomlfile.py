"""TOML files people write (task files, robot files): parsed with ``tomllib``, every key's line kept.

``tomllib`` reports syntax errors with their line but forgets where each key was; a mistake found later
(a typo in a key, an unknown object in a predicate) should still point at the line to fix. ``TomlDoc``
keeps a map from each key path (``("subtasks", 1, "reference")``, list items by index) to its line, and
turns a problem at a path into an ``InputFileError`` reading ``file.toml:14 [subtasks[1].reference]: ...``.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from demoforge.errors import InputFileError

Loc = tuple[str | int, ...]

_ARRAY_TABLE = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]")
_TABLE = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")
_INLINE_KEY = re.compile(r"""[{,]\s*([A-Za-z0-9_-]+|"[^"]*")\s*=""")


def _dotted(key: str) -> tuple[str, ...]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", key)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _index_lines(text: str) -> dict[Loc, int]:
    """Line (1-based) of every table header and key, by key path; inline tables' keys on their line."""
    lines: dict[Loc, int] = {}
    table: Loc = ()
    counts: dict[Loc, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _ARRAY_TABLE.match(line):
            path = _dotted(match[1])
            counts[path] = counts.get(path, -1) + 1
            table = (*path, counts[path])
            lines.setdefault(path, number)
            lines[table] = number
        elif (match := _TABLE.match(line)) and "=" not in line.split("]", 1)[0]:
            table = _dotted(match[1])
            lines.setdefault(table, number)
        elif match := _KEY.match(line):
            key = (*table, *_dotted(match[1]))
            lines.setdefault(key, number)
            rest = line[match.end():]
            if rest.lstrip().startswith("{"):
                for inner in _INLINE_KEY.finditer(rest):
                    lines.setdefault((*key, *_dotted(inner[1])), number)
    return lines


def loc_name(loc: Loc) -> str:
    """``("subtasks", 1, "reference")`` as ``subtasks[1].reference``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class TomlDoc:
    """A parsed TOML file and the line of each key in it."""

    path: Path
    data: dict[str, Any]
    lines: dict[Loc, int] = field(repr=False)
    text: str = field(default="", repr=False)  # exactly what was parsed

    @classmethod
    def read(cls, path: Path | str, what: str) -> TomlDoc:
        """Parse ``path`` (a ``what``: "task file", "robot file"); a missing file or bad syntax is a clear error."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputFileError(path, f"no such {what}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputFileError(path, f"cannot read the {what}: {exc}") from None
        return cls.parse(text, path, what)

    @classmethod
    def parse(cls, text: str, path: Path | str, what: str) -> TomlDoc:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line = re.search(r"at line (\d+)", str(exc))
            where = f"{path}:{line[1]}" if line else str(path)
            raise InputFileError(where, f"not valid TOML ({what}): {exc}") from None
        return cls(Path(path), data, _index_lines(text), text)

    def line_of(self, loc: Loc) -> int | None:
        """Line of the key at ``loc``, or of its nearest enclosing key or table (a missing key: its table)."""
        for end in range(len(loc), 0, -1):
            if (line := self.lines.get(tuple(loc[:end]))) is not None:
                return line
        return None

    def error(self, loc: Loc, problem: str) -> InputFileError:
        """An error naming this file, the line of ``loc`` and the key path."""
        line = self.line_of(loc)
        where = f"{self.path}:{line}" if line else str(self.path)
        return InputFileError(where, problem, field=loc_name(loc) or None)

    def validation_error(self, exc: ValidationError, unwrap: Loc = ()) -> InputFileError:
        """pydantic's first complaint, at its key's line, in words a file's author reads; key paths that start with
        ``unwrap`` lose it (a model that wraps what the file holds: a flat robot file is ``arms[0]``)."""

        def located(loc: tuple) -> tuple:
            return loc[len(unwrap):] if unwrap and loc[:len(unwrap)] == unwrap else loc

        errors = [{**e, "loc": located(tuple(e["loc"]))} for e in exc.errors()]
        extra = [e for e in errors if e["type"] == "extra_forbidden"]
        first = extra[0] if extra else errors[0]  # a typo explains the "missing" key beside it
        loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden" and loc:
            missing = [e["loc"][-1] for e in errors if e["type"] == "missing" and e["loc"][:-1] == first["loc"][:-1]]
            close = difflib.get_close_matches(str(loc[-1]), [str(m) for m in missing], n=1)
            message = f"unknown key {loc[-1]!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
        elif first["type"] == "missing" and loc:
            message = f"missing key {loc[-1]!r}"
        elif (named := re.match(r"([a-z_]+): (.*)", message)) and (*loc, named[1]) in self.lines:
            loc, message = (*loc, named[1]), named[2]  # a check across keys that names the key at fault
        return self.error(loc, message)
