"""The streaming manifest reader: offsets, bad-line reasons, CRLF/BOM, background index."""

from __future__ import annotations

import pytest

from tuilabel.core.data.manifest import BadRecord, Manifest, iter_records, parse_record


def test_first_record_without_index(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"source":"a"}\n{"source":"b"}\n')
    with Manifest(path) as m:
        rec = m.record_at(0, 0)
        assert rec.data == {"source": "a"}
        assert not m.index_done  # nothing was indexed to get here
        rec2 = m.record_at(1, rec.next_offset)
        assert rec2.source == "b" and rec2.lineno == 2


def test_crlf_bom_and_no_trailing_newline(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"source-ref":"a.jpg"}\r\n{"source":"b"}')
    with Manifest(path) as m:
        m.build_index()
        assert m.line_count == 2
        first = m.record_at(0, m.offset_of(0))
        assert first.source_ref == "a.jpg"
        second = m.record_at(1, m.offset_of(1))
        assert second.source == "b" and second.next_offset == path.stat().st_size


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"{not json", "invalid JSON"),
        (b"[1,2]", "not a JSON object (a JSON array)"),
        (b'"text"', "not a JSON object (a JSON string)"),
        (b"42", "not a JSON object (a number)"),
        (b"null", "not a JSON object (a null)"),
        (b'{"source":"\xff\xfe"}', "invalid UTF-8"),
        (b'{"source":"a\x00b"}', "NUL byte"),
        (b'{"id":1}', "no 'source' or 'source-ref'"),
        (b'{"source":"a","source-ref":"b"}', "both 'source' and 'source-ref'"),
        (b'{"source":3}', "'source' is a number"),
        (b'{"source":"   "}', "'source' is empty"),
        (b'{"source":"' + b"x" * 20_001 + b'"}', "over GT's 20,000 limit"),
        (b'{"source":"a","x":"' + b"y" * 19_999 + b'","z":"' + b"y" * 19_999 + b'","q":"' + b"y" * 19_999 + b'","r":"' + b"y" * 19_999 + b'","s":"' + b"y" * 19_999 + b'"}', "over GT's 100,000 limit"),
    ],
)
def test_bad_line_reasons(raw, reason):
    with pytest.raises(BadRecord) as exc:
        parse_record(raw)
    assert reason in str(exc.value)


def test_iter_records_reports_bad_lines_and_keeps_good(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"source":"a"}\nnope\n\n{"source":"b"}\n[1]\n')
    bad = []
    with Manifest(path) as m:
        good = [r.source for r in iter_records(m, on_bad=lambda i, o, why: bad.append((i + 1, why)))]
    assert good == ["a", "b"]
    assert [line for line, _ in bad] == [2, 5]


def test_background_index_matches_lines(tmp_path):
    path = tmp_path / "m.jsonl"
    lines = [b'{"source":"%d"}' % i for i in range(50_000)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    seen = []
    with Manifest(path) as m:
        m.start_indexing(lambda n, done: seen.append((n, done)))
        assert m.wait_index(10)
        assert m.line_count == 50_000
        assert seen[-1] == (50_000, True)
        assert m.record_at(49_999, m.offset_of(49_999)).source == "49999"
        with pytest.raises(IndexError):
            m.offset_of(50_000)


def test_long_line_is_read_whole(tmp_path):
    path = tmp_path / "m.jsonl"
    big = b'{"source":"' + b"a" * 3_000_000 + b'"}'
    path.write_bytes(b'{"source":"x"}\n' + big + b'\n{"source":"y"}\n')
    with Manifest(path) as m:
        raw, nxt = m.read_line(15)
        assert raw == big
        assert m.record_at(2, nxt).source == "y"
        with pytest.raises(BadRecord, match="100,000"):
            m.record_at(1, 15)
