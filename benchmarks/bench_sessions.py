"""Concurrent dashboard sessions against a real ``lungdx serve``: readiness, memory, upload → findings.

Builds a demo database in a temp folder, adds one clinician account per session and starts the
real server (by default with its shared inference process: one model per server, issue 20;
``--own-model`` makes every kernel load its own, as before). Debian's Chromium (Playwright, never a
downloaded browser) then logs in:

1. one session alone (the baseline): time until the dashboard answers a patient search, then
   upload → findings for a few real films, one after another;
2. sessions are added until each count in ``--sessions`` (e.g. 10 then 20) is open; at each count:
   readiness, memory once it settles, and upload → findings when every session uploads at once;
3. memory: RSS/USS/PSS (psutil) of every kernel, of the inference process and of the server. "Per
   additional session" is the growth of the whole server tree's PSS (shared pages split fairly)
   from 1 session to N, divided by N - 1;
4. culling (``--check-culling``): all pages are closed and the time until every kernel is culled.

Latency is measured in the page (a MutationObserver stamps the moment the upload's "analysed"
message with the film's name appears), so sessions waited on later are not charged for the wait.
Prints the figures; the last line is JSON.
Usage: ``python benchmarks/bench_sessions.py [--sessions 10 20] [--own-model] [--check-culling]``
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

from tests.support import child_processes, listening_pid  # noqa: E402

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


def kernels(server: psutil.Process) -> list[psutil.Process]:
    """The server's kernel processes (ipykernel), found through the process tree."""
    return child_processes(server, "ipykernel", recursive=True)


def inference_processes(server: psutil.Process) -> list[psutil.Process]:
    return child_processes(server, "lungdx_widgets.inference.process")


def tree_memory(server: psutil.Process) -> dict[str, float]:
    """MB of the whole server tree (server, inference process, kernels): RSS, USS and PSS summed."""
    totals = {"rss": 0.0, "uss": 0.0, "pss": 0.0}
    for proc in [server, *server.children(recursive=True)]:
        try:
            info = proc.memory_full_info()
        except psutil.Error:
            continue
        for key in totals:
            totals[key] += getattr(info, key) / MB
    return totals


def process_memory(procs: list[psutil.Process]) -> dict[str, float] | None:
    for proc in procs:
        try:
            info = proc.memory_full_info()
            return {"rss": info.rss / MB, "uss": info.uss / MB, "pss": info.pss / MB}
        except psutil.Error:
            continue
    return None


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


