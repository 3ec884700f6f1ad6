"""The viewer in a real browser: Voila (behind login) + Debian's headless Chromium.

An analyst opens notebooks/label_review.ipynb, draws a box with the mouse, relabels it, accepts
one AI proposal and rejects the other, saves, reloads the page and finds exactly those boxes
again — in the page and in the database. Then a stale save shows the conflict message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lungdx_widgets.store import open_store

from ..support import ARTIFACTS, login, running_server
from ..widgets.viewer_support import proposals, seed_review_study

pytestmark = pytest.mark.browser

ANALYST, PASSWORD = "an_alice", "alice-reviews-42"
REVIEW_URL = "/voila/render/notebooks/label_review.ipynb"
HEATMAP_NOTEBOOK = "tests/e2e/viewer_heatmap.ipynb"
#: The box the test draws, in original image pixels (lower left lung field of the 512×512 image).
DRAWN = (70.0, 300.0, 110.0, 80.0)


@pytest.fixture(scope="module")
def review_db(tmp_path_factory: pytest.TempPathFactory, shared_data: Path, _isolated_settings) -> tuple[Path, int]:
    db = tmp_path_factory.mktemp("viewer-e2e") / "review.db"
    with open_store(db) as store:
        store.add_user(ANALYST, PASSWORD, "analyst", display_name="Alice Analyst")
        study_id = seed_review_study(store, shared_data)
    return db, study_id


@pytest.fixture(scope="module")
def server(review_db):
    db, _ = review_db
    with running_server(db, log=ARTIFACTS / "viewer-server.log") as base:
        yield base


@pytest.fixture()
def open_as_analyst(browser, server):
    """``open_as_analyst(path)`` → a page logged in as the analyst and showing ``path``."""
    contexts, errors, external, blocked = [], [], [], []

    def _open(path: str):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith((server, "data:", "blob:")) else external.append(r.url))
        # Chromium reports a fetch its Content-Security-Policy refused as failure "csp"
        page.on("requestfailed", lambda r: blocked.append(r.url) if (r.failure or "").lower() in ("csp", "net::err_blocked_by_csp") else None)
        login(page, server, ANALYST, PASSWORD, next_path=path)
        return page

    yield _open
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
    # The viewer's code and styles come with the page (offline). Voila's template still links CDNs:
    # the browser must have refused each of those fetches itself (CSP), so nothing left the machine.
    assert [u for u in external if u not in blocked] == [], "a fetch to a third party was not stopped by the CSP"


@pytest.fixture()
def page(open_as_analyst):
    return open_as_analyst(REVIEW_URL)  # lands on the label review notebook


def wait_for_viewer(page) -> None:
    page.wait_for_selector(".lx-v-root .lx-v-box-rect", timeout=90_000)
    page.wait_for_function("() => { const i = document.querySelector('.lx-v-image');"
                           " return i && i.complete && i.naturalWidth > 0; }", timeout=30_000)


def image_to_screen(page, x: float, y: float) -> tuple[float, float]:
    """Original-image pixels → page coordinates, from the transformed image element itself."""
    r = page.eval_on_selector(".lx-v-image", "e => { const r = e.getBoundingClientRect();"
                              " return [r.left, r.top, r.width / e.naturalWidth, r.height / e.naturalHeight]; }")
    return r[0] + x * r[2], r[1] + y * r[3]


def list_rows(page) -> list[tuple[str, str]]:
    """(label, chip) per row of the box list, in order."""
    rows = page.eval_on_selector_all(
        ".lx-v-box-list li[data-index]",
        "els => els.map(e => [e.querySelector('.lx-v-li-label').textContent, e.querySelector('.lx-v-chip').textContent])")
    return [tuple(r) for r in rows]


def test_draw_relabel_accept_reject_save_and_reload(page, server, review_db, shared_data):
    db, study_id = review_db
    wait_for_viewer(page)
    assert list_rows(page) == [("Tuberculosis", "proposed"), ("Tuberculosis", "proposed")]
    assert page.inner_text(".lx-v-dirty") == "No changes"

    # Draw a new box by dragging on the image.
    x, y, w, h = DRAWN
    page.mouse.move(*image_to_screen(page, x, y))
    page.mouse.down()
    page.mouse.move(*image_to_screen(page, x + w / 2, y + h / 2), steps=5)
    page.mouse.move(*image_to_screen(page, x + w, y + h), steps=5)
    page.mouse.up()
    page.wait_for_selector(".lx-v-box-list li[data-index='2'].lx-v-selected")
    assert "Unsaved changes" in page.inner_text(".lx-v-dirty")

    # Relabel it from the model's label list.
    page.select_option(".lx-v-label-select", "Mass")
    page.wait_for_selector(".lx-v-tag[data-index='2']:has-text('Mass')")

    # Accept the first AI proposal with the keyboard, reject the second with its button.
    page.click(".lx-v-box-list li[data-index='0']")
    page.keyboard.press("a")
    page.wait_for_selector(".lx-v-box-list li[data-index='0'] .lx-v-chip-accepted")
    page.click("g[data-index='1'] .lx-v-box-rect")
    page.click(".lx-v-reject")
    page.wait_for_selector(".lx-v-box-list li[data-index='1'] .lx-v-chip-rejected")
    assert list_rows(page) == [("Tuberculosis", "accepted"), ("Tuberculosis", "rejected"), ("Mass", "reader")]

    page.click(".lx-v-save")
    page.wait_for_selector(".lx-v-message.lx-v-msg-ok:has-text('version 1')", timeout=30_000)
    assert page.inner_text(".lx-v-dirty") == "All changes saved"

    # The database holds exactly these boxes, AI coordinates untouched, drawn box where it was drawn.
    ai = proposals(shared_data)
    with open_store(db) as store:
        saved = store.annotations(study_id)
    assert (saved.version, saved.author) == (1, ANALYST)
    assert [(b.label, b.source, b.status) for b in saved.boxes] == [
        ("Tuberculosis", "ai", "accepted"), ("Tuberculosis", "ai", "rejected"), ("Mass", "human", "edited")]
    for kept, proposed in zip(saved.boxes[:2], ai):
        assert (kept.x, kept.y, kept.w, kept.h, kept.score) == (proposed.x, proposed.y, proposed.w, proposed.h,
                                                                 proposed.score)
    drawn = saved.boxes[2]
    assert drawn.score is None
    assert (drawn.x, drawn.y, drawn.w, drawn.h) == pytest.approx(DRAWN, abs=1.5)  # one screen pixel ≈ 0.8 px here

    # Reload the page: the same three boxes come back from the database.
    page.reload(timeout=90_000)
    wait_for_viewer(page)
    assert list_rows(page) == [("Tuberculosis", "accepted"), ("Tuberculosis", "rejected"), ("Mass", "reader")]
    assert page.inner_text(".lx-v-dirty") == "All changes saved"
    assert "version 1" in page.inner_text(".lx-v-version")
    assert "version 1" in page.inner_text(".lx-v-review-nav")
    page.click(".lx-v-box-list li[data-index='2']")  # show the handles of the drawn box
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "viewer_label_review.png"))

    # Someone else saves in between: this reader's save is refused, explained, and the newest shown.
    with open_store(db) as store:
        store.save_annotations(study_id, list(saved.boxes[:2]), based_on_version=1, actor="dr_bob")
    page.keyboard.press("Delete")  # delete the drawn box locally
    page.click(".lx-v-save")
    alert = page.wait_for_selector(".lx-v-message.lx-v-msg-error", timeout=30_000)
    assert "Not saved" in alert.inner_text() and "dr_bob" in alert.inner_text()
    assert list_rows(page) == [("Tuberculosis", "accepted"), ("Tuberculosis", "rejected")]
    assert "version 2" in page.inner_text(".lx-v-version")
    page.screenshot(path=str(ARTIFACTS / "viewer_conflict.png"))
    with open_store(db) as store:
        assert [(s.version, s.author) for s in store.annotation_history(study_id)] == [(1, ANALYST), (2, "dr_bob")]


def heat_pixel(page, x: float, y: float) -> list[int]:
    """RGBA of the colourised heatmap at original-image pixel (x, y)."""
    return page.evaluate("""([x, y]) => { const c = document.querySelector('.lx-v-heat');
        const w = parseFloat(c.style.width), h = parseFloat(c.style.height);
        const px = c.getContext('2d').getImageData(Math.floor(x * c.width / w), Math.floor(y * c.height / h), 1, 1);
        return Array.from(px.data); }""", [x, y])


def screen_rect(page, selector: str) -> tuple[float, float, float, float]:
    r = page.eval_on_selector(selector, "e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }")
    return tuple(r)


def assert_box_on_image(page, index: int, box) -> None:
    """The drawn rectangle of box ``index`` sits exactly on its original-pixel coordinates."""
    x0, y0 = image_to_screen(page, box.x, box.y)
    x1, y1 = image_to_screen(page, box.x + box.w, box.y + box.h)
    assert screen_rect(page, f"g[data-index='{index}'] .lx-v-box-rect") == pytest.approx((x0, y0, x1, y1), abs=1.0)


def kernel_box(page, index: int, ready) -> dict:
    """Box ``index`` as the kernel holds it, once ``ready(box)`` is true (edits sync asynchronously)."""
    import json

    page.wait_for_function("""([i]) => { const t = document.querySelector('.kernel-boxes');
        return t && t.textContent && JSON.parse(t.textContent).length > i; }""", arg=[index], timeout=15_000)
    for _ in range(50):
        box = json.loads(page.inner_text(".kernel-boxes"))[index]
        if ready(box):
            return box
        page.wait_for_timeout(200)
    raise AssertionError(f"kernel never saw the expected change of box {index}: {box}")


def test_heatmap_overlay_opacity_zoom_and_pan_stay_on_the_image(open_as_analyst, shared_data):
    page = open_as_analyst("/voila/render/" + HEATMAP_NOTEBOOK)
    wait_for_viewer(page)
    page.wait_for_selector(".lx-v-heat[data-label='abnormal']")
    hot, other = proposals(shared_data)
    centre = lambda b: (b.x + b.w / 2, b.y + b.h / 2)  # noqa: E731

    # Colourised in the browser: warm and opaque where the model "looks", transparent elsewhere.
    r, g, b, a = heat_pixel(page, *centre(hot))
    assert a == 255 and r > 200 and b < 120
    assert heat_pixel(page, 5, 5)[3] == 0
    assert heat_pixel(page, *centre(other))[3] > 100
    assert screen_rect(page, ".lx-v-heat") == pytest.approx(screen_rect(page, ".lx-v-image"), abs=0.5)
    assert page.is_visible(".lx-v-colourbar")

    # Opacity changes in the same event turn (no kernel round-trip), then reaches Python.
    shown = page.evaluate("""() => { const s = document.querySelector('.lx-v-opacity');
        s.value = '0.8'; s.dispatchEvent(new Event('input', {bubbles: true}));
        return document.querySelector('.lx-v-heat').style.opacity; }""")
    assert shown == "0.8"
    page.dispatch_event(".lx-v-opacity", "change")
    page.wait_for_selector(".kernel-opacity:has-text('kernel opacity 0.80')", timeout=15_000)

    # Another finding's map replaces the overlay.
    page.select_option(".lx-v-heat-select", "Tuberculosis")
    page.wait_for_selector(".lx-v-heat[data-label='Tuberculosis']")
    assert heat_pixel(page, *centre(other))[3] < 40 and heat_pixel(page, *centre(hot))[3] == 255

    # Zoom about the cursor and pan: image, heatmap and boxes move together.
    assert_box_on_image(page, 0, hot)
    fit_zoom = page.inner_text(".lx-v-zoom-value")
    cx, cy = image_to_screen(page, *centre(hot))
    page.mouse.move(cx, cy)
    page.mouse.wheel(0, -500)
    page.wait_for_function(f"() => document.querySelector('.lx-v-zoom-value').textContent !== '{fit_zoom}'")
    assert image_to_screen(page, *centre(hot)) == pytest.approx((cx, cy), abs=1.0)  # the point stays put
    assert_box_on_image(page, 0, hot)
    assert_box_on_image(page, 1, other)
    before = screen_rect(page, ".lx-v-image")
    page.mouse.down(button="right")
    page.mouse.move(cx - 120, cy - 60, steps=4)
    page.mouse.up(button="right")
    after = screen_rect(page, ".lx-v-image")
    assert (after[0] - before[0], after[1] - before[1]) == pytest.approx((-120, -60), abs=1.0)
    assert screen_rect(page, ".lx-v-heat") == pytest.approx(after, abs=0.5)
    assert_box_on_image(page, 1, other)
    assert page.evaluate("() => document.querySelectorAll('.lx-v-box-list li[data-index]').length") == 2  # pan ≠ draw

    page.click(".lx-v-fit")
    assert page.inner_text(".lx-v-zoom-value") == fit_zoom
    page.select_option(".lx-v-heat-select", "abnormal")
    page.fill(".lx-v-opacity", "0.5")
    page.wait_for_selector(".lx-v-heat[data-label='abnormal']")
    page.locator(".lx-v-root").screenshot(path=str(ARTIFACTS / "viewer_heatmap.png"))

    # Move and resize with the mouse: Python receives whole original pixels, the proposal becomes "edited".
    page.mouse.move(*image_to_screen(page, *centre(other)))
    page.mouse.down()
    page.mouse.move(*image_to_screen(page, centre(other)[0] + 30, centre(other)[1] + 20), steps=6)
    page.mouse.up()
    moved = kernel_box(page, 1, lambda b: b["status"] == "edited")
    assert (moved["x"], moved["y"], moved["w"], moved["h"]) == pytest.approx(
        (other.x + 30, other.y + 20, other.w, other.h), abs=1.5)
    corner = image_to_screen(page, moved["x"] + moved["w"], moved["y"] + moved["h"])
    page.mouse.move(*corner)
    page.mouse.down()
    page.mouse.move(corner[0] + 25, corner[1] + 15, steps=6)
    page.mouse.up()
    scale = page.eval_on_selector(".lx-v-image", "e => e.getBoundingClientRect().width / e.naturalWidth")
    resized = kernel_box(page, 1, lambda b: b["w"] > moved["w"] + 5)
    assert (resized["x"], resized["y"]) == (moved["x"], moved["y"])
    assert (resized["w"], resized["h"]) == pytest.approx((moved["w"] + 25 / scale, moved["h"] + 15 / scale), abs=1.5)
    assert_box_on_image(page, 1, type(other)(**{k: resized[k] for k in ("label", "x", "y", "w", "h")}))

    # Keys: n selects the next box, r rejects the selected proposal.
    page.keyboard.press("Escape")
    page.keyboard.press("n")
    page.wait_for_selector(".lx-v-box-list li[data-index='0'].lx-v-selected")
    page.keyboard.press("r")
    kernel_box(page, 0, lambda b: b["status"] == "rejected")
    page.keyboard.press("Delete")  # an AI proposal is rejected, never deleted
    assert page.evaluate("() => document.querySelectorAll('.lx-v-box-list li[data-index]').length") == 2


def run_first_code_cell(page, attempts: int = 6) -> None:
    """Run the notebook's code cell until the viewer shows. JupyterLab gives no reliable sign that
    its kernel connection is up; a run sent too early is lost or answered with a kernel dialog."""
    for _ in range(attempts):
        if page.locator(".jp-Dialog .jp-mod-accept").count():
            page.click(".jp-Dialog .jp-mod-accept")
        page.click(".jp-CodeCell .cm-content >> nth=0")
        page.keyboard.press("Shift+Enter")
        try:
            page.wait_for_selector(".jp-Dialog .jp-mod-accept, .lx-v-root .lx-v-box-rect", timeout=15_000)
        except Exception:  # noqa: BLE001 - nothing yet: try again
            continue
        if page.locator(".lx-v-root .lx-v-box-rect").count():
            return
    wait_for_viewer(page)


def test_the_same_viewer_works_in_jupyterlab_and_keeps_its_keys_from_the_notebook(open_as_analyst):
    page = open_as_analyst("/lab/tree/" + HEATMAP_NOTEBOOK)
    page.wait_for_selector(".jp-Notebook .jp-CodeCell .cm-content", timeout=90_000)
    run_first_code_cell(page)
    page.wait_for_selector(".lx-v-heat[data-label='abnormal']")
    assert list_rows(page) == [("Tuberculosis", "proposed"), ("Tuberculosis", "proposed")]
    assert screen_rect(page, ".lx-v-heat") == pytest.approx(screen_rect(page, ".lx-v-image"), abs=0.5)

    # "a" accepts the selected proposal and does not reach JupyterLab ("a" = insert cell above there).
    cells = page.locator(".jp-Notebook .jp-Cell").count()
    page.click(".lx-v-box-list li[data-index='1']")
    page.keyboard.press("a")
    page.wait_for_selector(".lx-v-box-list li[data-index='1'] .lx-v-chip-accepted")
    assert page.locator(".jp-Notebook .jp-Cell").count() == cells
    assert "Unsaved changes" in page.inner_text(".lx-v-dirty")
    page.locator(".lx-v-root").screenshot(path=str(ARTIFACTS / "viewer_jupyterlab.png"))


LANGUAGE_NOTEBOOK = "tests/e2e/viewer_language.ipynb"
SHOTS = Path("/tmp/shots")
#: Latin words allowed in the Korean viewer: key names (Enter, Delete, Space) and units; "AI" and "px" are shorter.
KEY_NAMES = {"Enter", "Delete", "Space"}


def english_words(page) -> list[str]:
    """Latin words of three letters or more the Korean viewer shows: text, titles, aria-labels, placeholders,
    alt text and menu entries (the study caption from Python excepted)."""
    found = page.evaluate("""() => {
        const root = document.querySelector('.lx-v-root');
        const texts = [];
        const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        for (let n = walk.nextNode(); n; n = walk.nextNode())
          if (!n.parentElement.closest('.lx-v-title')) texts.push(n.textContent);
        for (const e of root.querySelectorAll('*'))
          for (const a of ['title', 'aria-label', 'placeholder', 'alt']) if (e.getAttribute(a)) texts.push(e.getAttribute(a));
        return texts; }""")
    import re

    return sorted({w for text in found for w in re.findall(r"[A-Za-z]{3,}", text)} - KEY_NAMES)


def cut_off(page) -> list[str]:
    """Side-panel and toolbar words that do not fit their element or leave the panel (wider Korean text)."""
    return page.evaluate("""() => {
        const side = document.querySelector('.lx-v-side').getBoundingClientRect();
        const root = document.querySelector('.lx-v-root').getBoundingClientRect();
        const bad = [];
        for (const e of document.querySelectorAll('.lx-v-side .lx-v-btn, .lx-v-side-title, .lx-v-field span, .lx-v-dirty,'
                                                  + ' .lx-v-version, .lx-v-chip, .lx-v-toolbar label, .lx-v-toolbar .lx-v-btn,'
                                                  + ' .lx-v-toolbar span')) {
          if (e.offsetParent === null) continue;  // hidden
          const r = e.getBoundingClientRect();
          const box = e.closest('.lx-v-side') ? side : root;
          if (e.scrollWidth > e.clientWidth + 1 || r.left < box.left - 1 || r.right > box.right + 1)
            bad.push(`${e.textContent} [${Math.round(r.left)}-${Math.round(r.right)} in ${Math.round(box.left)}-${Math.round(box.right)}]`);
        }
        return bad; }""")


def tag_text(page, index: int) -> str:
    return page.inner_text(f".lx-v-tag[data-index='{index}']")


def test_korean_viewer_words_and_a_language_switch_that_keeps_unsaved_edits(open_as_analyst):
    page = open_as_analyst("/voila/render/" + LANGUAGE_NOTEBOOK)
    wait_for_viewer(page)
    page.wait_for_selector(".lx-v-lung-group:visible")
    # Korean from the first drawing: toolbar, side panel, menus, statuses.
    assert page.eval_on_selector_all(".lx-v-heat-group > label", "ls => ls.map(l => l.textContent)") == ["히트맵", "불투명도"]
    assert page.inner_text(".lx-v-fit") == "맞춤" and page.inner_text(".lx-v-lung-group") == "폐 윤곽"
    assert page.eval_on_selector_all(".lx-v-heat-select option", "os => os.map(o => o.textContent)") == [
        "없음", "전체 이상 소견", "결핵"]
    assert list_rows(page) == [("결핵", "제안됨"), ("결핵", "제안됨")]
    assert page.inner_text(".lx-v-dirty") == "변경 없음"

    # Relabel the first proposal: the tag and the list say 폐렴, the kernel keeps the label "Pneumonia".
    page.click(".lx-v-box-list li[data-index='0']")
    page.select_option(".lx-v-label-select", "Pneumonia")  # the option's value is the canonical label
    page.wait_for_selector(".lx-v-tag[data-index='0']:has-text('폐렴')")
    assert "Pneumonia" not in tag_text(page, 0) and "수정됨" in tag_text(page, 0)
    assert page.eval_on_selector(".lx-v-label-select", "s => s.selectedOptions[0].textContent") == "폐렴"
    assert kernel_box(page, 0, lambda b: b["status"] == "edited")["label"] == "Pneumonia"
    assert page.inner_text(".lx-v-dirty") == "● 저장 안 된 변경"
    assert english_words(page) == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".lx-v-root").screenshot(path=str(SHOTS / "viewer-ko.png"))
    assert cut_off(page) == []
    for width in (720, 480):  # narrow (slim side panel) and stacked (panel under the image)
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_function(f"() => document.querySelector('.lx-v-root').clientWidth < {width}")
        page.wait_for_timeout(300)
        assert cut_off(page) == [], f"cut off at {width} px"
        page.locator(".lx-v-root").screenshot(path=str(SHOTS / f"viewer-ko-{width}.png"))
    page.set_viewport_size({"width": 1400, "height": 900})

    # To English and back to Korean with the edit unsaved: words change, the edit and the selection stay.
    for lang, fit, tag, dirty in (("en", "Fit", "Pneumonia", "● Unsaved changes"), ("ko", "맞춤", "폐렴", "● 저장 안 된 변경")):
        page.select_option(".lang-switch select", label={"en": "English", "ko": "한국어"}[lang])
        page.wait_for_function(f"() => document.querySelector('.lx-v-fit').textContent === '{fit}'", timeout=15_000)
        assert page.inner_text(".lx-v-dirty") == dirty
        assert tag_text(page, 0).startswith(tag)
        assert page.locator(".lx-v-box-list li[data-index]").count() == 2
        assert page.locator(".lx-v-box-list li[data-index='0'].lx-v-selected").count() == 1
        assert page.eval_on_selector(".lx-v-label-select", "s => s.value") == "Pneumonia"
        assert page.evaluate("() => document.querySelectorAll('.lx-v-box-rect').length") == 2
    assert english_words(page) == []
    assert kernel_box(page, 0, lambda b: True)["label"] == "Pneumonia"
    assert "kernel dirty False" not in page.inner_text(".kernel-dirty")
    # Save: nothing is connected in this notebook, and the kernel says so in the reader's words.
    page.click(".lx-v-save")
    page.wait_for_selector(".lx-v-message.lx-v-msg-warning:has-text('이 박스를 저장할 곳이 연결되어 있지 않습니다.')",
                           timeout=15_000)
    assert page.inner_text(".lx-v-dirty") == "● 저장 안 된 변경"
