"""The static pickle machine against CPython's own (C) unpickler.

``pickle.loads`` is used here only on pickles this file builds from plain data or by hand
without any GLOBAL/REDUCE opcode, so nothing it runs can come from outside the test.
"""

from __future__ import annotations

import dataclasses
import pickle
import struct
import time

import pytest

from modellens.core.errors import CorruptFileError, LimitExceededError
from modellens.core.io import LIMITS
from modellens.core.pickle_vm import Blob, Call, Ext, Global, PersistentId, walk, walk_stream

PLAIN = [
    0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, -(2**31), 2**63, -(2**63) - 1, 10**400, -(10**400),
    True, False, None, 0.0, -1.5, 1e300, float("inf"), float("-inf"),
    "", "ascii", "héllo €\U0001F600", "line\nbreak\\slash'quote\"", "\x00\ud7ff",
    b"", b"\x00", b"\xff" * 300, bytes(range(256)), bytearray(b"ab"), bytearray(),
    (), (1,), (1, 2), (1, 2, 3), tuple(range(10)), [], [1, [2, [3, []]]],
    {}, {"a": 1, 2: "b", (1, 2): [3]}, {1, 2, "x"}, set(), frozenset({1, (2, 3)}), frozenset(),
    {"nested": {"list": [1.5, {"deep": (None, True)}], "bytes": b"x" * 1000}},
    list(range(3000)), {str(i): i for i in range(2000)},
]


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_plain_values_match_the_real_unpickler(protocol):
    for value in PLAIN:
        data = pickle.dumps(value, protocol=protocol)
        result = walk(data, name="t")
        assert result.value == pickle.loads(data), (protocol, value)
        assert type(result.value) is type(pickle.loads(data)) or isinstance(result.value, Blob)
        assert result.end == len(data)
        assert result.ok


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_shared_and_recursive_values_keep_identity(protocol):
    shared = [1, 2]
    loop: list = []
    loop.append(loop)
    value = {"a": shared, "b": shared, "loop": loop}
    v = walk(pickle.dumps(value, protocol=protocol), name="t").value
    assert v["a"] is v["b"] and v["a"] == [1, 2]
    assert v["loop"][0] is v["loop"]


# Hand-made streams where the C unpickler's parsing differs from pickletools' or is subtle.
HAND_MADE = [
    b"I0x10\n.", b"I010\n.", b"I01\n.", b"I00\n.", b"I 1\n.", b"I+0\n.", b"I-7\n.",
    b"I99999999999999999999999\n.", b"I1_000\n.", b"I0o17\n.", b"I1\x00junk\n.",
    b"L123L\n.", b"L-0x1fL\n.", b"L5\n.", b"F1.5\n.", b"F-inf\n.", b"Fnan\n.", b"F1e5\n.",
    b"S'a\\x41\\n'\n.", b'S"q\'"\n.', b"S'oct\\101'\n.", b"Vabc\\u20ac\\U0001F600\n.",
    b"(I1\nI2\nl.", b"(I1\nI2\nt.", b"(S'k'\nI1\nd.", b"(lp7\nI5\nag7\n0g7\n.",
    b"\x80\x04]\x94(K\x01\x94K\x02h\x01e.",  # MEMOIZE numbering, BINGET of each
    b"K\x01p1\nK\x02\x94h\x01.",  # MEMOIZE after PUT 1 overwrites index 1
    b"K\x01(K\x021.", b"(K\x011K\x02.", b"K\x012\x86.", b"}K\x01K\x02s.",
    b"\x80\x05\x95\x04\x00\x00\x00\x00\x00\x00\x00K\x07\x85.",
    b"\x80\x02\x8a\x02\xff\x7f.", b"\x80\x02\x8b\x00\x00\x00\x00.", b"\x80\x04\x8f(K\x01\x90.",
    b"C\x03abc\x98.", b"\x80\x05\x96\x02\x00\x00\x00\x00\x00\x00\x00hi.",
]


