"""ERP product files parsed as streams, from the tenant's file server (``clients/erp_files.py``).

The parsers turn a binary stream into :class:`SourceRow` records (CSV, JSON array, NDJSON); a malformed record
becomes a :class:`RowError` naming file, line, column and reason, and parsing goes on where the format allows
it. A file that cannot be parsed at all raises :class:`FileFormatError`, so a broken file never looks like an
empty catalog.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, TypeAlias

import orjson
from pydantic import JsonValue

from connector_pipelines import errors
from connector_pipelines.clients.erp_files import CHUNK_BYTES, FileInfo, FileSource
from connector_pipelines.tenants.systems import CsvOptions, ErpFilesSettings

MAX_RECORD_BYTES = 16 << 20  # an NDJSON line or JSON record larger than this is malformed (CSV: csv's limit)


class FileFormatError(errors.PermanentError, ValueError):
    """The file as a whole cannot be parsed (no header, not a JSON array, truncated); no record is trusted."""


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One record of a file: ``line`` is the physical line where it starts (1-based)."""

    file: str
    line: int
    data: Mapping[str, JsonValue]


@dataclass(frozen=True, slots=True)
class RowError:
    """A record that could not be read or mapped; ``column`` names the column or JSON path ('' if none).
    ``key`` is the product key the row belonged to, when known, so a run can keep that product as is."""

    file: str
    line: int
    column: str
    reason: str
    key: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.column}: {self.reason}" if self.column else f"{where}: {self.reason}"


Record: TypeAlias = SourceRow | RowError


def _encodable(text: str) -> bool:
    """False when ``text`` holds surrogate escapes: bytes the encoding could not decode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bad_text_column(header: list[str], fields: list[str]) -> str | None:
    """The first column holding bytes the encoding could not decode (kept as surrogate escapes)."""
    return next((name for name, value in zip(header, fields, strict=False) if not _encodable(value)), None)


@contextmanager
def _text(
    stream: BinaryIO, encoding: str, errors: str = "strict", newline: str | None = None
) -> Iterator[io.TextIOWrapper]:
    """A text view of ``stream`` that leaves it open afterwards (the caller owns it)."""
    text = io.TextIOWrapper(stream, encoding=encoding, errors=errors, newline=newline)
    try:
        yield text
    finally:
        text.detach()


def parse_csv(
    stream: BinaryIO, file: str, options: CsvOptions, encoding: str = "utf-8-sig"
) -> Iterator[Record]:
    """Rows of a CSV file with a header line, as {column: text}. Line numbers count physical lines, so a
    quoted field with line breaks moves the next row's number on. Undecodable bytes make a row error (a file
    in an encoding that cannot resume after them, UTF-16 say, fails as a whole)."""
    with _text(stream, encoding, "surrogateescape", newline="") as text:
        lines = _CsvLines(text, options)
        try:
            yield from _parse_csv_lines(lines, file, options, encoding)
        except UnicodeError as exc:
            raise FileFormatError(f"{file}:{lines.line_num + 1}: not readable as {encoding}: {exc}") from None


_FIELD_LIMIT_ERROR = "field larger than field limit"


class _CsvLines:
    """The lines of a CSV text as csv's reader pulls them, counted, with those of the record being read kept.
    After a malformed record csv resumes at the next line, which may still be inside that record's quoted
    field (its field-size-limit error, say): :meth:`skip_rest_of_record` moves past the record's last line."""

    def __init__(self, text: io.TextIOWrapper, options: CsvOptions) -> None:
        self._text = text
        self._options = options
        self.line_num = 0
        self.record: list[str] = []

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        line = next(self._text)
        self.line_num += 1
        self.record.append(line)
        return line

    def skip_rest_of_record(self) -> None:
        inside = _ends_in_quoted_field("".join(self.record), False, self._options)
        self.record.clear()
        while inside and (line := self._text.readline()):
            self.line_num += 1
            inside = _ends_in_quoted_field(line, True, self._options)


