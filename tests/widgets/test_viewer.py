"""ImageViewer without a browser: trait validation, the coordinate system, heatmap encoding, save hook."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import traitlets as t
from PIL import Image

from lungdx_widgets.errors import LungDxError
from lungdx_widgets.imaging import load_image
from lungdx_widgets.types import Box, Findings, LabelResult
from lungdx_widgets.widgets import viewer as viewer_module
from lungdx_widgets.widgets.viewer import ImageViewer
from lungdx_widgets.widgets.viewer_data import HEATMAP_MAX_SIDE, BoxRejected, normalize_box

from .viewer_support import REVIEW_IMAGE, proposals


@pytest.fixture(scope="module")
def radiograph(shared_data: Path):
    return load_image(shared_data / "images" / REVIEW_IMAGE)


@pytest.fixture()
def viewer(radiograph, shared_data: Path) -> ImageViewer:
    v = ImageViewer()
    v.set_study(radiograph, boxes=proposals(shared_data), classes=["Tuberculosis", "Pneumonia"], title="t")
    return v


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def test_set_study_takes_size_from_the_original_pixels_and_sends_a_png(radiograph, viewer):
    rows, cols = radiograph.size
    assert (viewer.image_height, viewer.image_width) == (rows, cols)
    shown = _decode(viewer.image)
    assert shown.shape == (rows, cols) and shown.dtype == np.uint8
    # Display pixels are the radiograph's, not a resampled or inverted copy.
    assert np.abs(shown.astype(float) / 255 - radiograph.pixels).max() < 1 / 255 + 1e-6


def test_boxes_are_completed_with_defaults_and_keep_original_pixel_coordinates(viewer, shared_data):
    first = proposals(shared_data)[0]
    assert viewer.boxes[0] == first.as_dict()
    viewer.boxes = [{"label": "Nodule", "x": 10, "y": 20, "w": 30, "h": 40}]
    assert viewer.boxes == [{"label": "Nodule", "x": 10.0, "y": 20.0, "w": 30.0, "h": 40.0, "score": None,
                             "source": "human", "status": "edited"}]
    assert viewer.box_values() == [Box("Nodule", 10, 20, 30, 40, None, "human", "edited")]


@pytest.mark.parametrize("bad, reason", [
    ({"label": "A", "x": 500, "y": 0, "w": 40, "h": 10}, "outside"),  # right edge past 512
    ({"label": "A", "x": -5, "y": 0, "w": 40, "h": 10}, "outside"),
    ({"label": "A", "x": 0, "y": 0, "w": 0, "h": 10}, "no area"),
    ({"label": "A", "x": 0, "y": 0, "w": 5, "h": 10, "colour": "red"}, "unknown box field"),
    ({"label": "A", "x": 0, "y": 0, "w": 5}, "lacks h"),
    ({"label": " ", "x": 0, "y": 0, "w": 5, "h": 5}, "label is empty"),
    ({"label": "x" * 81, "x": 0, "y": 0, "w": 5, "h": 5}, "longer than 80"),
    ({"label": "A", "x": 0, "y": 0, "w": 5, "h": 5, "status": "maybe"}, "status must be one of"),
    ({"label": "A", "x": 0, "y": 0, "w": 5, "h": 5, "source": "robot"}, "source must be one of"),
    ({"label": "A", "x": 0, "y": 0, "w": 5, "h": 5, "score": 1.5}, "score must be within"),
    ({"label": "A", "x": "left", "y": 0, "w": 5, "h": 5}, "must be numbers"),
    ({"label": "A", "x": float("nan"), "y": 0, "w": 5, "h": 5}, "finite"),
])
def test_invalid_boxes_are_refused_and_the_old_boxes_stay(viewer, bad, reason):
    before = list(viewer.boxes)
    with pytest.raises(t.TraitError, match=reason):
        viewer.boxes = before + [bad]
    assert viewer.boxes == before


def test_box_on_the_border_is_accepted_and_rounding_slack_is_clamped():
    assert normalize_box({"label": "A", "x": 0, "y": 0, "w": 512, "h": 512}, 512, 512)["w"] == 512
    clamped = normalize_box({"label": "A", "x": -0.3, "y": 500, "w": 12.4, "h": 12.3}, 512, 512)
    assert clamped["x"] == 0 and clamped["y"] + clamped["h"] == pytest.approx(512)
    with pytest.raises(BoxRejected):
        normalize_box({"label": "A", "x": 0, "y": 500, "w": 10, "h": 13}, 512, 512)


def test_a_refused_browser_update_is_reported_and_pushed_back(viewer):
    before = list(viewer.boxes)
    sent = []
    viewer.send_state = lambda key=None: sent.append(key)  # record what would go back to the browser
    viewer.set_state({"boxes_for": viewer.study_key, "boxes": before + [{"label": "A", "x": 600, "y": 0, "w": 10, "h": 10}]})
    assert viewer.boxes == before
    assert viewer.message_kind == "error" and "outside" in viewer.message
    assert any(isinstance(keys, list) and "boxes" in keys for keys in sent)  # the browser gets the kept boxes back


def test_browser_cannot_change_what_only_python_decides(viewer):
    sent = []
    viewer.send_state = lambda key=None: sent.append(key)
    viewer.readonly = True
    viewer.set_state({"readonly": False, "version": 7, "opacity": 0.3})
    assert viewer.readonly is True and viewer.version == 0
    assert viewer.opacity == 0.3  # the browser's own controls still work
    assert ["readonly", "version"] in sent  # and the browser is set right again


def test_heatmap_arrays_are_encoded_small_gray_pngs_on_the_image_grid(viewer, radiograph):
    rows, cols = radiograph.size
    yy, xx = np.mgrid[0:rows, 0:cols]
    hot = ((xx > cols * 0.6) & (yy < rows * 0.4)).astype(np.float32)  # upper-right quadrant
    viewer.heatmaps = {"abnormal": hot, "Tuberculosis": hot * 0.5}
    png = _decode(viewer.heatmaps["abnormal"])
    assert png.ndim == 2 and max(png.shape) <= HEATMAP_MAX_SIDE
    # The same place is hot after encoding: coordinates scale with the image, never shift.
    sy, sx = rows / png.shape[0], cols / png.shape[1]
    assert png[int(0.2 * rows / sy), int(0.8 * cols / sx)] == 255
    assert png[int(0.8 * rows / sy), int(0.2 * cols / sx)] == 0
    assert _decode(viewer.heatmaps["Tuberculosis"]).max() == 128
    assert viewer.heatmap_label == "abnormal"  # the summary map is shown first


def test_heatmaps_that_cannot_be_placed_on_the_image_are_refused(viewer):
    with pytest.raises(t.TraitError, match="does not match"):
        viewer.heatmaps = {"abnormal": np.zeros((100, 300))}
    with pytest.raises(t.TraitError, match="NaN"):
        viewer.heatmaps = {"abnormal": np.full((64, 64), np.nan)}
    with pytest.raises(t.TraitError, match="PNG"):
        viewer.heatmaps = {"abnormal": b"GIF89a..."}
    with pytest.raises(t.TraitError, match="no heatmap"):
        viewer.heatmap_label = "Pneumonia"


def test_removing_the_shown_heatmap_falls_back_to_another(viewer):
    viewer.heatmaps = {"abnormal": np.zeros((64, 64)), "Tuberculosis": np.ones((64, 64))}
    viewer.heatmap_label = "Tuberculosis"
    viewer.heatmaps = {"abnormal": np.zeros((64, 64))}
    assert viewer.heatmap_label == "abnormal"
    viewer.heatmaps = {}
    assert viewer.heatmap_label == ""


def test_opacity_and_selection_are_bounded(viewer):
    with pytest.raises(t.TraitError):
        viewer.opacity = 1.2
    viewer.selected = 1
    assert viewer.selected == 1
    viewer.selected = 7  # no such box
    assert viewer.selected == -1


def test_show_findings_overlays_maps_and_ai_proposals(viewer, radiograph, shared_data):
    rows, cols = radiograph.size
    findings = Findings(results={"Tuberculosis": LabelResult("Tuberculosis", 0.8, 0.5)},
                        heatmaps={"Tuberculosis": np.ones((rows, cols), np.float32)},
                        boxes=proposals(shared_data)[:1])
    viewer.boxes = []
    viewer.show_findings(findings)
    assert list(viewer.heatmaps) == ["Tuberculosis"] and viewer.heatmap_label == "Tuberculosis"
    assert [b["status"] for b in viewer.boxes] == ["proposed"]


def test_save_press_arrives_with_the_edits_it_saves(viewer):
    received = []
    viewer.on_save(received.append)
    edited = viewer.boxes[:1] + [{"label": "Mass", "x": 1, "y": 2, "w": 3, "h": 4}]
    viewer.set_state({"boxes_for": viewer.study_key, "boxes": edited, "dirty": True})  # an edit alone saves nothing
    assert received == []
    # The browser sends the press in the same update as its last edit: the callback sees that edit.
    moved = [dict(edited[0], x=20.0, status="edited"), edited[1]]
    viewer.set_state({"boxes_for": viewer.study_key, "boxes": moved, "save_requests": viewer.save_requests + 1, "message": "Saving…"})
    assert received == [[Box.from_dict(moved[0]), Box("Mass", 1, 2, 3, 4, None, "human", "edited")]]


def test_save_failures_are_shown_not_raised(viewer):
    def refuse(_boxes):
        raise LungDxError("The database is read-only.")

    viewer.on_save(refuse)
    viewer.request_save()
    assert (viewer.message_kind, viewer.message) == ("error", "The database is read-only.")
    viewer.on_save(refuse, remove=True)
    viewer.on_save(lambda _b: 1 / 0)
    viewer.request_save()
    assert viewer.message_kind == "error" and "Not saved" in viewer.message


def test_read_only_viewer_refuses_a_forged_save(viewer):
    received = []
    viewer.on_save(received.append)
    viewer.readonly = True
    viewer.set_state({"save_requests": viewer.save_requests + 1})
    assert received == [] and "read-only" in viewer.message


def test_encoded_bytes_alone_give_the_coordinate_system(shared_data):
    png = (shared_data / "images" / REVIEW_IMAGE).read_bytes()
    v = ImageViewer(image=png)
    assert (v.image_width, v.image_height) == (512, 512)
    v.boxes = [{"label": "A", "x": 500, "y": 500, "w": 12, "h": 12}]
    assert v.boxes[0]["x"] == 500


def test_assets_ship_next_to_the_module():
    import lungdx_widgets.widgets.viewer as mod

    folder = Path(mod.__file__).parent
    js = (folder / "viewer.js").read_text()
    assert "export default" in js and "http" not in js.replace("http://www.w3.org/2000/svg", "")  # offline
    assert (folder / "viewer.css").stat().st_size > 0


def test_viewer_and_reports_share_one_heat_colour_table(viewer):
    """The browser colours heat from the table Python sends; the report overlay uses the same table."""
    from lungdx_widgets.display import HEAT_STOPS, heat_lut
    from lungdx_widgets.reports.overlay import HEAT_OPACITY, heat_rgba

    lut = np.array(viewer.get_state()["heat_lut"], dtype=float).reshape(256, 4)
    assert lut.shape == (256, 4) and list(lut.ravel()) == heat_lut()
    rgb, alpha = heat_rgba(np.arange(256) / 255.0)
    assert np.abs(rgb * 255 - lut[:, :3]).max() <= 0.5
    assert np.abs(alpha / HEAT_OPACITY * 255 - lut[:, 3]).max() <= 0.5
    assert tuple(lut[255, :3]) == HEAT_STOPS[-1][1:] and lut[0, 3] == 0
    js = Path(viewer_module.__file__).with_name("viewer.js").read_text()
    assert "65, 69, 171" not in js and 'model.get("heat_lut")' in js, "no second copy of the table in the viewer"


def test_box_edits_made_on_the_study_shown_before_never_land_on_the_next(viewer, radiograph):
    """An edit still in flight when another study opens (seen under load in the browser: study A's boxes and its
    'unsaved' flag appeared on study B) is refused and B's own boxes are pushed back."""
    viewer.set_study(radiograph, boxes=[Box("Edema", 10, 10, 50, 50)])
    old_key = viewer.study_key
    viewer.set_study(radiograph, boxes=[Box("Pneumonia", 100, 100, 40, 40)])  # study B
    assert viewer.study_key != old_key
    viewer.set_state({"boxes_for": f"{old_key}:3", "dirty": True,  # as viewer.js sends it: key:edit count
                      "boxes": [{"label": "Edema", "x": 10, "y": 10, "w": 50, "h": 50, "source": "human"}]})
    assert [b["label"] for b in viewer.boxes] == ["Pneumonia"] and not viewer.dirty
    viewer.set_state({"boxes_for": f"{viewer.study_key}:4", "dirty": True,  # an edit made on B is taken
                      "boxes": [*viewer.boxes, {"label": "Nodule", "x": 5, "y": 5, "w": 9, "h": 9}]})
    assert [b["label"] for b in viewer.boxes] == ["Pneumonia", "Nodule"] and viewer.dirty
