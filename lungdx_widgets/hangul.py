"""Folding text for matching, and Hangul initial consonants (초성): shared by patient search and the vocabulary."""

from __future__ import annotations

import unicodedata

_SYLLABLE_FIRST, _SYLLABLE_LAST = 0xAC00, 0xD7A3
_SYLLABLES_PER_INITIAL = 21 * 28
#: The 19 initial consonants, as the compatibility jamo a Korean keyboard types (ㄱ U+3131 ...).
INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_CONJOINING_TO_TYPED = {0x1100 + i: c for i, c in enumerate(INITIALS)}


def fold(text: str) -> str:
    """Letters and digits only, case- and accent-folded, Hangul kept composed ("José O'Brien" → "joseobrien")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))
    # NFKD turns a typed initial (ㄱ U+3131) into a conjoining one (U+1100) that NFC leaves alone: map it back
    return unicodedata.normalize("NFC", kept).translate(_CONJOINING_TO_TYPED)


def is_syllable(c: str) -> bool:
    return _SYLLABLE_FIRST <= ord(c) <= _SYLLABLE_LAST


def initials(text: str) -> str:
    """The initial consonant of each Hangul syllable; other characters are left out ("김민준 Kim" → "ㄱㅁㅈ")."""
    return "".join(INITIALS[(ord(c) - _SYLLABLE_FIRST) // _SYLLABLES_PER_INITIAL]
                   for c in unicodedata.normalize("NFC", text) if is_syllable(c))