def _ends_in_quoted_field(text: str, inside: bool, options: CsvOptions) -> bool:
    """Whether a quoted field is still open at the end of ``text`` (``inside``: one is open at its start),
    reading quotes as csv does: a quote opens a field only at its start, doubled (or escaped) it is text."""
    quote, delimiter, escape = options.quotechar, options.delimiter, options.escapechar
    specials = re.compile("[" + re.escape(quote) + (re.escape(escape) if escape else "") + "]")
    position = 0
    while match := specials.search(text, position):
        index = match.start()
        if match.group() == escape:
            position = index + 2
            continue
        if inside:
            if escape is None and text.startswith(quote, index + 1):
                position = index + 2
                continue
            inside = False
        elif index == 0 or text[index - 1] in (delimiter, "\n"):
            inside = True
        position = index + 1
    return inside


def _parse_csv_lines(lines: _CsvLines, file: str, options: CsvOptions, encoding: str) -> Iterator[Record]:
    reader = csv.reader(
        lines,
        delimiter=options.delimiter,
        quotechar=options.quotechar,
        escapechar=options.escapechar,
        doublequote=options.escapechar is None,
        strict=True,
    )
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise FileFormatError(f"{file}:1: unreadable header: {exc}") from None
    header = [name.strip() for name in header]
    if header:
        header[0] = header[0].lstrip("\ufeff")  # a BOM read with a codec that keeps it
    if "" in header:
        raise FileFormatError(f"{file}:1: the header has an empty column name")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise FileFormatError(f"{file}:1: duplicate column(s) in the header: {', '.join(duplicates)}")
    if not _encodable("".join(header)):
        raise FileFormatError(f"{file}:1: the header is not valid {encoding}")
    width = len(header)
    last_line = lines.line_num
    lines.record.clear()
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if _FIELD_LIMIT_ERROR in str(exc):
                # The only error csv raises inside a quoted field: the rest of the record may span lines.
                # After any other, csv drops the rest of the line and the next line starts a record.
                lines.skip_rest_of_record()
            yield RowError(file, last_line + 1, "", f"malformed CSV: {exc}")
            last_line = lines.line_num
            continue
        lines.record.clear()
        line, last_line = last_line + 1, lines.line_num
        if not fields:
            continue  # blank line
        if len(fields) != width:
            column = header[len(fields)] if len(fields) < width else f"#{width + 1}"
            yield RowError(file, line, column, f"{len(fields)} fields where the header has {width}")
            continue
        joined = "".join(fields)
        if not joined.isascii() and not _encodable(joined):
            bad = _bad_text_column(header, fields)
            yield RowError(file, line, bad or "", f"bytes that are not valid {encoding}")
            continue
        yield SourceRow(file, line, dict(zip(header, fields, strict=True)))


def parse_ndjson(stream: BinaryIO, file: str, encoding: str = "utf-8-sig") -> Iterator[Record]:
    """One JSON object per line; blank lines are skipped, a bad line is a row error."""
    if b'\n{"A"}'.decode(encoding, "replace") != '\n{"A"}':
        # UTF-16 and UTF-32: a line break is not the byte 0x0A, so lines are split after decoding, and a
        # decode error fails the file (these decoders cannot resume at the next line).
        with _text(stream, encoding, newline="\n") as text:  # lines end at \n only, as on the byte path
            try:
                yield from _parse_ndjson_lines(_encoded_lines(text), file, "utf-8")
            except UnicodeError as exc:
                raise FileFormatError(f"{file}: not readable as {encoding}: {exc}") from None
        return
    yield from _parse_ndjson_lines(iter(lambda: stream.readline(MAX_RECORD_BYTES), b""), file, encoding)


def _encoded_lines(text: io.TextIOWrapper) -> Iterator[bytes]:
    while line := text.readline(MAX_RECORD_BYTES):
        yield line.encode("utf-8", "surrogatepass")


