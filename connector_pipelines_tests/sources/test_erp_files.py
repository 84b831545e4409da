"""ERP file settings, the local file source, and the streaming CSV / JSON / NDJSON parsers."""

from __future__ import annotations

import csv
import io
import json
import os
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import ValidationError

from connector_pipelines.clients.erp_files import (
    FileIdentity,
    FileInfo,
    FileSourceError,
    choose_newest,
    open_source,
)
from connector_pipelines.sandbox.file_servers import ErpFileLayout, touch, write_erp_catalog
from connector_pipelines.sources import erp_files
from connector_pipelines.sources.erp_files import (
    FileFormatError,
    Record,
    RowError,
    SourceRow,
    parse_csv,
    parse_json_array,
    parse_ndjson,
    read_records,
)
from connector_pipelines.tenants.systems import CsvOptions, ErpFilesSettings


def _settings(**values: Any) -> ErpFilesSettings:
    return ErpFilesSettings.model_validate(values)


def _local(root: Path, **values: Any) -> ErpFilesSettings:
    return _settings(kind="local", root=str(root), **values)


def _rows(records: list[Record]) -> list[SourceRow]:
    return [r for r in records if isinstance(r, SourceRow)]


def _errors(records: list[Record]) -> list[RowError]:
    return [r for r in records if isinstance(r, RowError)]


def _csv(text: str | bytes, encoding: str = "utf-8-sig", **options: Any) -> list[Record]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return list(parse_csv(io.BytesIO(data), "products.csv", CsvOptions(**options), encoding))


