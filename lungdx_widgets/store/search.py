"""Patient search keys and queries: substring match on names and MRNs, Korean initial consonants (초성).

Korean names have no spaces ("김민준"), so a word-prefix index cannot find a given name ("민준").
Each patient is indexed by the character bigrams of three keys (``patients_search``, migration
``0007_korean_search``):

- the name key: the name folded (NFKC, case, accents) with everything but letters and digits removed,
  so "Anne-Marie", "O'Sample" and "김 민준" match "marie", "osam" and "김민준";
- the MRN key, folded the same way ("DEMO-0012" → "demo0012");
- the initials key: the initial consonant of every Hangul syllable ("김민준" → "ㄱㅁㅈ"), which Korean
  hospital systems let clinicians type.

A query word of two or more characters must have all its bigrams in the index (fast, FTS5) and then
be a true substring of one key (``instr``, exact); a one-character word matches bigrams starting
with it. Bigrams rather than FTS5's trigram tokenizer because Korean given names are two syllables.
The keys are computed by the SQL functions registered in :func:`register_functions` on every store
connection, so the index triggers work for raw ``INSERT``s too (a plain sqlite3 client cannot write
patients; writes go through the store anyway).

On PostgreSQL (``schema_pg``) the same keys are stored by the store itself (:func:`index_row`, called
through ``PostgresDialect.index_patient``), with a ``text[]`` of every character and bigram under a GIN
index in place of FTS5; ``instr`` there is ``strpos``. Same queries, same hits, same order.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from dataclasses import dataclass

from ..hangul import INITIALS, fold, initials, is_syllable
from .errors import ValidationError

#: Longest query accepted (a name plus an MRN fits many times over); longer text is refused, not cut.
MAX_QUERY_CHARS = 100
#: Most words in one query; every word is one more index lookup.
MAX_QUERY_WORDS = 8
_TYPED_INITIALS = frozenset(INITIALS)

def _grams(key: str) -> list[str]:
    """Every bigram of ``key`` plus its last character, so a one-character prefix query reaches each position."""
    return [key[i:i + 2] for i in range(len(key) - 1)] + ([key[-1]] if key else [])


def index_text(patient_id: str, name: str) -> str:
    """The ``grams`` column of one patient: space-separated bigrams of the three keys."""
    grams = dict.fromkeys(g for key in (fold(name), fold(patient_id), initials(name)) for g in _grams(key))
    return " ".join(grams)


def index_row(patient_id: str, name: str) -> tuple[list[str], str, str, str]:
    """One patient's PostgreSQL search row: (grams, name key, MRN key, initials).

    The grams are every character and every bigram of the three keys, so a one-character word is one
    array element (PostgreSQL's GIN index has no prefix lookup, FTS5's ``"a"*`` has).
    """
    keys = (fold(name), fold(patient_id), initials(name))
    grams = dict.fromkeys(g for key in keys for g in [*key, *_grams(key)])
    return list(grams), keys[0], keys[1], keys[2]


def register_functions(conn: sqlite3.Connection) -> None:
    """The key functions the ``patients_search`` triggers call (deterministic, so SQLite may cache them)."""
    conn.create_function("lungdx_search_grams", 2, lambda mrn, name: index_text(mrn or "", name or ""),
                         deterministic=True)
    conn.create_function("lungdx_search_fold", 1, lambda text: fold(text or ""), deterministic=True)
    conn.create_function("lungdx_search_initials", 1, lambda text: initials(text or ""), deterministic=True)


@dataclass(frozen=True)
class SearchQuery:
    """A checked query: the index terms (as an FTS5 MATCH and as grams) and the exact condition with its parameters."""

    match: str
    where: str
    params: tuple[str, ...]
    grams: tuple[str, ...] = ()


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _word(word: str) -> tuple[list[str], str, list[str]] | None:
    """FTS terms, exact SQL condition and parameters for one query word (None: nothing searchable)."""
    key = fold(word)
    if not key:
        return None
    if any(c in _TYPED_INITIALS for c in key):  # "ㄱㅁㅈ", or "김민ㅈ" while the keyboard is still composing
        ini = "".join(c if c in _TYPED_INITIALS else initials(c) for c in key)
        runs = [r for r in "".join(c if is_syllable(c) else " " for c in key).split() if r]
        where = " AND ".join(["instr(s.initials, ?) > 0"] + ["instr(s.name_key, ?) > 0"] * len(runs))
        return _terms(ini), f"({where})", [ini, *runs]
    return _terms(key), "(instr(s.name_key, ?) > 0 OR instr(s.mrn_key, ?) > 0)", [key, key]


def _terms(key: str) -> list[str]:
    """The grams a word needs in the index: its bigrams, or the character itself when it is one."""
    if len(key) == 1:
        return [key]
    return list(dict.fromkeys(key[i:i + 2] for i in range(len(key) - 1)))


def _match_term(gram: str) -> str:
    """One FTS5 term: a bigram as a phrase, a single character as a prefix (it starts some bigram)."""
    return _quote(gram) + ("*" if len(gram) == 1 else "")


def check_query(text: str) -> str:
    """The query as searched, or :class:`ValidationError` with the reason (never an SQLite error)."""
    if len(text) > MAX_QUERY_CHARS:
        raise ValidationError(f"The search text is too long ({len(text)} characters); "
                              f"type at most {MAX_QUERY_CHARS} characters of a name or an MRN.")
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n\r" for c in text):
        raise ValidationError("The search text contains a character that cannot be typed into a name "
                              "(a control character or broken Unicode); retype it.")
    if len(text.split()) > MAX_QUERY_WORDS:
        raise ValidationError(f"Search with at most {MAX_QUERY_WORDS} words of a name or an MRN.")
    return text


def build_query(text: str) -> SearchQuery | None:
    """Every word must match (AND); None when no word has a letter or digit. Cost is linear in the text."""
    parts = [p for p in (_word(w) for w in check_query(text).split()) if p]
    if not parts:
        return None
    terms = list(dict.fromkeys(t for p in parts for t in p[0]))
    return SearchQuery(" ".join(_match_term(t) for t in terms), " AND ".join(p[1] for p in parts),
                       tuple(v for p in parts for v in p[2]), tuple(terms))
