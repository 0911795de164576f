"""Streaming readers for ``matcalc check --batch``: RFC 4180 CSV, JSON Lines, or one JSON array.

Each reader yields one item per row, ``(line, row)``: ``row`` is a dict of the row's cells, or a
dict with only ``_error`` when that row cannot be read.  Nothing is held beyond the row being
read (plus a bounded look-ahead for a quoted cell spanning lines), so memory does not grow with
the file, and one bad row never costs another:

* CSV: a quoted cell may span lines.  A quote left open (end of file, or more than
  ``MAX_RECORD_LINES`` lines / ``MAX_RECORD_BYTES`` bytes, or a closing quote followed by
  anything but a comma or the end of the line) makes the row that opened it an error row, and
  reading resumes at the very next line.  Bytes that are not UTF-8 reject only their row.
* JSON Lines: one object a line; a line that is not an object, or not UTF-8, is an error row.
* JSON array: ``[{...}, {...}]`` read element by element; a malformed element is an error row
  and reading resumes at the next line that starts with ``{``.
"""
from __future__ import annotations

import json
import sys
from collections import deque
from collections.abc import Iterator
from typing import BinaryIO

from matcalc.core.errors import MatcalcError

MAX_RECORD_LINES = 200          # a quoted cell may span lines, but not more than this many
MAX_RECORD_BYTES = 1 << 20
BOM = b"\xef\xbb\xbf"
CHUNK = 1 << 16

Row = tuple[int, dict]


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{what} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})") from None


# ---------------------------------------------------------------------------- CSV
class _Lines:
    """Physical lines of a binary file (endings kept), numbered from 1, with push-back."""

    def __init__(self, fh: BinaryIO):
        self.fh, self.number, self.back = fh, 0, deque()

    def next(self) -> tuple[int, bytes] | None:
        if self.back:
            return self.back.popleft()
        line = self.fh.readline()
        if not line:
            return None
        self.number += 1
        if self.number == 1 and line.startswith(BOM):
            line = line[len(BOM):]
        return self.number, line

    def push_back(self, lines) -> None:
        self.back.extendleft(reversed(list(lines)))


def _split_record(lines: _Lines) -> tuple[int, list[bytes] | None, str | None] | None:
    """The next CSV record as raw cells: ``(first line, cells, None)``, or ``(first line, None,
    message)`` for a malformed record (its continuation lines are pushed back), or None at EOF."""
    first = lines.next()
    if first is None:
        return None
    start, line = first
    if b'"' not in line:                 # no quote: the cells between the commas, as the loop reads them
        body = line[:-1] if line.endswith(b"\n") else line
        return start, (body[:-1] if body.endswith(b"\r") else body).split(b","), None
    taken = [first]
    cells, cell, quoted, in_quotes, after_quote = [], bytearray(), False, False, False
    size = 0
    while True:
        i, n = 0, len(line)
        size += n
        while i < n:
            c = line[i:i + 1]
            if in_quotes:
                if c == b'"':
                    if line[i + 1:i + 2] == b'"':
                        cell += b'"'
                        i += 1
                    else:
                        in_quotes, after_quote = False, True
                else:
                    cell += c
            elif after_quote and c not in (b",", b"\r", b"\n"):
                lines.push_back(taken[1:])
                return start, None, (f"line {start}: a quoted cell is closed and followed by "
                                     f"{c.decode('latin-1')!r} (a quote inside a quoted cell is written \"\")")
            elif c == b",":
                cells.append(bytes(cell))
                cell, quoted, after_quote = bytearray(), False, False
            elif c == b'"' and not cell and not quoted:
                in_quotes = quoted = True
            elif c in (b"\r", b"\n"):
                if c == b"\r" and line[i + 1:i + 2] not in (b"\n", b""):
                    cell += c
                else:
                    cells.append(bytes(cell))
                    return start, cells, None
                after_quote = False
            else:
                cell += c
            i += 1
        if not in_quotes:                            # the file's last line, without an ending
            cells.append(bytes(cell))
            return start, cells, None
        nxt = lines.next() if len(taken) < MAX_RECORD_LINES and size < MAX_RECORD_BYTES else None
        if nxt is None:
            lines.push_back(taken[1:])
            return start, None, (f"line {start}: a quote opened on this line is never closed "
                                 "(reading resumes at the next line)")
        taken.append(nxt)
        line = nxt[1]