# --- settings -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("path", "/etc/passwd", "relative to the root"),
        ("path", "C:/exports/a.csv", "relative to the root"),
        ("path", "../secrets.csv", "'..'"),
        ("path", "exports/../../secrets.csv", "'..'"),
        ("path", "exports\\a.csv", "'/'"),
        ("path", "exports/a\n.csv", "control characters"),
        ("path", "exports/*.csv", "use pattern"),
        ("pattern", "/exports/*.csv", "relative to the root"),
        ("pattern", "../*.csv", "'..'"),
        ("pattern", "*/products.csv", "file name only"),
        ("pattern", "exports/", "below the root"),
    ],
)
def test_paths_may_not_escape_the_root(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _settings(kind="ftp", host="erp.example.com", **{field: value})


def test_paths_are_normalized_below_the_root() -> None:
    settings = _settings(
        kind="sftp", host="erp.example.com", sftp_host_key="SHA256:" + "A" * 43, path="./a//b.csv"
    )
    assert settings.path == "a/b.csv"
    assert settings.effective_port == 22
    assert _settings(kind="ftps", host="erp.example.com", pattern="x/p_*.csv").effective_port == 21
    implicit = _settings(kind="ftps", ftps_mode="implicit", host="erp.example.com", path="a.csv")
    assert implicit.effective_port == 990, "implicit FTPS listens on 990 by default"
    assert (
        _settings(kind="ftps", ftps_mode="implicit", host="h.example", path="a.csv", port=2990).port == 2990
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"kind": "ftp", "host": "h.example"}, "exactly one of path and pattern"),
        ({"kind": "ftp", "host": "h.example", "path": "a.csv", "pattern": "*.csv"}, "exactly one"),
        ({"kind": "ftp", "path": "a.csv"}, "needs a host"),
        ({"kind": "ftp", "host": "ftp://h.example", "path": "a.csv"}, "host name or IP"),
        ({"kind": "local", "root": "relative/dir", "path": "a.csv"}, "absolute directory"),
        ({"kind": "local", "root": "/data/../etc", "path": "a.csv"}, "'..'"),
        ({"kind": "local", "root": "/data", "host": "h", "path": "a.csv"}, "no host or port"),
        ({"kind": "sftp", "host": "h.example", "path": "a.csv"}, "sftp_host_key"),
        (
            {"kind": "sftp", "host": "h.example", "path": "a.csv", "sftp_accept_unknown_host_key": True},
            "loopback only",
        ),
        (
            {"kind": "sftp", "host": "h.example", "path": "a.csv", "sftp_host_key": "SHA256:short"},
            "43 base64",
        ),
        ({"kind": "ftp", "host": "h.example", "path": "a.csv", "tls": {"ca_bundle": "/ca.pem"}}, "ftps only"),
        ({"kind": "ftp", "host": "h.example", "path": "a.csv", "ftps_mode": "implicit"}, "ftps only"),
        (
            {"kind": "ftps", "host": "h.example", "path": "a.csv", "ftps_mode": "auth"},
            "'explicit' or 'implicit'",
        ),
        (
            {"kind": "ftp", "host": "h.example", "path": "a.csv", "sftp_host_key": "SHA256:" + "A" * 43},
            "sftp only",
        ),
        ({"kind": "ftp", "host": "h.example", "path": "a.csv", "encoding": "klingon"}, "unknown encoding"),
        ({"kind": "ftp", "host": "h.example", "path": "a.csv", "csv": {"delimiter": '"'}}, "must differ"),
        ({"kind": "ftp", "host": "h.example", "path": "a.json", "json_records_path": "a..b"}, "dotted keys"),
    ],
)
def test_invalid_settings_are_rejected(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _settings(**values)


def test_sandbox_may_accept_unknown_host_keys_on_loopback_only() -> None:
    settings = _settings(kind="sftp", host="127.0.0.1", path="a.csv", sftp_accept_unknown_host_key=True)
    assert settings.sftp_host_key is None


# --- the local source ---------------------------------------------------------------------------------------


def test_local_source_picks_the_newest_match_and_its_identity_changes(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "products_2.csv").write_text("sku\nA\n")
    (exports / "products_1.csv").write_text("sku\nB\n")
    (exports / "other.csv").write_text("sku\nC\n")
    touch(exports / "products_2.csv", datetime(2026, 1, 1, tzinfo=UTC))
    touch(exports / "products_1.csv", datetime(2026, 1, 2, tzinfo=UTC))
    with open_source(_local(tmp_path, pattern="exports/products_*.csv")) as source:
        assert sorted(f.path for f in source.list_files()) == [
            "exports/products_1.csv",
            "exports/products_2.csv",
        ]
        newest = source.newest()
        assert newest.path == "exports/products_1.csv"
        assert newest.mtime == datetime(2026, 1, 2, tzinfo=UTC)
        before = source.identity()
        assert before.sha256 is None  # size and mtime suffice
        assert [r.data for r in _rows(list(read_records(source)))] == [{"sku": "B"}]

        (exports / "products_1.csv").write_text("sku\nB2\n")
        touch(exports / "products_1.csv", datetime(2026, 1, 3, tzinfo=UTC))
        after = source.identity()
        assert after != before
        assert FileIdentity.model_validate_json(after.model_dump_json()) == after

    by_name = _local(tmp_path, pattern="exports/products_*.csv", newest_by="name")
    with open_source(by_name) as source:
        assert source.newest().path == "exports/products_2.csv"


def test_choose_newest_falls_back_to_names_without_mtimes() -> None:
    files = [FileInfo("a_2.csv", 1, None), FileInfo("a_10.csv", 1, datetime(2026, 1, 1, tzinfo=UTC))]
    assert choose_newest(files) == files[0]
    assert choose_newest([]) is None


def test_local_source_reports_missing_files_and_symlink_escapes(tmp_path: Path) -> None:
    with open_source(_local(tmp_path, path="missing.csv")) as source, pytest.raises(FileSourceError) as exc:
        source.newest()
    assert "no file matches 'missing.csv' under local://" in str(exc.value)

    outside = tmp_path.parent / f"{tmp_path.name}-outside.csv"
    outside.write_text("secret\n")
    (tmp_path / "link.csv").symlink_to(outside)
    with (
        open_source(_local(tmp_path, path="link.csv")) as source,
        pytest.raises(FileSourceError, match="outside"),
    ):
        source.list_files()


# --- CSV ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8"])
@pytest.mark.parametrize("bom", [True, False])
def test_csv_with_and_without_bom(encoding: str, bom: bool) -> None:
    data = ("\ufeff" if bom else "") + "sku,title\nA-1,Grüner Tee\n"
    records = _csv(data, encoding)
    assert records == [SourceRow("products.csv", 2, {"sku": "A-1", "title": "Grüner Tee"})]


def test_csv_semicolons_quotes_and_physical_line_numbers() -> None:
    data = 'sku;description;price\nA;"two\nlines; and ""quotes""";1,50\n\nB;plain;2\r\nC;"x\r\ny";3\n'
    records = _csv(data, delimiter=";")
    assert [(r.line, r.data["sku"]) for r in _rows(records)] == [(2, "A"), (5, "B"), (6, "C")]
    assert _rows(records)[0].data["description"] == 'two\nlines; and "quotes"'


def test_csv_in_latin_1() -> None:
    data = "sku|title\nA|Bergmann & Söhne\n".encode("latin-1")
    assert _rows(_csv(data, "latin-1", delimiter="|"))[0].data["title"] == "Bergmann & Söhne"


def test_malformed_csv_rows_are_isolated_with_file_line_and_column() -> None:
    data = b'sku,title,price\nA,ok,1\nB,short\nC,"bad"quote,3\nD,\xff\xfe,4\nE,too,many,fields\nF,fine,6\n'
    records = _csv(data)
    assert [r.data["sku"] for r in _rows(records)] == ["A", "F"]
    errors = {e.line: e for e in _errors(records)}
    assert set(errors) == {3, 4, 5, 6}
    assert (errors[3].column, errors[3].reason) == ("price", "2 fields where the header has 3")
    assert errors[4].reason.startswith("malformed CSV")
    assert (errors[5].column, errors[5].reason) == ("title", "bytes that are not valid utf-8-sig")
    assert errors[6].column == "#4"
    assert str(errors[3]) == "products.csv:3: price: 2 fields where the header has 3"


@pytest.mark.parametrize("escapechar", [None, "\\"])
def test_a_field_past_csv_limit_is_one_error_and_reading_goes_on(escapechar: str | None) -> None:
    # csv gives up inside A's quoted field; the lines up to its closing quote are A's, not rows of their own,
    # and a quote written as text (doubled, or escaped) inside it does not close it.
    quote = '\\"' if escapechar else '""'
    lines = csv.field_size_limit() // 6 + 1  # 7 characters a line, once read
    huge = f"y,{quote}B,z\n" * lines
    records = _csv(f'sku,title\nA,"{huge}"\nC,ok\n', escapechar=escapechar)
    assert [(r.line, r.data["sku"]) for r in _rows(records)] == [(lines + 3, "C")]
    [error] = _errors(records)
    assert (error.line, "field larger than field limit" in error.reason) == (2, True)


def test_a_malformed_record_costs_its_line_only_whatever_quotes_follow_the_error() -> None:
    # csv stops at the stray x and drops the rest of line 2, quote included: line 3 starts a record.
    records = _csv('sku,title,desc\n1,"a"x,"c\n2,ok,x\n3,ok,y\n')
    assert [(r.line, r.data["sku"]) for r in _rows(records)] == [(3, "2"), (4, "3")]
    assert [e.line for e in _errors(records)] == [2]


def test_csv_header_problems_fail_the_file() -> None:
    assert _csv(b"") == []
    with pytest.raises(FileFormatError, match="duplicate column"):
        _csv("sku,sku\n1,2\n")
    with pytest.raises(FileFormatError, match="empty column name"):
        _csv("sku,,title\n1,2,3\n")


# --- JSON and NDJSON ----------------------------------------------------------------------------------------


def _json(data: str | bytes, path: str = "") -> list[Record]:
    raw = data.encode() if isinstance(data, str) else data
    return list(parse_json_array(io.BytesIO(raw), "products.json", path))


DOCUMENT = """{"exported": {"at": "2026-01-01", "skip": [1, {"a": "]}"}]},
 "data": {"count": 4, "products": [
  {"sku": "A", "price": 19.99, "tags": ["x", "y"]},
  {"sku": "B", "nested": {"q": "a \\"quoted\\" ]"}},
  {"sku": "C", "bad": tru},
  [1, 2],
  {"sku": "D", "big": 123456789012345678901234567890}
 ]}}"""


def test_json_array_at_a_records_path_with_malformed_records_isolated() -> None:
    records = _json(DOCUMENT, "data.products")
    assert [(r.line, r.data["sku"]) for r in _rows(records)] == [(3, "A"), (4, "B"), (7, "D")]
    assert _rows(records)[0].data == {"sku": "A", "price": 19.99, "tags": ["x", "y"]}
    errors = _errors(records)
    assert [(e.line, e.reason) for e in errors] == [
        (5, "invalid JSON at line 5: Expecting value"),
        (6, "a record must be a JSON object, not an array"),
    ]


def test_json_parsing_does_not_depend_on_chunk_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _json(DOCUMENT, "data.products")
    for size in (1, 2, 3, 7, 64):
        monkeypatch.setattr(erp_files, "CHUNK_BYTES", size)
        assert _json(DOCUMENT, "data.products") == expected


def test_json_array_documents() -> None:
    assert _json("[]") == []
    assert _json('\ufeff[{"a": 1}]'.encode()) == [SourceRow("products.json", 1, {"a": 1})]
    long_text = "x" * 300_000  # spans several chunks
    assert _rows(_json(json.dumps([{"d": long_text}, {"d": 1}])))[0].data == {"d": long_text}


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        ('{"a": 1}', "", "expected a JSON array"),
        ('{"a": []}', "b", "records path 'b' not found"),
        ('[{"a": 1}, {"b": 2', "", "ends inside a record"),
        ('[{"a": 1} {"b": 2}]', "", "expected ',' or ']'"),
        ('[{"a": 1}', "", "expected ',' or ']' after a record, found the end of the file"),
    ],
)
def test_broken_json_documents_fail_the_file(document: str, path: str, message: str) -> None:
    with pytest.raises(FileFormatError, match=message):
        _json(document, path)


