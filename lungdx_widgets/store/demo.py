"""``lungdx init --demo``: fictional patients around real public chest radiographs.

Idempotent: patients are keyed by MRN (``DEMO-0001``...), users by name, studies by image hash,
predictions are only added where missing — running it again adds nothing twice. Images of one
source patient (``labels.csv`` ``patient_id``) always go to one demo patient, so priors are real
follow-up films of the same person.
"""

from __future__ import annotations

import random
import shutil
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

from ..config import demo_images_for, get_settings
from ..csvfiles import csv_rows
from ..errors import LungDxError
from ..labels import FINDING_LABELS, NO_FINDING, y_column
from ..types import Box
from .db import Store, open_store
from . import demo_data as words
from .demo_data import FIRST_NAMES, SURNAMES

#: role → demo username; each demo account's password is its username (other areas rely on this).
DEMO_USERS = {"clinician": "demo-clinician", "analyst": "demo-analyst", "admin": "demo-admin"}
DEMO_ACTOR = "demo-setup"
#: Shared DICOM files filed as demo studies (the header's PatientID is the public dataset's).
DEMO_DICOMS = ("nih_gcp_covid0000.dcm", "siim_6904_1517875201.dcm")
SHARE_OF_MULTI_IMAGE_PATIENTS = 0.6
SHARE_SEEN_TODAY = 0.4
#: Every third demo patient is Korean (name, problem list, allergies, visits and notes in Korean).
KOREAN_EVERY = 3


@dataclass(frozen=True)
class DemoWords:
    """The word lists one demo patient's chart is written with (English or Korean)."""

    conditions: tuple
    allergies: tuple
    reasons: tuple
    past_visits: tuple
    notes: tuple
    request_note: str
    korean: bool = False


ENGLISH = DemoWords(words.CONDITIONS, words.ALLERGIES, words.REASONS, words.PAST_VISITS, words.NOTES,
                    "Chest radiograph requested.")
KOREAN = DemoWords(words.KOREAN_CONDITIONS, words.KOREAN_ALLERGIES, words.KOREAN_REASONS, words.KOREAN_PAST_VISITS,
                   words.KOREAN_NOTES, "흉부 X선 촬영 의뢰함.", korean=True)


def demo_words(index: int) -> DemoWords:
    return KOREAN if index % KOREAN_EVERY == 2 else ENGLISH


