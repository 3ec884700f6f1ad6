"""What the dashboard e2e test and benchmark need: a model, and a demo database with today's studies triaged.

The model is the project's default checkpoint when it exists; otherwise a tiny one is trained here
on the shared images in about a second (the dashboard is under test, not the model's accuracy).
"""

from __future__ import annotations

from pathlib import Path

from lungdx_widgets.config import get_settings
from lungdx_widgets.imaging import load_image
from lungdx_widgets.model import Analyzer
from lungdx_widgets.model.weights import default_model_path
from lungdx_widgets.model.train import TrainConfig, train_model
from lungdx_widgets.store import open_store
from lungdx_widgets.triage import assess

SETUP_ACTOR = "e2e-setup"
TINY_LABELS = ("Pneumonia", "Effusion", "Infiltration", "Atelectasis")


def dashboard_checkpoint(workdir: Path) -> Path:
    """The default checkpoint if present, else a tiny one trained now (compact net, 64 px, 3 steps)."""
    default = default_model_path()
    if default.is_file():
        return default
    shared = get_settings().shared_data
    out = workdir / "lungdx-tiny.pt"
    if not out.is_file():
        train_model(TrainConfig(images_dir=shared / "images", labels_csv=shared / "labels.csv",
                                boxes_csv=shared / "boxes.csv", out=out, arch="compact", input_size=64,
                                batch_size=8, limit=96, n_folds=4, threads=1, max_steps=3, labels=TINY_LABELS))
    return out


def server_env(checkpoint: Path) -> dict[str, str]:
    """Environment that makes the served kernels load ``checkpoint`` as their model."""
    return {"LUNGDX_WEIGHTS": str(checkpoint.parent), "LUNGDX_DEFAULT_MODEL": checkpoint.name}


def private_demo_copy(demo_db: Path, dest: Path, checkpoint: Path, analyse_today: int = 8) -> Path:
    """Copy the demo database and make sure the first ``analyse_today`` of today's studies have AI results."""
    with open_store(demo_db) as source:
        source.backup(dest)
    analyzer = None
    with open_store(dest) as store:
        for item in store.worklist()[:analyse_today]:
            if item.prediction is not None:
                continue
            analyzer = analyzer or Analyzer.load(checkpoint)
            findings = analyzer.analyze(load_image(store.study_image_path(item.study)))
            triage = assess(findings, store.patient_record(item.patient_id, SETUP_ACTOR))
            store.add_prediction(item.study_id, findings, triage, SETUP_ACTOR)
    return dest


def walk_in_browser(browser, walk, failure_shot: Path, timeout_ms: int = 120_000) -> None:
    """Run ``walk(page)`` in a fresh 1440×900 page; a failure leaves a screenshot, a page error fails the test."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        walk(page)
    except Exception:
        page.screenshot(path=str(failure_shot))
        raise
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def drag_on_image(page, fx: float, fy: float, fw: float, fh: float) -> None:
    """Drag on the viewer's image from (fx, fy) over (fw, fh), as fractions of its size (draws or moves a box)."""
    box = page.locator(".lx-v-image").bounding_box()
    x0, y0 = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + box["width"] * fw, y0 + box["height"] * fh, steps=5)
    page.mouse.up()