def test_ndjson_in_utf16_ends_lines_at_line_feeds_only() -> None:
    data = '{"sku": "1",\r"n": 2}\r\n{"sku": "2"}\n'.encode("utf-16")
    records = list(parse_ndjson(io.BytesIO(data), "products.ndjson", "utf-16"))
    assert [(r.line, r.data) for r in _rows(records)] == [(1, {"sku": "1", "n": 2}), (2, {"sku": "2"})]


def test_ndjson_lines_with_bad_lines_isolated() -> None:
    data = b'\xef\xbb\xbf{"sku": "A"}\n\n{"sku": \n[1]\n{"sku": "B", "n": 1.5}\n'
    records = list(parse_ndjson(io.BytesIO(data), "products.ndjson"))
    assert _rows(records) == [
        SourceRow("products.ndjson", 1, {"sku": "A"}),
        SourceRow("products.ndjson", 5, {"sku": "B", "n": 1.5}),
    ]
    assert [(e.line, e.reason.split(":")[0]) for e in _errors(records)] == [
        (3, "invalid JSON"),
        (4, "a record must be a JSON object, not an array"),
    ]


def test_ndjson_in_another_encoding() -> None:
    data = '{"title": "Söhne"}\n'.encode("latin-1")
    assert _rows(list(parse_ndjson(io.BytesIO(data), "p.ndjson", "latin-1")))[0].data == {"title": "Söhne"}


# --- streaming ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "megabytes"), [("csv", 50), ("json", 15)])
def test_reading_a_large_file_keeps_memory_small(
    tmp_path: Path, fmt: Literal["csv", "json"], megabytes: int
) -> None:
    layout = ErpFileLayout(format=fmt)
    summary = write_erp_catalog(
        tmp_path / f"big.{fmt}", products=450, variants=10, layout=layout, description_words=28 * megabytes
    )
    assert summary.bytes > megabytes * 950_000
    settings = _local(tmp_path, path=f"big.{fmt}", **layout.format_settings())
    tracemalloc.start()
    try:
        with open_source(settings) as source:
            count = sum(1 for record in read_records(source) if isinstance(record, SourceRow))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 4500
    assert peak < 2_000_000, f"peak {peak} bytes while reading {summary.bytes} bytes"
    os.remove(summary.path)