def _parse_ndjson_lines(raw_lines: Iterator[bytes], file: str, encoding: str) -> Iterator[Record]:
    utf8 = _is_utf8(encoding)
    line = 0
    while True:
        raw = next(raw_lines, b"")
        if not raw:
            return
        line += 1
        if len(raw) >= MAX_RECORD_BYTES and not raw.endswith(b"\n"):
            while (rest := next(raw_lines, b"")) and not rest.endswith(b"\n"):
                pass
            yield RowError(file, line, "", f"line longer than {MAX_RECORD_BYTES} bytes")
            continue
        if line == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        try:
            value: object = orjson.loads(raw if utf8 else raw.decode(encoding))
        except orjson.JSONDecodeError as exc:
            yield RowError(file, line, "", f"invalid JSON: {exc}")
            continue
        except UnicodeDecodeError as exc:
            yield RowError(file, line, "", f"bytes that are not valid {encoding}: {exc.reason}")
            continue
        if not isinstance(value, dict):
            yield RowError(file, line, "", f"a record must be a JSON object, not {_json_kind(value)}")
            continue
        yield SourceRow(file, line, value)


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number" if isinstance(value, int | float) else type(value).__name__


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STRUCTURAL = re.compile(r'[\[\]{},"]')
_STRING_END = re.compile(r'["\\]')


@dataclass(frozen=True, slots=True)
class _Malformed:
    reason: str