@pytest.mark.parametrize("data", HAND_MADE, ids=lambda d: repr(d)[:40])
def test_hand_made_streams_match_the_real_unpickler(data):
    expected = pickle.loads(data)
    got = walk(data, name="t").value
    if isinstance(expected, float) and expected != expected:
        assert got != got
    else:
        assert got == expected and type(got) is type(expected)


MALFORMED = [
    b"", b".", b"K", b"K\x01", b"\x80\x06K\x01.", b"(.", b"0.", b"h\x00.", b"j\x05\x00\x00\x00.",
    b"S'abc\n.", b"Sabc\n.", b"I1x\n.", b"Inan\n.", b"F1.5x\n.", b"F1e999\n.", b"I", b"I1",
    b"K\x01K\x02K\x03d.", b"(K\x01K\x02K\x03d.", b"t.", b"\x85.", b"(K\x01\x86.", b"e.",
    b"]K\x01(K\x02a.", b"\x8e\xff\xff\xff\xff\xff\xff\xff\x7f", b"B\xff\xff\xff\xffab",
    b"X\x05\x00\x00\x00ab", b"X\x02\x00\x00\x00\xff\xfe.", b"\x8b\xff\xff\xff\xff.", b"\xff.",
    b"K\x01\x80", b"\x95\xff\x00\x00\x00\x00\x00\x00\x00K\x01.", b"K\x01p-1\n.", b"g1\n.",
    b"}]K\x01s.", b"K\x01b.",
]


@pytest.mark.parametrize("data", MALFORMED, ids=lambda d: repr(d)[:40])
def test_malformed_streams_fail_like_the_real_unpickler(data):
    with pytest.raises(Exception):
        pickle.loads(data)
    with pytest.raises(CorruptFileError) as e:
        walk(data, name="bad.pkl")
    assert e.value.offset is not None and 0 <= e.value.offset <= len(data)
    r = walk(data, name="bad.pkl", strict=False)
    assert not r.ok and r.error.offset == e.value.offset


def test_globals_calls_and_offsets_are_recorded_without_importing():
    # os.system('echo') via GLOBAL + REDUCE: must never run, only be described.
    data = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03."
    r = walk(data, name="evil.pkl")
    assert isinstance(r.value, Call) and r.value.callable == Global("os", "system")
    assert r.value.args == ("echo",) and r.value.kind == "reduce"
    (g,) = r.globals
    assert (g.offset, g.opcode, g.target.qualname) == (2, "GLOBAL", "os.system")
    (c,) = r.calls
    assert c.opcode == "REDUCE" and c.target == Global("os", "system")
    assert c.offset == data.index(b"R")
    assert r.global_names() == ["os.system"]


def test_protocol_2_names_are_mapped_like_find_class():
    r = walk(b"c__builtin__\neval\n.", name="t")
    assert r.value == Global("builtins", "eval")
    assert "fix_imports" in r.globals[0].detail
    # protocol 3+ takes names literally
    r = walk(b"\x80\x03c__builtin__\neval\n.", name="t")
    assert r.value == Global("__builtin__", "eval")


def test_stack_global_with_computed_operands_is_obfuscated():
    # STACK_GLOBAL whose module name comes from a call result (getattr-style trick)
    data = (b"\x80\x04\x8c\x08builtins\x8c\x03str\x93)R\x8c\x04eval\x93.")
    r = walk(data, name="t")
    g = r.value
    assert isinstance(g, Global) and g.obfuscated
    assert [e.target.obfuscated for e in r.globals] == [False, True]
    assert r.global_names() == ["<computed>.<computed>", "builtins.str"]


