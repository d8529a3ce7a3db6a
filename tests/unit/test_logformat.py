from hypothesis import given
from hypothesis import strategies as st

from domain.logformat import LineSplitter, Stream, format_record, parse_record, rfc3339nano


def test_record_format() -> None:
    line = format_record(1475712429669794202, Stream.STDOUT, False, b"hello")
    assert line == b"2016-10-06T00:07:09.669794202Z stdout F hello\n"


def test_rfc3339nano_trims_trailing_zeros_like_go() -> None:
    assert rfc3339nano(1_000_000_000) == "1970-01-01T00:00:01Z"
    assert rfc3339nano(1_500_000_000) == "1970-01-01T00:00:01.5Z"


def test_long_lines_split_into_partial_records() -> None:
    splitter = LineSplitter(max_record=4)
    assert splitter.feed(b"abcdefghij\nxy") == [(b"abcd", True), (b"efgh", True), (b"ij", False)]
    assert splitter.flush() == [(b"xy", True)]


def test_output_without_final_newline_is_partial() -> None:
    """containerd's CRI: `printf abcd` is the record `stdout P abcd`."""
    splitter = LineSplitter()
    assert splitter.feed(b"abcd") == []
    assert splitter.flush() == [(b"abcd", True)]
    assert splitter.flush() == []


def test_a_line_of_exactly_the_maximum_is_full() -> None:
    splitter = LineSplitter(max_record=4)
    assert splitter.feed(b"abcd") == []
    assert splitter.feed(b"\nabcde") == [(b"abcd", False), (b"abcd", True)]
    assert splitter.flush() == [(b"e", True)]


def test_no_limit_keeps_long_lines_whole() -> None:
    """max_container_log_line_size = -1: no line is split."""
    splitter = LineSplitter(max_record=-1)
    assert splitter.feed(b"x" * 100_000) == []
    assert splitter.feed(b"\n") == [(b"x" * 100_000, False)]


@given(st.lists(st.binary(max_size=50), max_size=20), st.integers(1, 16))
def test_splitting_preserves_content(chunks: list[bytes], size: int) -> None:
    """Joining records (newline after each full one) gives back the stream."""
    splitter = LineSplitter(max_record=size)
    records = [r for c in chunks for r in splitter.feed(c)]
    records += (tail := splitter.flush())
    data = b"".join(chunks)
    rebuilt = b"".join(c if p else c + b"\n" for c, p in records)
    assert rebuilt == data
    assert all(len(c) <= size for c, _ in records)
    assert all(p for _, p in tail)  # output left without a newline is partial
    assert all(b"\n" not in c for c, _ in records)


@given(st.binary(max_size=40).filter(lambda b: b"\n" not in b), st.booleans())
def test_parse_inverts_format(content: bytes, partial: bool) -> None:
    line = format_record(123, Stream.STDERR, partial, content)[:-1]
    _, stream, p, c = parse_record(line)
    assert (stream, p, c) == (Stream.STDERR, partial, content)