def read_csv(fh: BinaryIO, path: str) -> Iterator[Row]:
    """The header is read (and checked) at once, the rows lazily."""
    lines = _Lines(fh)
    head = _split_record(lines)
    try:
        if head is None or head[1] is None:
            raise ValueError("no header row")
        header = [_utf8(c, "the header").strip() for c in head[1]]
    except ValueError as e:
        raise MatcalcError(f"{path}: cannot read the header ({e})") from None
    if not {"expr", "wrt", "answer"} <= set(header):
        raise MatcalcError(f"{path}: a batch CSV needs the columns id, expr, wrt, answer "
                           "(optional: shapes, assume, form)")
    return _csv_rows(lines, header)


def _csv_rows(lines: _Lines, header: list[str]) -> Iterator[Row]:
    while (rec := _split_record(lines)) is not None:
        start, cells, problem = rec
        if problem:
            yield start, {"_error": problem}
            continue
        if len(cells) == 1 and not cells[0].strip():
            continue                                  # a blank line
        try:
            texts = [_utf8(c, f"line {start}") for c in cells]
        except ValueError as e:
            yield start, {"_error": str(e)}
            continue
        if len(texts) > len(header):
            yield start, {"_error": f"line {start} has {len(texts)} cells but the header has {len(header)}",
                          **dict(zip(header, texts))}
            continue
        yield start, dict(zip(header, texts))


# ---------------------------------------------------------------------------- JSON
def read_json_lines(fh: BinaryIO) -> Iterator[Row]:
    for number, line in enumerate(fh, 1):
        if number == 1 and line.startswith(BOM):
            line = line[len(BOM):]
        if not line.strip():
            continue
        try:
            row = json.loads(_utf8(line, f"line {number}"))
        except ValueError as e:
            yield number, {"_error": f"line {number} is not a JSON object: {e}"}
            continue
        yield number, row if isinstance(row, dict) else {"_error": f"line {number} is not a JSON object"}


def read_json_array(fh: BinaryIO) -> Iterator[Row]:
    """Elements of one top-level JSON array, decoded one at a time from a bounded buffer."""
    decoder = json.JSONDecoder()
    buf, line, eof, index = "", 1, False, 0

    def fill() -> bool:
        nonlocal buf, eof
        chunk = fh.read(CHUNK)
        if not chunk:
            eof = True
            return False
        buf += chunk.decode("utf-8", "surrogateescape")
        return True

    def skip(chars: str) -> None:
        nonlocal buf, line
        while True:
            stripped = buf.lstrip(chars)
            line += buf[:len(buf) - len(stripped)].count("\n")
            buf = stripped
            if buf or not fill():
                return

    fill()
    buf = buf.removeprefix("\ufeff")
    skip(" \t\r\n")
    if not buf.startswith("["):
        raise MatcalcError("a JSON batch file is an array of objects, or one object per line")
    buf = buf[1:]
    while True:
        skip(" \t\r\n,")
        if not buf or buf.startswith("]"):
            return
        index += 1
        while True:
            try:
                obj, end = decoder.raw_decode(buf)
                break
            except ValueError as e:
                if not eof and len(buf) < MAX_RECORD_BYTES and fill():
                    continue
                yield line, {"_error": f"element {index} (line {line}) is not a JSON object: {e}"}
                resume = buf.find("\n{", 1)
                while resume < 0 and fill() and len(buf) < 4 * MAX_RECORD_BYTES:
                    resume = buf.find("\n{", 1)
                if resume < 0:
                    return
                line += buf[:resume + 1].count("\n")
                buf = buf[resume + 1:]
                obj = None
                break
        if obj is None:
            continue
        start = line
        line += buf[:end].count("\n")
        buf = buf[end:]
        if not isinstance(obj, dict):
            yield start, {"_error": f"element {index} (line {start}) is not a JSON object"}
        elif any(isinstance(v, str) and _has_surrogate(v) for v in obj.values()):
            yield start, {"_error": f"element {index} (line {start}) is not UTF-8 text"}
        else:
            yield start, obj


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def open_rows(path: str) -> tuple[BinaryIO, Iterator[Row]]:
    """The open file and its rows, one at a time; the format from the extension (and a leading
    ``[``; for ``-``, standard input, from its first character: ``[`` a JSON array, ``{`` JSON
    Lines, else CSV).  A file that cannot be opened, or a CSV without the needed header, fails
    here, before any report is written."""
    try:
        fh = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as e:
        raise MatcalcError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        head = fh.peek(64)[:64]
        starts = head.lstrip(BOM).lstrip(b" \t\r\n")[:1]
        starts_array = starts == b"["
        if path.endswith((".json", ".jsonl", ".ndjson")) or (path == "-" and starts in (b"[", b"{")):
            return fh, (read_json_array(fh) if starts_array else read_json_lines(fh))
        return fh, read_csv(fh, path)
    except BaseException:
        fh.close()
        raise
