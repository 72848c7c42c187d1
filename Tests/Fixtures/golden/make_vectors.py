#!/usr/bin/env python3
"""Golden vectors for the PJR1 and PJR2 canonical encodings, written from docs/record-format.md alone.

Independent of the Swift code on purpose: if CanonicalEncoding drifts from the document, the
pinned values in Tests/PingjiaCoreTests/CanonicalEncodingTests.swift stop matching.
Run: python3 Tests/Fixtures/golden/make_vectors.py
"""
import hashlib
import struct


def u64(n):
    return struct.pack(">Q", n)


def text(s):
    b = s.encode("utf-8")
    return struct.pack(">I", len(b)) + b


def opt_text(s):
    return b"\x00" if s is None else b"\x01" + text(s)


def lst(items):
    return struct.pack(">I", len(items)) + b"".join(text(s) for s in items)


def encode(r, seq, device_id, prev_hash):
    """PJR1 for a rating; PJR2 (PJR1's fields, then kind and refersTo) for any other kind."""
    v1 = r.get("kind", "rating") == "rating" and r.get("refersTo") is None
    return ((b"PJR1" if v1 else b"PJR2") + u64(seq) + text(r["id"]) + text(device_id)
            + opt_text(r["staffId"]) + opt_text(r["windowId"])
            + opt_text(r["matterCode"]) + opt_text(r["caseNo"])
            + text(r["channel"]) + text(r["scale"])
            + bytes([r["level"]]) + bytes([r["code"]])
            + lst(r["reasons"]) + opt_text(r["comment"]) + text(r["ratedAt"])
            + u64(r["monotonicNs"])
            + lst(sorted(set(r["flags"]), key=lambda f: f.encode("utf-8")))
            + (b"" if v1 else text(r["kind"]) + opt_text(r.get("refersTo")))
            + prev_hash)


DEVICE = "pj-0123456789ab"

# The worked example of docs/record-format.md.
first = dict(id="0b6c8a52-93e4-4d8e-9a4f-5b2f0c7d1e3a", staffId="A1023", windowId="3",
             matterCode="11000000000000000X4440111700001", caseNo=None, channel="keypad",
             scale="five", level=4, code=4, reasons=["slow", "attitude"], comment="等了很久",
             ratedAt="2026-11-24T10:44:00.123+08:00", monotonicNs=123456789012, flags=["test"])

# Chained to the first; exercises what the first does not: caseNo present, comment and staffId
# absent, no reasons, an empty matterCode (present, not absent), flags given unsorted.
second = dict(id="5d7f3c2e-1a4b-4c6d-8e9f-0a1b2c3d4e5f", staffId=None, windowId="12",
              matterCode="", caseNo="BJ-2026-1124-0017", channel="touch",
              scale="three", level=1, code=2, reasons=[], comment=None,
              ratedAt="2026-11-24T10:45:30.007+08:00", monotonicNs=123546789012,
              flags=["unarmed", "repeat"])

# PJR2, chained to the second: 未评价 at window 3 (a session that timed out), no level, code 0.
third = dict(kind="unrated", refersTo=None, id="9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", staffId="A1023",
             windowId="3", matterCode="11000000000000000X4440111700001", caseNo="BJ-2026-1124-0018",
             channel="keypad", scale="five", level=0, code=0, reasons=[], comment=None,
             ratedAt="2026-11-24T10:46:10.500+08:00", monotonicNs=123586789012, flags=[])

# PJR2, chained to the third: the reasons follow-up of the first record (a 不满意 by touch).
fourth = dict(kind="reasons", refersTo="0b6c8a52-93e4-4d8e-9a4f-5b2f0c7d1e3a",
              id="c3d2e1f0-a9b8-4c7d-9e6f-5a4b3c2d1e0f", staffId="A1023", windowId="3",
              matterCode="11000000000000000X4440111700001", caseNo=None, channel="touch",
              scale="five", level=4, code=4, reasons=["slow", "other"], comment="窗口少",
              ratedAt="2026-11-24T10:44:20.250+08:00", monotonicNs=123476789012, flags=[])

e1 = encode(first, 1, DEVICE, bytes(32))
h1 = hashlib.sha256(e1).digest()
e2 = encode(second, 2, DEVICE, h1)
h2 = hashlib.sha256(e2).digest()

e3 = encode(third, 3, DEVICE, h2)
h3 = hashlib.sha256(e3).digest()
e4 = encode(fourth, 4, DEVICE, h3)
h4 = hashlib.sha256(e4).digest()

print("first  length", len(e1))
print("first  hex   ", e1.hex())
print("first  hash  ", h1.hex())
print("second length", len(e2))
print("second hex   ", e2.hex())
print("second hash  ", h2.hex())
print("third  length", len(e3))
print("third  hex   ", e3.hex())
print("third  hash  ", h3.hex())
print("fourth length", len(e4))
print("fourth hex   ", e4.hex())
print("fourth hash  ", h4.hex())
