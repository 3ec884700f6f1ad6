"""Concurrent dashboard sessions against a real ``lungdx serve``: readiness, memory per kernel, culling.

Builds a demo database in a temp folder, adds one clinician account per session and starts the
real server with kernel culling configured (``LUNGDX_KERNEL_CULL_SECONDS``). Debian's Chromium
(Playwright, never a downloaded browser) then logs in:

1. one session alone (the baseline): time until the dashboard answers a patient search;
2. ``--sessions`` sessions at once: the same time per session, and every one must work;
3. memory: RSS and USS (psutil) of every kernel process the server started, once they settle;
4. culling: all pages are closed and the time until the server has culled every kernel is measured.

Prints the figures; the last line is JSON. Ratios compare the concurrent run to the baseline.
Usage: ``python benchmarks/bench_sessions.py [--sessions 10] [--cull-seconds 60]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

PASSWORD = "bench-password"
#: A session that is not working after this long counts as failed.
READY_TIMEOUT_MS = 300_000
MB = 2**20


def isolate(root: Path) -> None:
    """Database, images and demo copies in ``root``: the benchmark never touches the repository's data/."""
    for name, sub in (("LUNGDX_DB", "bench.db"), ("LUNGDX_IMAGE_STORE", "images"), ("LUNGDX_DEMO_DIR", "demo")):
        os.environ[name] = str(root / sub)


def build_database(root: Path, sessions: int) -> Path:
    from lungdx_widgets.config import get_settings
    from lungdx_widgets.store import open_store
    from lungdx_widgets.store.demo import create_demo_database

    get_settings.cache_clear()
    db = root / "bench.db"
    create_demo_database(db, analyze=False)
    with open_store(db) as store:
        for i in range(sessions + 1):
            store.add_user(f"bench-clinician-{i:02d}", PASSWORD, "clinician", actor="bench")
    return db


def server_pid(base_url: str) -> int:
    port = int(base_url.rsplit(":", 1)[1])
    return next(c.pid for c in psutil.net_connections("tcp")
                if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN)


def kernels(server: psutil.Process) -> list[psutil.Process]:
    """The server's kernel processes (ipykernel), found through the process tree."""
    out = []
    for child in server.children(recursive=True):
        try:
            if "ipykernel" in " ".join(child.cmdline()):
                out.append(child)
        except psutil.NoSuchProcess:
            continue
    return out


def kernel_memory(server: psutil.Process, exclude: frozenset[int] = frozenset()) -> list[tuple[float, float]]:
    """(RSS MB, USS MB) per kernel: USS is what a kernel costs on its own, RSS includes shared pages."""
    sizes = []
    for kernel in kernels(server):
        if kernel.pid in exclude:
            continue
        try:
            info = kernel.memory_full_info()
            sizes.append((info.rss / MB, info.uss / MB))
        except psutil.NoSuchProcess:
            continue
    return sizes


def settle(server: psutil.Process, exclude: frozenset[int] = frozenset(), quiet_s: float = 8.0,
           limit_s: float = 180.0) -> list[tuple[float, float]]:
    """Kernel memory once it stops growing (the model loads in the background after the page shows)."""
    deadline = time.monotonic() + limit_s
    last, stable_since = -1.0, time.monotonic()
    while time.monotonic() < deadline:
        sizes = kernel_memory(server, exclude)
        total = sum(r for r, _ in sizes)
        if abs(total - last) > 5:
            last, stable_since = total, time.monotonic()
        elif time.monotonic() - stable_since >= quiet_s:
            return sizes
        time.sleep(1)
    return kernel_memory(server, exclude)


def open_session(browser, base: str, username: str):
    """Submit the login form; returns (context, page, started) at once, so sessions start concurrently."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(READY_TIMEOUT_MS)
    started = time.monotonic()
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit", no_wait_after=True)
    return context, page, started


def wait_until_working(page, started: float) -> float | None:
    """Seconds from login until a patient search typed into the dashboard shows results (kernel round trip);
    None when the session never got there."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        page.wait_for_selector(".lx-search-input input")
        page.fill(".lx-search-input input", "DEMO")
        page.wait_for_selector(".lx-search-row")
    except PlaywrightError:
        return None
    return time.monotonic() - started


def still_working(page) -> bool:
    """After all sessions joined: does this one still answer a new search?"""
    from playwright.sync_api import Error as PlaywrightError

    try:
        page.fill(".lx-search-input input", "DEMO-00", timeout=60_000)
        page.wait_for_selector(".lx-search-row:has-text('DEMO-00')", timeout=60_000)
    except PlaywrightError:
        return False
    return True


