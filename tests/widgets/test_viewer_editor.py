"""AnnotationEditor and LabelReview against a real SQLite store: versions, conflicts, paging."""

from __future__ import annotations

from pathlib import Path

import pytest

from lungdx_widgets.imaging import load_image
from lungdx_widgets.store import open_store
from lungdx_widgets.types import Box
from lungdx_widgets.widgets.editor import AnnotationEditor, NoStudyOpen
from lungdx_widgets.widgets.label_review import LabelReview, studies_with_proposals

from .viewer_support import REVIEW_CLASSES, proposals, seed_review_study

READER_A = "an_alice"
READER_B = "dr_bob"


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    return tmp_path / "review.db"


@pytest.fixture()
def store(db: Path):
    s = open_store(db)
    yield s
    s.close()


@pytest.fixture()
def study_id(store, shared_data: Path) -> int:
    return seed_review_study(store, shared_data)


def test_opening_an_unreviewed_study_shows_the_ai_proposals(store, study_id, shared_data):
    editor = AnnotationEditor(store, READER_A)
    editor.open_study(study_id)
    v = editor.viewer
    assert v.version == 0 and not v.dirty
    assert v.box_values() == proposals(shared_data)
    assert sorted(v.classes) == sorted(REVIEW_CLASSES)
    assert (v.image_width, v.image_height) == (512, 512)
    assert "tbx11k_tb0007.png" in v.title


def test_save_writes_a_new_version_under_the_actor_and_reopens_from_it(store, study_id, shared_data, db):
    editor = AnnotationEditor(store, READER_A)
    editor.open_study(study_id)
    v = editor.viewer
    first, second = v.boxes
    v.boxes = [dict(first, status="accepted"), dict(second, status="rejected"),
               {"label": "Nodule", "x": 40, "y": 300, "w": 60, "h": 50, "source": "human", "status": "edited"}]
    v.dirty = True  # what the browser sets after an edit
    v.set_state({"save_requests": 1, "message": "Saving…"})  # what the Save button sends

    assert (v.version, v.dirty, v.message_kind) == (1, False, "ok")
    assert "version 1" in v.message and READER_A in v.message
    with open_store(db) as other:  # a separate connection reads what was committed
        saved = other.annotations(study_id)
        events = other.audit_events(actor=READER_A, action="save_annotations")
    assert (saved.version, saved.author, saved.based_on) == (1, READER_A, 0)
    assert [(b.label, b.source, b.status) for b in saved.boxes] == [
        ("Tuberculosis", "ai", "accepted"), ("Tuberculosis", "ai", "rejected"), ("Nodule", "human", "edited")]
    assert saved.boxes[0] == Box.from_dict(dict(first, status="accepted"))  # coordinates unchanged, to the digit
    assert len(events) == 1

    again = AnnotationEditor(store, READER_B)
    again.open_study(study_id)
    assert again.viewer.version == 1 and again.viewer.box_values() == list(saved.boxes)
    assert "saved by an_alice" in again.viewer.message


def test_stale_save_is_refused_newest_version_shown_and_draft_kept(store, study_id, db):
    alice, bob = AnnotationEditor(store, READER_A), AnnotationEditor(store, READER_B)
    alice.open_study(study_id)
    bob.open_study(study_id)  # both start from version 0

    alice.viewer.boxes = [dict(b, status="accepted") for b in alice.viewer.boxes]
    assert alice.save() is not None

    bob_draft = [dict(b, status="rejected") for b in bob.viewer.boxes]
    bob.viewer.boxes = bob_draft
    bob.viewer.dirty = True
    assert bob.save() is None

    v = bob.viewer
    assert v.message_kind == "error"
    assert "Not saved" in v.message and READER_A in v.message and "version 1" in v.message
    assert v.version == 1 and not v.dirty
    assert [b["status"] for b in v.boxes] == ["accepted", "accepted"]  # alice's work, shown
    assert bob.refused_draft == [Box.from_dict(b) for b in bob_draft]  # bob's work, kept
    with open_store(db) as other:
        history = other.annotation_history(study_id)
    assert [(s.version, s.author) for s in history] == [(1, READER_A)]  # nothing overwritten

    # Bob re-applies on top of the newest version: now it saves as version 2, based on 1.
    v.boxes = [dict(v.boxes[0]), dict(v.boxes[1], status="rejected")]
    saved = bob.save()
    assert (saved.version, saved.based_on, saved.author) == (2, 1, READER_B)


