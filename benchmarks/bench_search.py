"""Patient search speed: ``Store.search_patients`` vs a raw FTS5 query, same database, same run.

Builds a synthetic database (``--patients`` rows, fictional names — a third of them Korean — MRN
``MRN-0000001``...) in a temp folder, then times a fixed mix of realistic queries (surname prefixes,
first name + surname, MRN prefixes, exact MRNs, Korean given names, Korean initial consonants). The raw
baseline is the bare FTS5 statement ``SELECT rowid FROM patients_search WHERE patients_search MATCH ?
ORDER BY rank LIMIT 20`` on the same bigram terms; the app call additionally checks each word exactly,
ranks by its own order, joins the page's patient rows and builds records. Prints p50/p95 in ms; the last line is JSON.
Target: app p95 ≤ 20 ms and ≤ 2× the raw p95.

``--db postgresql://…`` runs the same on an (empty) PostgreSQL database instead of a temp SQLite file:
the raw baseline is then the bare GIN lookup ``SELECT patient_id FROM patients_search WHERE grams @>
ARRAY[...] LIMIT 20``, and the bulk load is followed by ``Store.reindex_search`` (PostgreSQL's search
rows are written by the store, not by triggers) and ``ANALYZE``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lungdx_widgets.store import open_store
from lungdx_widgets.store.search import build_query, initials

SYLLABLES = ("an", "ber", "cal", "dor", "el", "fen", "gar", "hol", "is", "jor", "kel", "lin", "mar", "nor", "ol",
             "pel", "quin", "ros", "sel", "tor", "ul", "ven", "wil", "yar", "zel")
FIRST = ("Ada", "Bruno", "Clara", "Dorian", "Edda", "Felix", "Greta", "Hugo", "Ines", "Jasper", "Kira", "Lenz",
         "Mira", "Nils", "Oda", "Pia", "Quirin", "Rosa", "Sven", "Tilda")
KO_SURNAMES = ("김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오", "서", "신", "권", "황")
KO_SYLLABLES = ("민", "준", "서", "연", "지", "우", "하", "은", "도", "윤", "예", "현", "수", "아", "시", "진",
                "영", "호", "유", "빈", "재", "원", "태", "희", "성")
RAW_SQL = "SELECT rowid FROM patients_search WHERE patients_search MATCH ? ORDER BY rank LIMIT 20"
RAW_SQL_PG = "SELECT patient_id FROM patients_search WHERE grams @> ?::text[] LIMIT 20"


def surname(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def korean_name(rng: random.Random) -> str:
    return rng.choice(KO_SURNAMES) + rng.choice(KO_SYLLABLES) + rng.choice(KO_SYLLABLES)


def name(rng: random.Random, surnames: list[str]) -> str:
    return korean_name(rng) if rng.random() < 1 / 3 else f"{rng.choice(FIRST)} {rng.choice(surnames)}"


def build(path: Path | str, n: int, rng: random.Random) -> list[str]:
    """Bulk-load ``n`` fictional patients through the real schema (FTS triggers included); returns the surnames."""
    surnames = sorted({surname(rng) for _ in range(3000)})
    store = open_store(path)
    if store.count_patients():
        raise SystemExit(f"{path} already holds patients: give the benchmark an empty database")
    with store.transaction():
        store.conn.executemany(
            "INSERT INTO patients (patient_id, name, sex, birth_date, created) VALUES (?, ?, ?, ?, ?)",
            ((f"MRN-{i:07d}", name(rng, surnames), rng.choice("FM"),
              f"{rng.randint(1930, 2010)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", "2024-01-01")
             for i in range(1, n + 1)))
    store.reindex_search()  # PostgreSQL: the search rows of the bulk-loaded patients (SQLite's triggers did it)
    if store.db is None:
        store.conn.execute("ANALYZE")
    store.close()
    return surnames


def queries(n: int, surnames: list[str], rng: random.Random, count: int) -> list[str]:
    kinds = [
        lambda: rng.choice(surnames)[:4].lower(),                      # surname prefix while typing
        lambda: rng.choice(surnames),                                  # full surname
        lambda: f"{rng.choice(FIRST)} {rng.choice(surnames)[:3]}",     # first name + surname prefix
        lambda: f"MRN-{rng.randint(1, n):07d}"[:9],                    # MRN prefix (up to ~1000 hits)
        lambda: f"MRN-{rng.randint(1, n):07d}",                        # exact MRN
        lambda: korean_name(rng)[1:],                                  # Korean given name ("민준")
        lambda: initials(korean_name(rng)),                            # initial consonants ("ㄱㅁㅈ")
        lambda: korean_name(rng),                                      # whole Korean name
    ]
    return [kinds[i % len(kinds)]() for i in range(count)]


def percentiles(samples: list[float]) -> dict[str, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": round(q[49] * 1000, 3), "p95_ms": round(q[94] * 1000, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--db", default=None, help="an empty postgresql:// database (default: a temp SQLite file)")
    args = ap.parse_args(argv)
    rng = random.Random(42)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        target = args.db or Path(tmp) / "bench.db"
        surnames = build(target, args.patients, rng)
        build_s = time.perf_counter() - t0
        store = open_store(target)
        raw_sql, raw_param = (RAW_SQL, lambda q: q.match) if store.db is not None else \
            (RAW_SQL_PG, lambda q: list(q.grams))
        qs = queries(args.patients, surnames, rng, args.queries)
        for q in qs[:50]:  # warm the page cache for both paths
            store.search_patients(q, limit=args.limit)
        app, raw, hits = [], [], []
        for q in qs:  # interleaved, so load changes on the machine hit both paths alike
            t = time.perf_counter()
            found = store.search_patients(q, limit=args.limit)
            app.append(time.perf_counter() - t)
            t = time.perf_counter()
            store.conn.execute(raw_sql, (raw_param(build_query(q)),)).fetchall()
            raw.append(time.perf_counter() - t)
            hits.append(len(found))
        store.close()
    result = {"backend": "postgresql" if args.db else "sqlite", "patients": args.patients, "queries": len(qs), "build_s": round(build_s, 1),
              "mean_hits": round(statistics.mean(hits), 1),
              "app": percentiles(app)}
    raw_key = "raw_gin" if args.db else "raw_fts5"  # the bare index lookup of each engine
    result[raw_key] = percentiles(raw)
    result["p95_ratio"] = round(result["app"]["p95_ms"] / result[raw_key]["p95_ms"], 2)
    result["target_met"] = result["app"]["p95_ms"] <= 20 and result["p95_ratio"] <= 2
    print(f"built {args.patients} patients in {build_s:.1f}s; {len(qs)} queries, mean {result['mean_hits']} hits")
    print(f"Store.search_patients  p50 {result['app']['p50_ms']:.2f} ms  p95 {result['app']['p95_ms']:.2f} ms")
    print(f"raw index query        p50 {result[raw_key]['p50_ms']:.2f} ms  p95 {result[raw_key]['p95_ms']:.2f} ms")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
