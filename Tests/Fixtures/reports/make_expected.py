#!/usr/bin/env python3
"""Report fixture for the hub's reports, computed independently of the hub.

    python3 make_expected.py --make-csv   # writes ratings.csv (deterministic) and expected.json
    python3 make_expected.py              # recomputes expected.json from ratings.csv

ratings.csv: one row per device record (kind rating or unrated) with the outcome its 差评 case
gets (verdict valid / mistaken / malicious, or empty: not yet verified; follow_up: the 回访 result
of a valid one, or empty). The test loads it into a hub, drives the cases through the workflow,
and compares `pingjia-hub report`'s figures for each query below with expected.json.

Figures (docs/DESIGN.md): dates are local dates in Asia/Shanghai (UTC+8); flagged rows (test,
repeat, suspect-burst) do not count; bad rate = (valid + unverified) / (ratings - mistaken - malicious); unrated rate =
unrated / (ratings + unrated); follow-up rate = valid with a follow-up / valid; percentages with
two decimals, rounded half up; no percentage when the denominator is 0.
"""
import csv
import json
import random
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal, ROUND_HALF_UP
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHANGHAI = timezone(timedelta(hours=8))
COLUMNS = ["hall", "device", "staff", "window", "matter", "kind", "code", "rated_at", "flags", "verdict", "follow_up"]

QUERIES = [
    {"from": "2026-10-28", "to": "2026-11-05", "hall": None, "by": None},
    {"from": "2026-10-28", "to": "2026-11-05", "hall": None, "by": "staff"},
    {"from": "2026-10-28", "to": "2026-11-05", "hall": None, "by": "day"},
    {"from": "2026-10-28", "to": "2026-11-05", "hall": "东城大厅", "by": "window"},
    {"from": "2026-10-30", "to": "2026-11-01", "hall": "西城大厅", "by": "matter"},
    {"from": "2026-11-02", "to": "2026-11-02", "hall": None, "by": None},
]


def make_csv(path):
    rng = random.Random(20261129)
    devices = [("东城大厅", "pj-0000000000a1"), ("东城大厅", "pj-0000000000a2"), ("西城大厅", "pj-0000000000b1")]
    rows = []
    for hall, device in devices:
        start = datetime(2026, 10, 27, 8, 0, tzinfo=SHANGHAI)
        moment = start
        for _ in range(150):
            moment += timedelta(minutes=rng.randint(20, 150))
            draw = rng.random()
            kind, code = "rating", 1
            if draw < 0.50: code = 1
            elif draw < 0.72: code = 2
            elif draw < 0.80: code = 3
            elif draw < 0.87: code = 4
            elif draw < 0.93: code = 5
            else: kind, code = "unrated", 0
            # Some devices report in UTC: the local date must still be Shanghai's.
            offset = timezone.utc if rng.random() < 0.15 else SHANGHAI
            rated_at = moment.astimezone(offset).isoformat(timespec="milliseconds")
            verdict, follow_up = "", ""
            if kind == "rating" and code >= 4:
                verdict = rng.choice(["valid", "valid", "valid", "mistaken", "malicious", ""])
                if verdict == "valid":
                    follow_up = rng.choice(["satisfied", "unsatisfied", "unreachable", ""])
            draw = rng.random()
            flags = "test" if draw < 0.02 else "repeat" if draw < 0.04 else "suspect-burst" if draw < 0.05 else ""
            rows.append({"hall": hall, "device": device, "staff": f"A10{rng.randint(1, 6):02d}", "window": str(rng.randint(1, 6)),
                         "matter": f"M0{rng.randint(1, 4)}", "kind": kind, "code": code, "rated_at": rated_at, "flags": flags,
                         "verdict": verdict, "follow_up": follow_up})
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def rate(numerator, denominator):
    percent = None
    if denominator > 0:
        percent = str((Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return {"numerator": numerator, "denominator": denominator, "percent": percent}


def line(key, rows):
    ratings = [r for r in rows if r["kind"] == "rating"]
    bad = [r for r in ratings if int(r["code"]) >= 4]
    count = lambda verdict: sum(1 for r in bad if r["verdict"] == verdict)
    valid, mistaken, malicious, unverified = count("valid"), count("mistaken"), count("malicious"), count("")
    unrated = sum(1 for r in rows if r["kind"] == "unrated")
    followed = sum(1 for r in bad if r["verdict"] == "valid" and r["follow_up"])
    return {
        "key": key,
        "ratings": len(ratings),
        "good": sum(1 for r in ratings if int(r["code"]) in (1, 2)),
        "basic": sum(1 for r in ratings if int(r["code"]) == 3),
        "bad": {"valid": valid, "mistaken": mistaken, "malicious": malicious, "unverified": unverified},
        "unrated": unrated,
        "followedUp": followed,
        "badRate": rate(valid + unverified, len(ratings) - mistaken - malicious),
        "unratedRate": rate(unrated, len(ratings) + unrated),
        "followUpRate": rate(followed, valid),
    }


def local_day(text):
    return datetime.fromisoformat(text).astimezone(SHANGHAI).date().isoformat()


def report(rows, query):
    chosen = [r for r in rows
              if r["flags"] == "" and query["from"] <= local_day(r["rated_at"]) <= query["to"]
              and (query["hall"] is None or r["hall"] == query["hall"])]
    key_of = {"staff": lambda r: r["staff"], "window": lambda r: r["window"], "matter": lambda r: r["matter"],
              "day": lambda r: local_day(r["rated_at"])}
    lines = []
    if query["by"]:
        groups = {}
        for r in chosen:
            groups.setdefault(key_of[query["by"]](r), []).append(r)
        lines = [line(key, groups[key]) for key in sorted(groups)]
    return {"from": query["from"], "to": query["to"], "hall": query["hall"], "by": query["by"], "timeZone": "Asia/Shanghai",
            "lines": lines, "total": line("", chosen)}


def main():
    if "--make-csv" in sys.argv:
        make_csv(HERE / "ratings.csv")
    with open(HERE / "ratings.csv", encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    expected = [report(rows, query) for query in QUERIES]
    with open(HERE / "expected.json", "w", encoding="utf-8") as out:
        json.dump(expected, out, ensure_ascii=False, indent=1, sort_keys=True)
        out.write("\n")


if __name__ == "__main__":
    main()