def test_other_symbolic_values():
    r = walk(b"\x80\x02\x82\x05.", name="t")
    assert isinstance(r.value, Ext) and r.value.code == 5 and r.events[0].kind == "ext"
    r = walk(b"Pkey\n.", name="t")
    assert isinstance(r.value, PersistentId) and r.value.value == "key"
    r = walk(b"\x80\x02X\x01\x00\x00\x00aQ.", name="t")
    assert r.value.value == "a" and r.events[0].kind == "persid"
    r = walk(b"\x80\x02cm\nC\n)\x81}X\x01\x00\x00\x00xK\x01sb.", name="t")
    assert r.value.kind == "newobj" and r.value.state == {"x": 1}
    r = walk(b"(cm\nC\nK\x01o.", name="t")
    assert r.value.kind == "obj" and r.value.args == (1,)
    r = walk(b"(K\x01im\nC\n.", name="t")
    assert r.value.kind == "inst" and r.value.args == (1,) and r.value.func == Global("m", "C")
    # OrderedDict-style: SETITEMS on a call result is recorded on the Call
    r = walk(b"\x80\x02ccollections\nOrderedDict\n)R(K\x01K\x02u.", name="t")
    assert r.value.dictitems == [(1, 2)]


def test_blobs_locate_long_bytes_without_copying():
    payload = bytes(range(256)) * 4
    data = pickle.dumps({"w": payload}, protocol=4)
    r = walk(data, name="t")
    b = r.value["w"]
    assert isinstance(b, Blob) and b == payload
    assert data[b.offset : b.offset + b.length] == payload


def test_trailing_data_and_streams():
    one, two = pickle.dumps([1], protocol=2), pickle.dumps({"a": 2}, protocol=4)
    r = walk(one + two + b"junk", name="t")
    assert r.value == [1] and r.end == len(one)
    rs = walk_stream(one + two + b"\xff", name="t")
    assert [x.value for x in rs[:2]] == [[1], {"a": 2}]
    assert not rs[2].ok and rs[2].start == len(one) + len(two)


def test_frame_irregularities_are_anomalies():
    # A FRAME inside a FRAME: _pickle.c only checks the bytes exist, pickle.py rejects it
    inner = b"\x95" + struct.pack("<Q", 3) + b"K\x01."
    data = b"\x80\x04\x95" + struct.pack("<Q", len(inner)) + inner
    assert pickle.loads(data) == 1
    r = walk(data, name="t")
    assert r.value == 1
    assert [e.detail for e in r.anomalies] == ["FRAME inside a frame (pickle.py rejects)"]


def _limited(**kw):
    return dataclasses.replace(LIMITS, **kw)


@pytest.mark.parametrize("data", [
    b"(" * 1_000_000 + b".",
    b"]" * 1_000_000 + b"a" * 999_999 + b".",
    b"\x80\x04" + b"]\x94" * 500_000 + b".",
], ids=["marks", "nested-lists", "many-lists"])
def test_hostile_nesting_is_bounded(data):
    t = time.perf_counter()
    with pytest.raises(CorruptFileError):
        walk(data, name="deep.pkl", limits=_limited(max_pickle_stack=100_000))
    assert time.perf_counter() - t < 10


def test_limits():
    with pytest.raises(LimitExceededError):
        walk(b"\x80\x04" + b"K\x01\x94" * 20 + b".", name="t", limits=_limited(max_pickle_memo=10))
    with pytest.raises(LimitExceededError):
        walk(b"K\x01" * 5000 + b".", name="t", limits=_limited(max_pickle_ops=2048))
    with pytest.raises(LimitExceededError):
        walk(b"\x8e" + struct.pack("<Q", 2**40) + b"x", name="t")
    with pytest.raises(LimitExceededError):
        walk(b"X" + struct.pack("<I", 100) + b"a" * 100 + b".", name="t",
             limits=_limited(max_string_bytes=10))
    with pytest.raises(LimitExceededError):
        walk(b"]" + b"K\x01a" * 100 + b".", name="t", limits=_limited(max_pickle_bytes=50))


def test_huge_claimed_lengths_fail_before_allocating():
    for data in (b"\x8e" + struct.pack("<Q", 2**27) + b"abc", b"B" + struct.pack("<I", 2**27) + b"a",
                 b"\x96" + struct.pack("<Q", 2**26) + b"a"):
        with pytest.raises(CorruptFileError, match="truncated"):
            walk(data, name="t")