def demo_name(index: int, sex: str) -> str:
    """A fictional name: deliberately odd English ones, or a Korean one for every third patient."""
    if demo_words(index).korean:
        names = words.KOREAN_NAMES[sex]
        return names[(index // KOREAN_EVERY) % len(names)]
    return f"{FIRST_NAMES[sex][index % len(FIRST_NAMES[sex])]} {SURNAMES[index % len(SURNAMES)]}"


@dataclass(frozen=True)
class SourceImage:
    file: str
    source_patient: str
    findings: tuple[str, ...]
    age: int | None
    sex: str
    view: str
    dataset: str
    #: The source's per-label ground truth (``y_<label>``: 1 present, 0 absent; unknown labels left out).
    truth: tuple[tuple[str, int], ...] = ()
    #: The source's own boxes for this film (``boxes.csv``; radiologists' for TBX11K, NIH, SIIM).
    boxes: tuple[Box, ...] = ()


def demo_mrn(index: int) -> str:
    return f"DEMO-{index:04d}"


def source_patients(shared: Path) -> dict[str, list[SourceImage]]:
    """labels.csv grouped by source patient, images in file-name order (follow-up order for NIH)."""
    groups: dict[str, list[SourceImage]] = defaultdict(list)
    boxes = _source_boxes(shared / "boxes.csv")
    with csv_rows(shared / "labels.csv") as reader:
        for row in reader:
            if not (shared / "images" / row["file"]).is_file():
                continue
            patient = row["patient_id"] or row["file"]  # no id (TBX11K, SIIM rows): one film, one patient
            groups[patient].append(SourceImage(
                file=row["file"], source_patient=patient, findings=tuple(row["findings"].split("|")),
                age=int(float(row["age"])) if row["age"] else None, sex=row["sex"] if row["sex"] in ("M", "F") else "",
                view=row["view"] if row["view"] in ("AP", "PA", "LL") else "",
                dataset=row["source_dataset"],
                truth=tuple((label, int(row[y_column(label)])) for label in FINDING_LABELS
                            if row.get(y_column(label), "") in ("0", "1")),
                boxes=boxes.get(row["file"], ())))
    return {pid: sorted(imgs, key=lambda i: i.file) for pid, imgs in sorted(groups.items())}


def _source_boxes(path: Path) -> dict[str, tuple[Box, ...]]:
    """The shared ``boxes.csv`` by file: a reader's boxes (the demo's history was reviewed with them)."""
    found: dict[str, list[Box]] = defaultdict(list)
    if path.is_file():
        with csv_rows(path) as reader:
            for row in reader:
                found[row["file"]].append(Box(row["label"], float(row["x"]), float(row["y"]), float(row["w"]),
                                              float(row["h"]), source="human", status="edited"))
    return {file: tuple(b) for file, b in found.items()}


#: Sources of which one patient is always in the demo: TBX11K (tuberculosis) and MHH Hannover,
#: the source held apart from the shipped model's training (the dashboard warns on its films).
SHOWCASE_SOURCES = ("TBX11K", "MHH Hannover COVID-19 image repository")


def choose_source_patients(groups: dict[str, list[SourceImage]], n: int) -> list[list[SourceImage]]:
    """Whole source patients, mostly ones with 2–3 films so the priors panel has something to show."""
    rng = random.Random(20241)
    multi = [g for g in groups.values() if len(g) > 1]
    single = [g for g in groups.values() if len(g) == 1]
    n_multi = min(len(multi), round(n * SHARE_OF_MULTI_IMAGE_PATIENTS))
    # the demo always shows a tuberculosis film (model v2 assesses TB) and one from a source the
    # model never trained on (its out-of-distribution warning)
    showcase = [g for g in single if g[0].dataset in SHOWCASE_SOURCES and NO_FINDING not in g[0].findings]
    showcase = [next(g for g in showcase if g[0].dataset == src) for src in SHOWCASE_SOURCES
                if any(g[0].dataset == src for g in showcase)]
    rest = [g for g in single if g not in showcase]
    chosen = (rng.sample(multi, n_multi) + showcase
              + rng.sample(rest, max(0, min(len(rest), n - n_multi - len(showcase)))))
    return sorted(chosen, key=lambda g: g[0].source_patient)


def create_demo_database(path: Path | str | None = None, n_patients: int = 50, analyze: bool = True,
                         report_history: bool = True) -> str:
    """Create or complete the demo database at ``path``; returns a one-line summary.

    ``report_history``: earlier films are signed with the source's labels and boxes (reviewed data for the
    learning loop); False signs them without verdicts or boxes, as a site's plain sign-offs look.
    """
    settings = get_settings()
    store = open_store(path)
    try:
        users = sum(_ensure_user(store, role, name) for role, name in DEMO_USERS.items())
        groups = choose_source_patients(source_patients(settings.shared_data), n_patients)
        added = [_add_demo_patient(store, i + 1, g, settings.shared_data / "images", report_history)
                 for i, g in enumerate(groups)]
        dicom_dir = settings.shared_data / "dicom"
        added += [_add_dicom_patient(store, len(groups) + i + 1, dicom_dir / f)
                  for i, f in enumerate(DEMO_DICOMS) if (dicom_dir / f).is_file()]
        ai = _analyze_missing(store) if analyze else "AI results not requested"
        total = store.count_patients()
    finally:
        store.close()
    return (f"{sum(added)} demo patients added ({total} patients in total), {users} demo users added; {ai}. "
            f"Demo logins: " + ", ".join(f"{name} / {name} ({role})" for role, name in DEMO_USERS.items()))


def _ensure_user(store: Store, role: str, username: str) -> bool:
    if store.get_user(username) is not None:
        return False
    store.add_user(username, username, role, display_name=f"Demo {role}", actor=DEMO_ACTOR)
    return True


def _demo_image(store: Store, source: Path) -> Path:
    """Copy a shared image into the demo folder beside the database once (the shared folder stays read-only)."""
    target = demo_images_for(get_settings(), store.path if store.db is not None else None) / source.name
    if not target.is_file() or target.stat().st_size != source.stat().st_size:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return target


def _study_times(index: int, count: int, rng: random.Random) -> list[str]:
    """Acquisition times, oldest first: ~40 % of patients have their newest film today (the worklist)."""
    today = date.today()
    newest = today if rng.random() < SHARE_SEEN_TODAY else today - timedelta(days=rng.randint(1, 120))
    days = [newest]
    for _ in range(count - 1):
        days.append(days[-1] - timedelta(days=rng.randint(30, 900)))
    minutes = 7 * 60 + (index * 37) % (10 * 60)
    stamp = [datetime.combine(d, datetime.min.time()) + timedelta(minutes=minutes - 45 * i) for i, d in enumerate(days)]
    now = datetime.now()
    if stamp[0] > now:  # today's film: taken within the last ten hours, never in the future
        since_midnight = now - datetime.combine(now.date(), datetime.min.time())
        stamp[0] = now - min(timedelta(minutes=5 + (index * 37) % (10 * 60)), since_midnight * 0.9)
    return [s.astimezone().isoformat(timespec="seconds") for s in reversed(stamp)]


def _add_demo_patient(store: Store, index: int, images: list[SourceImage], image_dir: Path,
                      report_history: bool = True) -> bool:
    from ..imaging import load_image
    from ..services import ingest

    mrn = demo_mrn(index)
    if store.has_patient(mrn):
        return False
    rng = random.Random(f"lungdx-demo-{index}")
    first = images[0]
    sex = first.sex or rng.choice("FM")
    age = first.age or rng.randint(25, 90)
    name = demo_name(index, sex)
    lang = demo_words(index)
    birth = date.today() - timedelta(days=age * 365 + rng.randint(30, 330))
    times = _study_times(index, len(images), rng)
    with store.transaction():
        store.add_patient(mrn, name, DEMO_ACTOR, sex=sex, birth_date=birth.isoformat(),
                          contact=f"+00 555 {index:04d} (fictional)",
                          notes=(f"가상 환자 (Fictional demo patient); 공개 데이터 {first.dataset}의 영상." if lang.korean
                                 else f"Fictional demo patient; radiographs from {first.dataset} (public data)."))
        _add_history(store, mrn, rng, times[0][:10], lang)
        for image, acquired in zip(images, times):
            reason = next(r for r in lang.reasons if r[0] in image.findings or r[0] == NO_FINDING)
            store.add_encounter(mrn, DEMO_ACTOR, acquired[:10], reason[1], diagnosis=reason[2],
                                notes=lang.request_note)
            path = _demo_image(store, image_dir / image.file)
            data = path.read_bytes()
            radiograph = load_image(data, filename=image.file)
            radiograph = replace(radiograph, view=radiograph.view or image.view or None)
            study = ingest(store, mrn, data, DEMO_ACTOR, filename=image.file, source="demo", radiograph=radiograph,
                           acquired=acquired).study
            if acquired[:10] < date.today().isoformat():  # history: reported back then, off the worklist
                if report_history:
                    _report_history(store, study.id, image)
                else:
                    store.sign_study(study.id, DEMO_ACTOR, {}, comment="Signed at the time (fictional demo history).")
    return True


def _report_history(store: Store, study_id: int, image: SourceImage) -> None:
    """An earlier film as it was reported: the source's boxes saved as the reader's and its labels signed as
    verdicts, so priors, exports and a first training snapshot (``retrain.ipynb``) have reviewed data."""
    # saved even when empty: "reviewed, no box" is a review too (the learning loop's universe is reviewed studies)
    store.save_annotations(study_id, list(image.boxes), store.annotations(study_id).version, DEMO_ACTOR)
    verdicts = {label: "present" if value else "absent" for label, value in image.truth}
    store.sign_study(study_id, DEMO_ACTOR, verdicts=verdicts, comment="Reported at the time (fictional demo history).")


def _add_history(store: Store, mrn: str, rng: random.Random, before: str, lang: DemoWords = ENGLISH) -> None:
    """Varied context: chronic conditions (+ their medication), drug and food allergies, visits, notes."""
    first_film = date.fromisoformat(before)
    for cond, med, dose in rng.sample(lang.conditions, rng.randint(0, 3)):
        since = (first_film - timedelta(days=rng.randint(200, 4000))).isoformat()
        store.add_condition(mrn, DEMO_ACTOR, cond, since=since, status="active" if rng.random() < 0.9 else "resolved")
        if med:
            store.add_medication(mrn, DEMO_ACTOR, med, dose=dose, since=since)
    for substance, kind, reaction, severity in rng.sample(lang.allergies, rng.choice((0, 1, 1, 2, 3))):
        store.add_allergy(mrn, DEMO_ACTOR, substance, kind, reaction=reaction, severity=severity)
    for reason, diagnosis, notes in rng.sample(lang.past_visits, rng.randint(1, 3)):
        when = first_film - timedelta(days=rng.randint(10, 1500))
        store.add_encounter(mrn, DEMO_ACTOR, when.isoformat(), reason, diagnosis=diagnosis, notes=notes)
    store.add_note(mrn, DEMO_ACTOR, rng.choice(lang.notes))


def _add_dicom_patient(store: Store, index: int, dicom: Path) -> bool:
    """A demo patient whose film is a real shared DICOM (identity mismatch confirmed: public PatientID)."""
    from ..imaging import load_image
    from ..services import ingest

    mrn = demo_mrn(index)
    if store.has_patient(mrn):
        return False
    rng = random.Random(f"lungdx-demo-{index}")
    path = _demo_image(store, dicom)
    data = path.read_bytes()
    radiograph = load_image(data, filename=dicom.name)
    sex = (radiograph.patient_sex or rng.choice("FM"))[:1].upper()
    sex = sex if sex in ("M", "F") else "F"
    acquired = datetime.now().replace(hour=8, minute=5 + index, second=0, microsecond=0).astimezone()
    with store.transaction():
        store.add_patient(mrn, demo_name(index, sex), DEMO_ACTOR,
                          sex=sex, birth_date=(date.today() - timedelta(days=rng.randint(40, 85) * 365)).isoformat(),
                          notes=f"Fictional demo patient; DICOM file {dicom.name} (public data).")
        _add_history(store, mrn, rng, acquired.date().isoformat(), demo_words(index))
        store.add_encounter(mrn, DEMO_ACTOR, acquired.date().isoformat(), "Cough for three weeks",
                            diagnosis="Chest radiograph requested")
        ingest(store, mrn, data, DEMO_ACTOR, filename=dicom.name, source="demo",
               radiograph=replace(radiograph, acquired=None), confirm_identity_mismatch=True, acquired=acquired.isoformat(timespec="seconds"))
    return True


def _analyze_missing(store: Store, batch_size: int = 8) -> str:
    """Run the model on studies without a result; skipped (and said so) when the model is unavailable."""
    try:
        from ..services import ModelService, analyze_pending, registry_resolver

        model = ModelService(resolver=registry_resolver(store.target)).get()
        done, failed = analyze_pending(store, model, DEMO_ACTOR, batch_size=batch_size)
    except (ImportError, LungDxError) as exc:
        return f"AI results skipped: {exc}"
    return f"AI results added for {done} studies" + (f" ({failed} could not be analysed)" if failed else "")
