"""The SPDY/3.1 frame codec: round trips of every frame type, split anywhere on the wire."""

from __future__ import annotations

import hashlib
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.streaming import spdy

stream_ids = st.integers(min_value=1, max_value=spdy.STREAM_MASK)
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20)
values = st.text(max_size=60)
headers = st.lists(st.tuples(names, values), max_size=6).map(tuple)
u32 = st.integers(min_value=0, max_value=2**32 - 1)

frames = st.one_of(
    st.builds(spdy.Data, stream_ids, st.binary(max_size=2000), st.booleans()),
    st.builds(
        spdy.SynStream,
        stream_ids,
        headers,
        st.integers(0, spdy.STREAM_MASK),
        st.integers(0, 7),
        st.booleans(),
        st.booleans(),
    ),
    st.builds(spdy.SynReply, stream_ids, headers, st.booleans()),
    st.builds(spdy.Headers, stream_ids, headers, st.booleans()),
    st.builds(spdy.RstStream, stream_ids, u32),
    st.builds(
        spdy.Settings,
        st.lists(st.tuples(st.integers(0, 255), st.integers(0, 0xFFFFFF), u32), max_size=4).map(
            tuple
        ),
        st.booleans(),
    ),
    st.builds(spdy.Ping, u32),
    st.builds(spdy.GoAway, st.integers(0, spdy.STREAM_MASK), u32),
    st.builds(spdy.WindowUpdate, stream_ids, st.integers(1, spdy.STREAM_MASK)),
)


@given(st.lists(frames, max_size=12), st.lists(st.integers(0, 10_000), max_size=5))
def test_frames_round_trip_however_the_bytes_are_split(
    sent: list[spdy.Frame], cuts: list[int]
) -> None:
    encoder, decoder = spdy.Encoder(), spdy.Decoder()
    wire = b"".join(encoder.encode(f) for f in sent)
    points = sorted({min(c, len(wire)) for c in cuts})
    got: list[spdy.Frame] = []
    for start, end in zip([0, *points], [*points, len(wire)], strict=True):
        got += decoder.feed(wire[start:end])
    assert got == sent


def test_the_dictionary_is_the_spdy3_one() -> None:
    """Pinned: a dictionary that differs from the peer's breaks every header block, yet
    would still round-trip against itself."""
    assert len(spdy.DICTIONARY) == 1423
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"utf-,*,enq=0.")
    digest = "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"
    assert hashlib.sha256(spdy.DICTIONARY).hexdigest() == digest


def test_a_header_block_is_zlib_with_the_dictionary() -> None:
    """Bytes on the wire as another implementation reads them: plain zlib, preset dictionary."""
    frame = spdy.Encoder().encode(spdy.SynReply(5, (("streamtype", "stdout"),)))
    kind, length = struct.unpack_from(">HI", frame, 2)
    assert struct.unpack_from(">H", frame)[0] == 0x8003 and kind == spdy.SYN_REPLY
    block = zlib.decompressobj(zdict=spdy.DICTIONARY).decompress(frame[12 : 8 + length])
    assert block == struct.pack(">II", 1, 10) + b"streamtype" + struct.pack(">I", 6) + b"stdout"


def test_header_values_are_case_insensitive_by_name() -> None:
    got = spdy.Decoder().feed(spdy.Encoder().encode(spdy.SynStream(1, (("StreamType", "x"),))))
    assert spdy.header_value(got[0].headers, "streamtype") == "x"  # type: ignore[union-attr]


def test_unknown_control_frames_are_skipped() -> None:
    unknown = struct.pack(">HHI", 0x8003, 0x00F0, 4) + b"abcd"
    ping = spdy.Encoder().encode(spdy.Ping(7))
    assert spdy.Decoder().feed(unknown + ping) == [spdy.Ping(7)]


def test_other_versions_are_refused() -> None:
    with pytest.raises(spdy.SpdyError):
        spdy.Decoder().feed(struct.pack(">HHII", 0x8002, spdy.PING, 4, 1))
