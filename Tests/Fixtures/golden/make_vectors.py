#!/usr/bin/env python3
"""Golden vectors for the PJR1 canonical encoding, written from docs/record-format.md alone.

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
    return (b"PJR1" + u64(seq) + text(r["id"]) + text(device_id)
            + opt_text(r["staffId"]) + opt_text(r["windowId"])
            + opt_text(r["matterCode"]) + opt_text(r["caseNo"])
            + text(r["channel"]) + text(r["scale"])
            + bytes([r["level"]]) + bytes([r["code"]])
            + lst(r["reasons"]) + opt_text(r["comment"]) + text(r["ratedAt"])
            + u64(r["monotonicNs"])
            + lst(sorted(set(r["flags"]), key=lambda f: f.encode("utf-8")))
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

e1 = encode(first, 1, DEVICE, bytes(32))
h1 = hashlib.sha256(e1).digest()
e2 = encode(second, 2, DEVICE, h1)
h2 = hashlib.sha256(e2).digest()

print("first  length", len(e1))
print("first  hex   ", e1.hex())
print("first  hash  ", h1.hex())
print("second length", len(e2))
print("second hex   ", e2.hex())
print("second hash  ", h2.hex())