class _JsonStream:
    """A window over a text stream for incremental JSON parsing: values are decoded with the C decoder
    (``raw_decode``); only when that fails is the element's extent scanned, to tell a value cut by the
    chunk boundary (read more) from a malformed one (skip it)."""

    def __init__(self, text: io.TextIOBase, file: str) -> None:
        self.text = text
        self.file = file
        self.buf = ""
        self.pos = 0
        self.eof = False
        self._decoder = json.JSONDecoder()
        self._line = 1  # line number at self._line_pos
        self._line_pos = 0

    def fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.text.read(CHUNK_BYTES)
        if not chunk:
            self.eof = True
            return False
        # Drop what is consumed, counting its line breaks first.
        self.line_at(self.pos)
        self.buf = self.buf[self.pos :] + chunk
        self._line_pos -= self.pos
        self.pos = 0
        return True

    def line_at(self, index: int) -> int:
        """Line of ``index``; indices asked for must not decrease (counting is incremental)."""
        if index > self._line_pos:
            self._line += self.buf.count("\n", self._line_pos, index)
            self._line_pos = index
        return self._line

    def peek(self) -> str:
        """The next non-whitespace character ('' at the end)."""
        while True:
            match = _WHITESPACE.match(self.buf, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def expect(self, char: str, what: str) -> None:
        found = self.peek()
        if found != char:
            shown = repr(found) if found else "the end of the file"
            raise FileFormatError(f"{self.file}:{self.line_at(self.pos)}: expected {what}, found {shown}")
        self.pos += 1

    def _element_end(self, start: int) -> int | None:
        """Index of the ',' / ']' / '}' ending the element at ``start``; None if the buffer ends first."""
        depth = 0
        index = start
        while True:
            match = _STRUCTURAL.search(self.buf, index)
            if match is None:
                return None
            char, index = match.group(), match.end()
            if char == '"':
                while True:
                    end = _STRING_END.search(self.buf, index)
                    if end is None:
                        return None
                    index = end.end() + (1 if end.group() == "\\" else 0)
                    if end.group() == '"':
                        break
            elif char in "[{":
                depth += 1
            elif depth == 0:
                return match.start()
            elif char != ",":
                depth -= 1

    def value(self) -> JsonValue | _Malformed:
        """The next value (after ``peek``); a complete but malformed element is skipped and returned as
        :class:`_Malformed`."""
        while True:
            start = self.pos
            try:
                value, end = self._decoder.raw_decode(self.buf, start)
            except json.JSONDecodeError as exc:
                end_of_element = self._element_end(start)
                if end_of_element is None:
                    if len(self.buf) - start > MAX_RECORD_BYTES:
                        raise FileFormatError(
                            f"{self.file}:{self.line_at(start)}: record larger than {MAX_RECORD_BYTES} "
                            "characters or unbalanced brackets"
                        ) from None
                    if not self.fill():
                        raise FileFormatError(
                            f"{self.file}:{self.line_at(start)}: the file ends inside a record"
                        ) from None
                    continue
                error_line = self.line_at(exc.pos)
                self.pos = end_of_element
                return _Malformed(f"invalid JSON at line {error_line}: {exc.msg}")
            if end == len(self.buf) and self.fill():
                continue  # a number may go on in the next chunk
            self.pos = end
            result: JsonValue = value
            return result

    def descend(self, records_path: str) -> None:
        """Move into the array at ``records_path`` (dotted keys) of a JSON document."""
        for key in records_path.split(".") if records_path else ():
            self.expect("{", f"an object holding '{key}'")
            found = False
            while self.peek() != "}":
                name = self.value()
                if not isinstance(name, str):
                    raise FileFormatError(f"{self.file}:{self.line_at(self.pos)}: expected an object key")
                self.expect(":", "':'")
                if name == key:
                    found = True
                    break
                self.peek()
                if isinstance(self.value(), _Malformed):
                    raise FileFormatError(
                        f"{self.file}:{self.line_at(self.pos)}: invalid JSON before '{key}'"
                    )
                if self.peek() == ",":
                    self.pos += 1
            if not found:
                raise FileFormatError(
                    f"{self.file}: records path '{records_path}' not found (no key '{key}')"
                )
        self.expect("[", "a JSON array of records")


def parse_json_array(
    stream: BinaryIO, file: str, records_path: str = "", encoding: str = "utf-8-sig"
) -> Iterator[Record]:
    """The objects of a JSON array (the document, or the array at ``records_path``), one at a time."""
    with _text(stream, encoding) as text:
        yield from _parse_json_text(_JsonStream(text, file), records_path, encoding)


def _parse_json_text(parser: _JsonStream, records_path: str, encoding: str) -> Iterator[Record]:
    file = parser.file
    try:
        parser.descend(records_path)
        if parser.peek() == "]":
            return
        while True:
            parser.peek()
            line = parser.line_at(parser.pos)
            value = parser.value()
            if isinstance(value, _Malformed):
                yield RowError(file, line, "", value.reason)
            elif not isinstance(value, dict):
                yield RowError(file, line, "", f"a record must be a JSON object, not {_json_kind(value)}")
            else:
                yield SourceRow(file, line, value)
            following = parser.peek()
            if following == "]":
                return
            if following != ",":
                shown = repr(following) if following else "the end of the file"
                raise FileFormatError(
                    f"{file}:{parser.line_at(parser.pos)}: expected ',' or ']' after a record, found {shown}"
                )
            parser.pos += 1
    except UnicodeError as exc:  # a decode error, or a UTF-16 file without its byte order mark
        where = f"{file}:{parser.line_at(parser.pos)}"
        raise FileFormatError(f"{where}: not readable as {encoding}: {exc}") from None


def parse_records(stream: BinaryIO, file: str, settings: ErpFilesSettings) -> Iterator[Record]:
    """The records of ``stream`` in the format the settings name."""
    if settings.format == "csv":
        return parse_csv(stream, file, settings.csv, settings.encoding)
    if settings.format == "ndjson":
        return parse_ndjson(stream, file, settings.encoding)
    return parse_json_array(stream, file, settings.json_records_path, settings.encoding)


def read_records(source: FileSource, info: FileInfo | None = None) -> Generator[Record, None, None]:
    """Stream the records of ``info`` (default: the newest file); closing the iterator closes the file."""
    info = info or source.newest()
    with source.open_binary(info.path) as stream:
        yield from parse_records(stream, info.path, source.settings)