def wait_for_culling(server: psutil.Process, limit_s: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if not kernels(server):
            return time.monotonic() - started
        time.sleep(2)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--cull-seconds", type=int, default=240,
                        help="idle culling timeout for this run (the product default is 1800 s); shorter than the "
                             "slowest session's start-up culls kernels whose page has not connected yet")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="lungdx-bench-sessions-"))
    isolate(root)
    t0 = time.monotonic()
    db = build_database(root, args.sessions)
    print(f"demo database with {args.sessions + 1} clinician accounts in {time.monotonic() - t0:.1f} s")

    from playwright.sync_api import sync_playwright

    from tests.support import CHROMIUM, CHROMIUM_ARGS, running_server

    env = {"LUNGDX_KERNEL_CULL_SECONDS": str(args.cull_seconds), "OMP_NUM_THREADS": "1"}
    with running_server(db, env=env, log=root / "server.log") as base, sync_playwright() as pw:
        server = psutil.Process(server_pid(base))
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)

        context, page, started = open_session(browser, base, "bench-clinician-00")
        single_ready = wait_until_working(page, started)
        if single_ready is None:
            raise SystemExit(f"the single session never worked; see {root / 'server.log'}")
        single_memory = settle(server)
        context.close()
        print(f"baseline, 1 session: working after {single_ready:.1f} s; kernel RSS "
              f"{single_memory[0][0]:.0f} MB, USS {single_memory[0][1]:.0f} MB" if single_memory else
              f"baseline, 1 session: working after {single_ready:.1f} s; no kernel found")
        baseline_kernels = frozenset(k.pid for k in kernels(server))  # left to the culler, not counted below

        t1 = time.monotonic()
        opened = [open_session(browser, base, f"bench-clinician-{i + 1:02d}") for i in range(args.sessions)]
        outcomes = [wait_until_working(page, started) for _, page, started in opened]
        all_ready = time.monotonic() - t1
        ready = [t for t in outcomes if t is not None] or [float("inf")]  # none ready: reported as null
        memory = settle(server, baseline_kernels)
        server_rss = server.memory_info().rss / MB
        working = sum(still_working(page) for _, page, _ in opened)  # each still answers with all joined
        for context, _, _ in opened:
            context.close()
        culled_after = wait_for_culling(server, args.cull_seconds + 90)
        browser.close()
    shutil.rmtree(root, ignore_errors=True)

    rss = [r for r, _ in memory]
    uss = [u for _, u in memory]
    result = {
        "sessions": args.sessions,
        "sessions_ready": sum(t is not None for t in outcomes),
        "sessions_working": working,
        "kernels_measured": len(memory),
        "cull_seconds": args.cull_seconds,
        "baseline_ready_s": round(single_ready, 1),
        "ready_s_p50": round(statistics.median(ready), 1),
        "ready_s_max": round(max(ready), 1),
        "all_ready_s": round(all_ready, 1),
        "ready_p50_ratio_vs_baseline": round(statistics.median(ready) / single_ready, 2),
        "baseline_kernel_rss_mb": round(single_memory[0][0]) if single_memory else None,
        "kernel_rss_mb_mean": round(statistics.mean(rss)) if rss else None,
        "kernel_rss_mb_max": round(max(rss)) if rss else None,
        "kernel_uss_mb_mean": round(statistics.mean(uss)) if uss else None,
        "kernels_rss_mb_total": round(sum(rss)),
        "kernels_uss_mb_total": round(sum(uss)),
        "server_rss_mb": round(server_rss),
        "culled_after_close_s": round(culled_after, 1) if culled_after is not None else None,
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(f"{args.sessions} concurrent sessions: {result['sessions_ready']} working after {all_ready:.1f} s "
          f"(per session p50 {result['ready_s_p50']} s, max {result['ready_s_max']} s; "
          f"{result['ready_p50_ratio_vs_baseline']}x the single session)")
    print(f"memory per kernel: RSS mean {result['kernel_rss_mb_mean']} MB (max {result['kernel_rss_mb_max']} MB), "
          f"USS mean {result['kernel_uss_mb_mean']} MB; {len(memory)} kernels total RSS "
          f"{result['kernels_rss_mb_total']} MB, USS {result['kernels_uss_mb_total']} MB; server {result['server_rss_mb']} MB")
    print(f"culling ({args.cull_seconds} s idle): every kernel gone {result['culled_after_close_s']} s after the pages closed")
    print(json.dumps({k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in result.items()}))
    return 0 if working == args.sessions and len(memory) >= args.sessions else 1


if __name__ == "__main__":
    sys.exit(main())
