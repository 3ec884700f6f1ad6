"""The demo database: 50+ fictional patients, whole source patients, priors, today's worklist, demo logins."""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections import defaultdict

from lungdx_widgets.store import open_store
from lungdx_widgets.store.demo import DEMO_DICOMS, DEMO_USERS, create_demo_database
from lungdx_widgets.store.demo_data import KOREAN_NAMES, SURNAMES


def test_fifty_fictional_patients_with_context(demo_db):
    with open_store(demo_db) as s:
        patients = s.search_patients("demo", limit=500)
        assert len(patients) >= 50
        korean_names = {n for names in KOREAN_NAMES.values() for n in names}
        assert all(p.patient_id.startswith("DEMO-") and (p.name.split()[-1] in SURNAMES or p.name in korean_names)
                   for p in patients)
        assert all("Fictional" in p.notes for p in patients)
        kinds = {r[0] for r in s.conn.execute("SELECT DISTINCT kind FROM allergies")}
        assert {"drug", "food"} <= kinds
        severities = {r[0] for r in s.conn.execute("SELECT DISTINCT severity FROM allergies")}
        assert {"mild", "severe", "life-threatening"} <= severities
        conditions = {r[0] for r in s.conn.execute("SELECT DISTINCT name FROM conditions")}
        assert {"COPD", "Heart failure", "Type 2 diabetes", "Immunosuppression (kidney transplant)"} <= conditions
        per_patient = [len(s.studies_for_patient(p.patient_id)) for p in patients]
        assert min(per_patient) >= 1 and max(per_patient) <= 3
        assert sum(n >= 2 for n in per_patient) >= 20  # priors to compare with
        assert s.conn.execute("SELECT count(*) FROM encounters").fetchone()[0] >= 2 * len(patients)


def test_source_patients_are_kept_whole(demo_db, shared_data):
    by_file = {}
    files_of_source = defaultdict(set)
    with open(shared_data / "labels.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            patient = row["patient_id"] or row["file"]  # a film without a patient id is a patient of its own
            by_file[row["file"]] = patient
            files_of_source[patient].add(row["file"])
    with open_store(demo_db) as s:
        rows = s.conn.execute("SELECT patient_id, filename FROM studies WHERE filename LIKE '%.png'").fetchall()
    demo_patients_of_source = defaultdict(set)
    files_in_demo = defaultdict(set)
    for demo_id, filename in rows:
        demo_patients_of_source[by_file[filename]].add(demo_id)
        files_in_demo[by_file[filename]].add(filename)
    assert len(demo_patients_of_source) >= 50
    assert all(len(ids) == 1 for ids in demo_patients_of_source.values())  # one source patient → one demo patient
    assert all(files_in_demo[src] == files_of_source[src] for src in files_in_demo)  # ...with all their images


def test_images_dicoms_worklist_and_logins(demo_db):
    with open_store(demo_db) as s:
        studies = [st for p in s.search_patients("demo", limit=500) for st in s.studies_for_patient(p.patient_id)]
        for st in studies:
            assert hashlib.sha256(s.study_image_path(st).read_bytes()).hexdigest() == st.sha256
        assert {st.filename for st in studies if st.source_format == "dicom"} == set(DEMO_DICOMS)
        today = s.worklist()
        assert 10 <= len(today) < len(studies)
        analysed = [i for i in today if i.triage_level]
        assert len(analysed) in (0, len(today))  # all analysed (weights present) or all skipped, never half
        for role, username in DEMO_USERS.items():
            user = s.authenticate(username, username)
            assert user is not None and user.role == role


def test_running_it_again_adds_nothing(demo_db, tmp_path):
    copy = tmp_path / "again.db"
    shutil.copyfile(demo_db, copy)
    tables = ("patients", "studies", "encounters", "allergies", "conditions", "notes", "users", "predictions")

    def counts():
        with open_store(copy) as s:
            return [s.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables]

    before = counts()
    summary = create_demo_database(copy, analyze=False)
    assert summary.startswith("0 demo patients added") and counts() == before


def test_no_demo_film_is_dated_in_the_future(demo_db):
    from datetime import datetime

    now = datetime.now().astimezone()
    with open_store(demo_db) as s:
        acquired = [datetime.fromisoformat(st.acquired) for p in s.search_patients("demo", limit=500)
                    for st in s.studies_for_patient(p.patient_id) if st.source_format != "dicom"]
    assert acquired and all(a <= now for a in acquired)


def test_some_demo_patients_are_korean_and_found_as_korean_clinicians_search(demo_db):
    from lungdx_widgets.hangul import initials
    from lungdx_widgets.triage import patient_facts

    korean_names = {n for names in KOREAN_NAMES.values() for n in names}
    with open_store(demo_db) as s:
        korean = [p for p in s.search_patients("demo", limit=500) if p.name in korean_names]
        assert len(korean) >= 10
        for p in korean[:5]:
            assert p.patient_id in {q.patient_id for q in s.search_patients(p.name[1:], limit=100)}  # given name
            assert p.patient_id in {q.patient_id for q in s.search_patients(initials(p.name), limit=100)}
        rows = s.conn.execute("SELECT name, code, coding FROM conditions WHERE name = '만성 폐쇄성 폐질환'").fetchall()
        assert rows and all(code == "13645005" and coding == "coded" for _name, code, coding in rows)
        notes = [n.text for p in korean for n in s.patient_record(p.patient_id, "pytest").notes]
        assert notes and all(any("\uac00" <= ch <= "\ud7a3" for ch in text) for text in notes)
        facts = [patient_facts(s.patient_record(p.patient_id, "pytest")) for p in korean]
        assert any(problem.codes for f in facts for problem in f.problems), "Korean problems count for triage"
