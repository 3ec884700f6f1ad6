"""The schema, as an ordered list of migrations (sqlite-utils ``Migrations``).

Never edit a migration that has shipped: add a new one at the end. ``open_store`` applies the
pending ones, each in its own transaction, so a database from any earlier version upgrades in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _without_pandas  # noqa: F401  (before sqlite_utils: see that module)
from sqlite_utils import Database  # noqa: E402
from sqlite_utils.migrations import Migrations

if TYPE_CHECKING:
    from ..vocabulary import Kind

MIGRATIONS = Migrations("lungdx")


def _append_only(db: Database, table: str, message: str) -> None:
    """Triggers that refuse UPDATE and DELETE, so history cannot be rewritten through SQL."""
    for op in ("UPDATE", "DELETE"):
        db.execute(f"""
            CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table}
            BEGIN SELECT RAISE(ABORT, '{message}'); END""")


#: Tables of ``0001_people`` in SQLite's words (``schema_pg.pg_ddl`` makes PostgreSQL's of them).
PEOPLE_TABLES = """
    CREATE TABLE users (
        username TEXT PRIMARY KEY,
        display_name TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL CHECK (role IN ('clinician', 'analyst', 'admin')),
        password_hash TEXT NOT NULL,
        created TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
    );
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        object TEXT NOT NULL,
        outcome TEXT NOT NULL DEFAULT 'ok',
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_log_actor ON audit_log(actor, id);
    CREATE INDEX audit_log_action ON audit_log(action, id);
    CREATE TABLE patients (
        patient_id TEXT PRIMARY KEY CHECK (length(trim(patient_id)) > 0),
        name TEXT NOT NULL CHECK (length(trim(name)) > 0),
        sex TEXT NOT NULL DEFAULT '',
        birth_date TEXT NOT NULL DEFAULT '',
        contact TEXT NOT NULL DEFAULT '',
        notes TEXT NOT NULL DEFAULT '',
        created TEXT NOT NULL
    );
    CREATE INDEX patients_name ON patients(name COLLATE NOCASE);
    CREATE TABLE encounters (
        id INTEGER PRIMARY KEY,
        patient_id TEXT NOT NULL REFERENCES patients(patient_id),
        date TEXT NOT NULL,
        reason TEXT NOT NULL,
        diagnosis TEXT NOT NULL DEFAULT '',
        clinician TEXT NOT NULL DEFAULT '',
        notes TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX encounters_patient ON encounters(patient_id, date);
    CREATE TABLE allergies (
        id INTEGER PRIMARY KEY,
        patient_id TEXT NOT NULL REFERENCES patients(patient_id),
        substance TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('drug', 'food', 'other')),
        reaction TEXT NOT NULL DEFAULT '',
        severity TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX allergies_patient ON allergies(patient_id);
    CREATE TABLE conditions (
        id INTEGER PRIMARY KEY,
        patient_id TEXT NOT NULL REFERENCES patients(patient_id),
        name TEXT NOT NULL,
        since TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'active'
    );
    CREATE INDEX conditions_patient ON conditions(patient_id);
    CREATE TABLE medications (
        id INTEGER PRIMARY KEY,
        patient_id TEXT NOT NULL REFERENCES patients(patient_id),
        name TEXT NOT NULL,
        dose TEXT NOT NULL DEFAULT '',
        since TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX medications_patient ON medications(patient_id);
    CREATE TABLE notes (
        id INTEGER PRIMARY KEY,
        patient_id TEXT NOT NULL REFERENCES patients(patient_id),
        text TEXT NOT NULL,
        author TEXT NOT NULL,
        created TEXT NOT NULL
    );
    CREATE INDEX notes_patient ON notes(patient_id, created);
    """


@MIGRATIONS(name="0001_people")
def _people(db: Database) -> None:
    db.executescript(PEOPLE_TABLES)
    _append_only(db, "audit_log", "the audit log is append-only")
    # Name + MRN full-text index kept current by triggers (default unicode61 tokenizer:
    # "DEMO-0012" indexes as the tokens demo, 0012, and a phrase prefix query finds it).
    db.table("patients").enable_fts(["patient_id", "name"], create_triggers=True)


#: Tables of ``0002_imaging``.
IMAGING_TABLES = """
    CREATE TABLE studies (
        id INTEGER PRIMARY KEY,
        study_uid TEXT NOT NULL,
        patient_id TEXT NOT NULL REFERENCES patients(patient_id),
        acquired TEXT NOT NULL,
        modality TEXT NOT NULL DEFAULT '',
        view TEXT NOT NULL DEFAULT '',
        sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
        image_path TEXT NOT NULL,
        filename TEXT NOT NULL DEFAULT '',
        source_format TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        uploaded_by TEXT NOT NULL,
        uploaded_at TEXT NOT NULL,
        UNIQUE (patient_id, sha256)
    );
    CREATE INDEX studies_patient ON studies(patient_id, acquired);
    CREATE INDEX studies_acquired ON studies(acquired);
    CREATE TABLE predictions (
        id INTEGER PRIMARY KEY,
        study_id INTEGER NOT NULL REFERENCES studies(id),
        model_version TEXT NOT NULL,
        probabilities_json TEXT NOT NULL,
        thresholds_json TEXT NOT NULL,
        boxes_json TEXT NOT NULL,
        triage_level TEXT NOT NULL CHECK (triage_level IN ('emergent', 'urgent', 'routine')),
        triage_reasons_json TEXT NOT NULL,
        timings_json TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE INDEX predictions_study ON predictions(study_id, id);
    CREATE TABLE triage_overrides (
        id INTEGER PRIMARY KEY,
        prediction_id INTEGER NOT NULL REFERENCES predictions(id),
        level TEXT NOT NULL CHECK (level IN ('emergent', 'urgent', 'routine')),
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        created TEXT NOT NULL
    );
    CREATE INDEX triage_overrides_prediction ON triage_overrides(prediction_id, id);
    CREATE TABLE annotation_sets (
        id INTEGER PRIMARY KEY,
        study_id INTEGER NOT NULL REFERENCES studies(id),
        version INTEGER NOT NULL CHECK (version >= 1),
        based_on INTEGER NOT NULL,
        author TEXT NOT NULL,
        created TEXT NOT NULL,
        addendum INTEGER NOT NULL DEFAULT 0,
        UNIQUE (study_id, version)
    );
    CREATE TABLE annotations (
        id INTEGER PRIMARY KEY,
        set_id INTEGER NOT NULL REFERENCES annotation_sets(id),
        label TEXT NOT NULL,
        x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL CHECK (w >= 0), h REAL NOT NULL CHECK (h >= 0),
        score REAL,
        source TEXT NOT NULL CHECK (source IN ('ai', 'human')),
        status TEXT NOT NULL CHECK (status IN ('proposed', 'accepted', 'rejected', 'edited'))
    );
    CREATE INDEX annotations_set ON annotations(set_id);
    CREATE TABLE signoffs (
        id INTEGER PRIMARY KEY,
        study_id INTEGER NOT NULL REFERENCES studies(id),
        signed_by TEXT NOT NULL,
        signed_at TEXT NOT NULL,
        agreement_json TEXT NOT NULL,
        comment TEXT NOT NULL DEFAULT '',
        annotation_version INTEGER NOT NULL
    );
    CREATE INDEX signoffs_study ON signoffs(study_id, id);
    """


@MIGRATIONS(name="0002_imaging")
def _imaging(db: Database) -> None:
    db.executescript(IMAGING_TABLES)
    for table in ("annotation_sets", "annotations", "signoffs"):
        _append_only(db, table, f"{table} are never overwritten: save a new version")


#: Tables of ``0003_model_registry``.
REGISTRY_TABLES = """
    CREATE TABLE snapshots (
        id TEXT PRIMARY KEY,
        content_hash TEXT NOT NULL,
        counts_json TEXT NOT NULL DEFAULT '{}',
        path TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created TEXT NOT NULL
    );
    CREATE TABLE model_versions (
        version TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        snapshot_id TEXT REFERENCES snapshots(id),
        metrics_json TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'candidate' CHECK (status IN ('candidate', 'active', 'retired')),
        created TEXT NOT NULL,
        created_by TEXT NOT NULL,
        activated_at TEXT
    );
    CREATE UNIQUE INDEX model_versions_one_active ON model_versions(status) WHERE status = 'active';
    """


@MIGRATIONS(name="0003_model_registry")
def _model_registry(db: Database) -> None:
    db.executescript(REGISTRY_TABLES)


#: Columns of ``0004_model_v2_guard``.
MODEL_V2_COLUMNS = """
    ALTER TABLE predictions ADD COLUMN out_of_distribution INTEGER NOT NULL DEFAULT 0
        CHECK (out_of_distribution IN (0, 1));
    ALTER TABLE predictions ADD COLUMN ood_score REAL;
    """


@MIGRATIONS(name="0004_model_v2_guard")
def _model_v2_guard(db: Database) -> None:
    """Model v2: whether a film looked unlike the training films (the dashboard warns, triage holds)."""
    db.executescript(MODEL_V2_COLUMNS)


#: Columns of ``0006_clinical_signoff`` (its trigger is each engine's own).
SIGNOFF_COLUMNS = """
    ALTER TABLE signoffs ADD COLUMN verdicts_json TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE signoffs ADD COLUMN impression TEXT NOT NULL DEFAULT '';
    ALTER TABLE signoffs ADD COLUMN diagnosis TEXT NOT NULL DEFAULT '';
    ALTER TABLE signoffs ADD COLUMN addendum INTEGER NOT NULL DEFAULT 0 CHECK (addendum IN (0, 1));
"""


@MIGRATIONS(name="0006_clinical_signoff")
def _clinical_signoff(db: Database) -> None:
    """Sign-off says present/absent/uncertain per finding, an impression and a final diagnosis; one per version.

    A second sign-off of the same annotation version is refused here (any connection), not only
    in Python; a later sign-off of a newer version is an explicit addendum.
    """
    db.executescript(SIGNOFF_COLUMNS + """
    CREATE TRIGGER signoffs_one_per_version BEFORE INSERT ON signoffs
    WHEN EXISTS (SELECT 1 FROM signoffs WHERE study_id = NEW.study_id
                 AND annotation_version = NEW.annotation_version)
    BEGIN SELECT RAISE(ABORT, 'this study version is already signed: sign an addendum'); END;
    """)


@MIGRATIONS(name="0007_korean_search")
def _korean_search(db: Database) -> None:
    """Substring and 초성 search (store/search.py) replaces the word-prefix index, which found no Korean given name."""
    db.table("patients").disable_fts()
    db.executescript("""
    CREATE VIRTUAL TABLE patients_search USING fts5(
        grams, name_key UNINDEXED, mrn_key UNINDEXED, initials UNINDEXED,
        tokenize = 'unicode61 remove_diacritics 0');
    INSERT INTO patients_search (rowid, grams, name_key, mrn_key, initials)
        SELECT rowid, lungdx_search_grams(patient_id, name), lungdx_search_fold(name),
               lungdx_search_fold(patient_id), lungdx_search_initials(name) FROM patients;
    CREATE TRIGGER patients_search_ai AFTER INSERT ON patients BEGIN
        INSERT INTO patients_search (rowid, grams, name_key, mrn_key, initials)
        VALUES (new.rowid, lungdx_search_grams(new.patient_id, new.name), lungdx_search_fold(new.name),
                lungdx_search_fold(new.patient_id), lungdx_search_initials(new.name));
    END;
    CREATE TRIGGER patients_search_ad AFTER DELETE ON patients BEGIN
        DELETE FROM patients_search WHERE rowid = old.rowid;
    END;
    CREATE TRIGGER patients_search_au AFTER UPDATE OF patient_id, name ON patients BEGIN
        DELETE FROM patients_search WHERE rowid = old.rowid;
        INSERT INTO patients_search (rowid, grams, name_key, mrn_key, initials)
        VALUES (new.rowid, lungdx_search_grams(new.patient_id, new.name), lungdx_search_fold(new.name),
                lungdx_search_fold(new.patient_id), lungdx_search_initials(new.name));
    END;
    """)


#: Tables of ``0005_security_throttle``.
THROTTLE_TABLES = """
    CREATE TABLE login_throttle (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        time REAL NOT NULL
    );
    CREATE INDEX login_throttle_key ON login_throttle(key, time);
    CREATE INDEX login_throttle_time ON login_throttle(time);
    CREATE TABLE session_logouts (
        username TEXT PRIMARY KEY,
        time REAL NOT NULL
    );
    """


@MIGRATIONS(name="0005_security_throttle")
def _security_throttle(db: Database) -> None:
    """Login-throttle counters and logout times survive a restart (store/throttle.py)."""
    db.executescript(THROTTLE_TABLES)


@MIGRATIONS(name="0005_security_no_replace")
def _security_no_replace(db: Database) -> None:
    """``INSERT OR REPLACE`` onto an existing id deletes the old row without firing DELETE triggers
    (unless a connection turns ``recursive_triggers`` on): refuse any insert that names a taken id."""
    for table in ("audit_log", "signoffs", "annotation_sets", "annotations"):
        db.execute(f"""
            CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
            WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id)
            BEGIN SELECT RAISE(ABORT, '{table} is append-only: rows are never replaced'); END""")


@MIGRATIONS(name="0007_korean_vocabulary")
def _korean_vocabulary(db: Database) -> None:
    """Conditions and allergies carry a SNOMED CT code (lungdx_widgets/vocabulary.py) and how it was found.

    Existing free text is coded where it is exactly a known term (English or Korean), flagged
    "review" where it mentions concepts among other words, left "free" where it names none.
    """
    db.executescript(vocabulary_columns())
    code_existing_terms(db.conn)


#: (table, vocabulary kind, text column) of the coded tables.
CODED_COLUMNS: tuple[tuple[str, Kind, str], ...] = (("conditions", "condition", "name"), ("allergies", "substance", "substance"))


def vocabulary_columns() -> str:
    """Columns of ``0007_korean_vocabulary``: a code and how it was found, on each coded table."""
    from ..vocabulary import CODINGS

    checks = ", ".join(f"'{c}'" for c in CODINGS)
    return "".join(f"""
    ALTER TABLE {table} ADD COLUMN code TEXT NOT NULL DEFAULT '';
    ALTER TABLE {table} ADD COLUMN coding TEXT NOT NULL DEFAULT 'free' CHECK (coding IN ({checks}));
    """ for table, _kind, _column in CODED_COLUMNS)


def code_existing_terms(conn: Any) -> None:
    """Fill the code columns of rows written before they existed (both engines' ``0007_korean_vocabulary``)."""
    from ..vocabulary import code_text

    for table, kind, column in CODED_COLUMNS:
        rows = conn.execute(f"SELECT id, {column} FROM {table}").fetchall()
        conn.executemany(f"UPDATE {table} SET code = ?, coding = ? WHERE id = ?",
                         [(*code_text(text, kind), row_id) for row_id, text in rows])


#: Tables of ``0008_pacs_instances``.
PACS_TABLES = """
    CREATE TABLE pacs_instances (
        sop_instance_uid TEXT PRIMARY KEY CHECK (length(sop_instance_uid) > 0),
        study_id INTEGER NOT NULL REFERENCES studies(id),
        study_instance_uid TEXT NOT NULL,
        series_instance_uid TEXT NOT NULL,
        sop_class_uid TEXT NOT NULL DEFAULT '',
        issuer TEXT NOT NULL DEFAULT '',
        pulled_by TEXT NOT NULL,
        pulled_at TEXT NOT NULL
    );
    CREATE INDEX pacs_instances_study ON pacs_instances(study_id);
    CREATE TABLE pacs_patient_stubs (
        patient_id TEXT PRIMARY KEY REFERENCES patients(patient_id),
        source_patient_id TEXT NOT NULL,
        issuer TEXT NOT NULL DEFAULT '',
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        reviewed_by TEXT NOT NULL DEFAULT '',
        reviewed_at TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE pacs_exports (
        id INTEGER PRIMARY KEY,
        study_id INTEGER NOT NULL REFERENCES studies(id),
        signoff_id INTEGER REFERENCES signoffs(id),
        study_instance_uid TEXT NOT NULL,
        sr_series_uid TEXT NOT NULL,
        sr_sop_instance_uid TEXT NOT NULL UNIQUE,
        sc_series_uid TEXT NOT NULL,
        sc_sop_instance_uid TEXT NOT NULL,
        previous_sr_uid TEXT NOT NULL DEFAULT '',
        sent_by TEXT NOT NULL,
        sent_at TEXT NOT NULL
    );
    CREATE INDEX pacs_exports_study ON pacs_exports(study_id, id);
    """


@MIGRATIONS(name="0008_pacs_instances")
def _pacs_instances(db: Database) -> None:
    """PACS links: which study each pulled SOP Instance became (the pull's idempotency key), patients
    created from a PACS header awaiting review, and every result sent back (an addendum's SR names
    the SR it supersedes)."""
    db.executescript(PACS_TABLES)
    _append_only(db, "pacs_exports", "pacs_exports rows are never changed")


#: Column of ``0007_korean_user_language``.
USER_LANGUAGE_COLUMN = "ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT ''"


@MIGRATIONS(name="0007_korean_user_language")
def _korean_user_language(db: Database) -> None:
    """Each account's interface language (lungdx_widgets/i18n.py LANGUAGES); '' = follow the browser."""
    db.execute(USER_LANGUAGE_COLUMN)


#: Table of ``0005_security_audit_chain``.
AUDIT_CHAIN_TABLE = """
    CREATE TABLE audit_chain (
        audit_id INTEGER PRIMARY KEY,
        hash TEXT NOT NULL
    );
    """


@MIGRATIONS(name="0005_security_audit_chain")
def _security_audit_chain(db: Database) -> None:
    """A SHA-256 chain over the audit log (store/audit.py, ``lungdx audit verify``); existing rows are chained now."""
    db.executescript(AUDIT_CHAIN_TABLE)
    _append_only(db, "audit_chain", "the audit chain is append-only")
    chain_existing_audit_rows(db.conn)


def chain_existing_audit_rows(conn: Any) -> None:
    """Chain the audit rows written before the chain existed (both engines' ``0005_security_audit_chain``)."""
    from .audit import GENESIS, chain_hash

    previous = GENESIS
    cur = conn.execute("SELECT * FROM audit_log ORDER BY id")
    names = [c[0] for c in cur.description]
    for values in cur.fetchall():
        previous = chain_hash(previous, dict(zip(names, values)))
        conn.execute("INSERT INTO audit_chain (audit_id, hash) VALUES (?, ?)", (values[0], previous))


def migration_names() -> list[str]:
    """Names in application order (the last one is the current schema version)."""
    return [m.name for m in MIGRATIONS._migrations]


def apply_migrations(db: Database, stop_before: str | None = None) -> None:
    """Bring the schema up to date (or up to, not including, ``stop_before``: for upgrade tests)."""
    MIGRATIONS.apply(db, stop_before=stop_before)