def settle(server: psutil.Process, exclude: frozenset[int] = frozenset(), quiet_s: float = 10.0,
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


#: In the page: stamp the time the upload status names ``film`` as analysed (or as not analysed).
_WATCH_UPLOAD = """(film) => {
  window.__lxDone = null; window.__lxOk = null;
  const check = () => {
    const el = document.querySelector('.lx-upload-status');
    if (!el || !el.textContent.includes(film) || window.__lxDone !== null) return;
    const ok = el.querySelector('.lx-msg-ok'), bad = el.querySelector('.lx-msg-warn, .lx-msg-error, .lx-msg-info');
    if (ok || bad) { window.__lxDone = performance.now(); window.__lxOk = !!ok; obs.disconnect(); }
  };
  const obs = new MutationObserver(check);
  obs.observe(document.body, {subtree: true, childList: true, characterData: true});
  return performance.now();
}"""


def select_patient(page, patient_id: str) -> None:
    page.fill(".lx-search-input input", patient_id)
    page.click(f".lx-search-row:has-text('{patient_id}')")
    page.wait_for_selector(f".lx-record:has-text('{patient_id}')")


def unique_png(film: Path, name: str) -> bytes:
    """The film's pixels with a text chunk naming this upload: new bytes, so never "already on file"
    (the demo patients' studies are films from the same shared folder)."""
    import io

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("bench-upload", name)
    buf = io.BytesIO()
    with Image.open(film) as image:
        image.save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def start_upload(page, data: bytes, name: str) -> float:
    """Pick a film's ``data`` (sent as ``name``, so the status names this upload); returns the page's start time."""
    started = page.evaluate(_WATCH_UPLOAD, name)
    with page.expect_file_chooser() as chooser:
        page.click(".lx-upload-input")
    chooser.value.set_files({"name": name, "mimeType": "image/png", "buffer": data})
    return started


def upload_seconds(page, started: float, limit_ms: float = READY_TIMEOUT_MS) -> float | None:
    """Seconds from the pick until this upload's findings message; None when it failed or timed out."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        page.wait_for_function("window.__lxDone !== null", timeout=limit_ms, polling=200)
    except PlaywrightError:
        return None
    done, ok = page.evaluate("[window.__lxDone, window.__lxOk]")
    return (done - started) / 1000 if ok else None


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


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
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 20],
                        help="session counts to reach one after another (each counts the baseline session)")
    parser.add_argument("--baseline-uploads", type=int, default=5, help="films uploaded one by one by the single session")
    parser.add_argument("--own-model", action="store_true",
                        help="no shared inference process: every kernel loads its own model (the old way)")
    parser.add_argument("--check-culling", action="store_true", help="also time kernel culling after all pages close")
    parser.add_argument("--cull-seconds", type=int, default=900,
                        help="idle culling timeout for this run (the product default is 1800 s)")
    args = parser.parse_args()
    counts = sorted(set(args.sessions))

    root = Path(tempfile.mkdtemp(prefix="lungdx-bench-sessions-"))
    isolate(root)
    t0 = time.monotonic()
    db = build_database(root, max(counts))
    print(f"demo database with {max(counts) + 1} clinician accounts in {time.monotonic() - t0:.1f} s")
    from lungdx_widgets.config import get_settings

    films = sorted((get_settings().shared_data / "images").glob("*.png"))[:max(counts) * 2 + args.baseline_uploads]

    from playwright.sync_api import sync_playwright

    from tests.support import CHROMIUM, CHROMIUM_ARGS, running_server

    # Sessions opened together on 2 cores can take over a minute to connect their page: the product's
    # 45 s "never connected" cull would then close kernels the benchmark is still waiting for.
    env = {"LUNGDX_KERNEL_CULL_SECONDS": str(args.cull_seconds), "LUNGDX_KERNEL_UNCONNECTED_SECONDS": "600",
           "OMP_NUM_THREADS": "1",
           "LUNGDX_SHARED_MODEL": "0" if args.own_model else "1"}
    film_no = iter(range(len(films)))

    pick_spans: list[float] = []

    def upload_all(pages: list) -> list[float | None]:
        """Every page picks a new film, one right after the other; each one's upload → findings seconds
        (None: failed). The picks take the driver a moment each under load: ``pick_spans`` records how long."""
        names = [f"bench-{i:03d}.png" for i in (next(film_no) for _ in pages)]
        data = [unique_png(films[int(n[6:9])], n) for n in names]
        t_pick, picks = time.monotonic(), []
        for page, name, blob in zip(pages, names, data):
            picks.append(start_upload(page, blob, name))
        pick_spans.append(time.monotonic() - t_pick)
        return [upload_seconds(page, started) for page, started in zip(pages, picks)]

    stages: list[dict] = []
    with running_server(db, env=env, log=root / "server.log") as base, sync_playwright() as pw:
        server = psutil.Process(listening_pid(base))
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)

        context, page, started = open_session(browser, base, "bench-clinician-00")
        single_ready = wait_until_working(page, started)
        if single_ready is None:
            raise SystemExit(f"the single session never worked; see {root / 'server.log'}")
        select_patient(page, "DEMO-0001")
        warm = upload_all([page])[0]  # the model may still be loading: not counted
        single_upload = [upload_all([page])[0] for _ in range(args.baseline_uploads)]
        if any(t is None for t in single_upload):
            raise SystemExit(f"the single session's upload failed; see {root / 'server.log'}")
        single_memory = settle(server)
        tree_1 = tree_memory(server)
        inference_1 = process_memory(inference_processes(server))
        server_1 = server.memory_full_info().pss / MB
        print(f"baseline, 1 session: working after {single_ready:.1f} s; first upload (model warming) {warm} s; "
              "then upload → findings "
              + ", ".join(f"{t:.2f}" for t in single_upload) + " s; kernel RSS "
              + (f"{single_memory[0][0]:.0f} MB, USS {single_memory[0][1]:.0f} MB" if single_memory else "?")
              + f"; server tree PSS {tree_1['pss']:.0f} MB"
              + (f" (inference process RSS {inference_1['rss']:.0f} MB)" if inference_1 else ""))
        pages = [page]
        contexts = [context]
        for n in counts:
            t1 = time.monotonic()
            opened = [open_session(browser, base, f"bench-clinician-{i:02d}") for i in range(len(pages), n)]
            outcomes = [wait_until_working(p, s) for _, p, s in opened]
            all_ready = time.monotonic() - t1
            for (ctx, p, _), outcome in zip(opened, outcomes):
                contexts.append(ctx)
                if outcome is not None:
                    select_patient(p, f"DEMO-{len(pages) + 1:04d}")
                    pages.append(p)
            memory = settle(server)
            tree = tree_memory(server)
            inference = process_memory(inference_processes(server))
            kernel_pss = [process_memory([k]) for k in kernels(server)]
            server_pss = server.memory_full_info().pss / MB
            t2 = time.monotonic()
            latencies = upload_all(pages)
            done = [t for t in latencies if t is not None]
            stage = {
                "sessions": n, "sessions_ready": len(pages),
                "ready_s_max": round(max(t for t in outcomes if t is not None), 1) if any(outcomes) else None,
                "all_ready_s": round(all_ready, 1),
                "uploads_ok": len(done), "uploads_all_done_s": round(time.monotonic() - t2, 1),
                "picks_span_s": round(pick_spans[-1], 1),
                "upload_s_p50": round(statistics.median(done), 2) if done else None,
                "upload_s_p95": round(p95(done), 2) if done else None,
                "kernel_rss_mb_mean": round(statistics.mean(r for r, _ in memory)) if memory else None,
                "kernel_uss_mb_mean": round(statistics.mean(u for _, u in memory)) if memory else None,
                "inference_rss_mb": round(inference["rss"]) if inference else None,
                "tree_pss_mb": round(tree["pss"]), "tree_uss_mb": round(tree["uss"]),
                "kernel_pss_mb_mean": round(statistics.mean(m["pss"] for m in kernel_pss if m)) if kernel_pss else None,
                "server_pss_growth_mb_per_session": round((server_pss - server_1) / (n - 1)) if n > 1 else None,
                "per_additional_session_pss_mb": round((tree["pss"] - tree_1["pss"]) / (n - 1)) if n > 1 else None,
            }
            stage["upload_p95_ratio_vs_single"] = (round(stage["upload_s_p95"] / p95(single_upload), 2)
                                                   if done else None)
            stage["upload_p95_ratio_vs_single_p50"] = (round(stage["upload_s_p95"] / statistics.median(single_upload), 2)
                                                       if done else None)
            stages.append(stage)
            print(f"{n} sessions: {len(pages)} working ({all_ready:.0f} s to open the new ones); "
                  f"{len(done)}/{len(pages)} uploads at once → findings p50 {stage['upload_s_p50']} s, "
                  f"p95 {stage['upload_s_p95']} s ({stage['upload_p95_ratio_vs_single']}x the single session), "
                  f"all done after {stage['uploads_all_done_s']} s (the {len(pages)} picks took the driver {stage['picks_span_s']} s)")
            print(f"  memory: kernel RSS mean {stage['kernel_rss_mb_mean']} MB, USS mean {stage['kernel_uss_mb_mean']} MB, "
                  f"PSS mean {stage['kernel_pss_mb_mean']} MB; server process +{stage['server_pss_growth_mb_per_session']} MB "
                  "PSS per session; "
                  f"inference process RSS {stage['inference_rss_mb']} MB; server tree PSS {stage['tree_pss_mb']} MB "
                  f"= {stage['per_additional_session_pss_mb']} MB per additional session")
        working = sum(still_working(p) for p in pages)
        for ctx in contexts:
            ctx.close()
        culled_after = wait_for_culling(server, args.cull_seconds + 90) if args.check_culling else None
        browser.close()
    shutil.rmtree(root, ignore_errors=True)

    last = stages[-1]
    result = {
        "shared_model": not args.own_model,
        "baseline_ready_s": round(single_ready, 1),
        "warm_up_upload_s": round(warm, 2) if warm is not None else None,
        "single_upload_s": [round(t, 2) for t in single_upload],
        "single_upload_s_p95": round(p95(single_upload), 2),
        "single_upload_s_p50": round(statistics.median(single_upload), 2),
        "baseline_kernel_rss_mb": round(single_memory[0][0]) if single_memory else None,
        "baseline_kernel_uss_mb": round(single_memory[0][1]) if single_memory else None,
        "baseline_tree_pss_mb": round(tree_1["pss"]),
        "inference_rss_mb": round(inference_1["rss"]) if inference_1 else None,
        "stages": stages,
        "sessions_working_at_end": working,
        "per_additional_session_mb": last["per_additional_session_pss_mb"],
        "per_additional_session_target_mb": 150,
        "upload_p95_ratio": last["upload_p95_ratio_vs_single"],
        "upload_p95_ratio_target": 2.0,
        "culled_after_close_s": round(culled_after, 1) if culled_after is not None else None,
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(f"at {last['sessions']} sessions: {result['per_additional_session_mb']} MB per additional session "
          f"(target ≤ 150), upload p95 {result['upload_p95_ratio']}x the single session (target ≤ 2)")
    print(json.dumps(result, default=lambda v: None))
    return 0 if working == len(pages) == max(counts) and all(s["uploads_ok"] == s["sessions_ready"] for s in stages) else 1


if __name__ == "__main__":
    sys.exit(main())