def test_a_browser_claiming_a_newer_version_still_gets_the_conflict(store, study_id):
    alice, bob = AnnotationEditor(store, READER_A), AnnotationEditor(store, READER_B)
    alice.open_study(study_id)
    bob.open_study(study_id)
    alice.save()
    bob.viewer.set_state({"version": 1, "boxes_for": bob.viewer.study_key, "boxes": [], "dirty": True})  # forged: "I have seen version 1"
    assert bob.save() is None and bob.viewer.message_kind == "error"
    assert store.annotations(study_id).author == READER_A


def test_reload_discards_unsaved_edits(store, study_id):
    editor = AnnotationEditor(store, READER_A)
    editor.open_study(study_id)
    editor.viewer.boxes = []
    editor.viewer.dirty = True
    editor.reload()
    assert len(editor.viewer.boxes) == 2 and not editor.viewer.dirty


def test_save_without_a_study_and_read_only_saves_are_refused_with_a_message(store, study_id):
    editor = AnnotationEditor(store, READER_A)
    with pytest.raises(NoStudyOpen):
        editor.save()
    editor.viewer.request_save()
    assert editor.viewer.message_kind == "error" and "Open a study" in editor.viewer.message
    editor.open_study(study_id)
    editor.viewer.readonly = True
    editor.viewer.request_save()
    assert store.annotations(study_id).version == 0


def test_actor_defaults_to_the_logged_in_user(store, study_id, monkeypatch):
    monkeypatch.setenv("LUNGDX_USER", "an_carol")
    editor = AnnotationEditor(store)
    editor.open_study(study_id)
    assert editor.save().author == "an_carol"


def test_label_review_pages_through_studies_with_proposals_and_guards_unsaved_edits(store, study_id, shared_data):
    # A second study without any AI result: not in the queue, but can be paged to when named.
    png = shared_data / "images" / "nihtalo_00010120_010.png"
    data = png.read_bytes()
    store.add_patient("MRN-2002", "Otto Plain", actor="system")
    plain = store.add_study("MRN-2002", load_image(data), data, "system", filename=png.name)
    assert studies_with_proposals(store) == [study_id]
    second = seed_review_study(store, shared_data, actor="system")  # same bytes, same patient: same study
    assert second == study_id

    review = LabelReview(store, READER_A, study_ids=[study_id, plain.id])
    assert review.study_id == study_id and "Study 1 of 2" in review.position.value
    assert review.prev_button.disabled and not review.next_button.disabled

    review.viewer.boxes = review.viewer.boxes[:1]
    review.viewer.dirty = True
    assert review.go(1) is False  # unsaved edits: ask save / discard / stay
    assert review.unsaved.asking and review.unsaved.widget.layout.display is None
    assert review.go(1) is False and review.study_id == study_id, "pressing again never discards silently"
    review.unsaved.stay()
    assert review.study_id == study_id and review.viewer.dirty and len(review.viewer.boxes) == 1
    assert review.go(1) is False
    review.unsaved.save()  # saves, then opens the next study
    assert store.annotations(study_id).version == 1 and review.study_id == plain.id
    review.go(0)
    review.viewer.boxes = []
    review.viewer.dirty = True
    review.go(1)
    review.unsaved.discard()
    assert store.annotations(study_id).version == 1, "discard writes nothing"
    assert review.study_id == plain.id and review.viewer.boxes == [] and review.next_button.disabled

    review.go(0)
    assert "reviewed: version 1 by an_alice" in review.position.value


def test_heatmaps_that_cannot_be_computed_are_explained(store, study_id, tmp_path):
    from lungdx_widgets.widgets.upload import SharedAnalyzer

    review = LabelReview(store, READER_A, analyzer=SharedAnalyzer(tmp_path / "no-such-weights.pt"))
    review.compute_heatmaps()
    assert review.viewer.message_kind == "warning" and review.viewer.message.startswith("Heatmaps unavailable:")
    assert review.viewer.heatmaps == {} and len(review.viewer.boxes) == 2  # the review goes on
