"""The clinical vocabulary: problem-list conditions and allergy substances as SNOMED CT codes, in English and Korean.

One place for each concept, so "심부전", "CHF" and "heart failure" are the same risk factor for
triage (``triage.RULES`` names concepts by code), the pick-list offers the same term in both
languages and the exports carry the code (``reports.codes.SNOMED_SYSTEM``). Only codes we are sure of
are listed; anything else stays free text, as typed. Free text is coded when it names exactly one
concept exactly (:func:`code_text`); text that mentions concepts among other words ("Asthma and COPD
overlap", "no history of asthma") is flagged "review", not guessed — triage still reads the
concepts it mentions (:func:`concepts_named`), erring towards a risk factor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .hangul import fold

Kind = Literal["condition", "substance"]
#: How a stored condition or allergy got its code: picked or typed exactly; free text naming no concept;
#: free text mentioning concepts among other words, for a person to review.
Coding = Literal["coded", "free", "review"]
CODINGS: tuple[str, ...] = ("coded", "free", "review")


@dataclass(frozen=True)
class Concept:
    """One SNOMED CT concept: its preferred English and Korean terms and the synonyms people type."""

    code: str
    kind: Kind
    en: str
    ko: str
    synonyms: tuple[str, ...] = ()

    def term(self, lang: str = "en") -> str:
        return self.ko if lang == "ko" else self.en

    @property
    def in_sentence(self) -> str:
        """The English term inside a sentence: "heart failure", but "COPD" and "HIV infection" as they are."""
        first = self.en.split()[0]
        return self.en if sum(ch.isupper() for ch in first) > 1 else self.en[:1].lower() + self.en[1:]

    @property
    def names(self) -> tuple[str, ...]:
        return (self.en, self.ko, *self.synonyms)


def _c(code: str, en: str, ko: str, *synonyms: str) -> Concept:
    return Concept(code, "condition", en, ko, synonyms)


def _s(code: str, en: str, ko: str, *synonyms: str) -> Concept:
    return Concept(code, "substance", en, ko, synonyms)


# SNOMED CT codes the risk rules refer to by name (triage reads these, not the terms).
COPD, ASTHMA, EMPHYSEMA, BRONCHIECTASIS = "13645005", "195967001", "87433001", "12295008"
INTERSTITIAL_LUNG_DISEASE, PULMONARY_FIBROSIS, CYSTIC_FIBROSIS = "233703007", "51615001", "190905008"
CHRONIC_BRONCHITIS = "63480004"
HEART_FAILURE, CONGESTIVE_HEART_FAILURE, CARDIOMYOPATHY = "84114007", "42343007", "85898001"
CORONARY_DISEASE, ISCHAEMIC_HEART_DISEASE, HEART_VALVE_DISORDER = "53741008", "414545008", "368009"
ATRIAL_FIBRILLATION = "49436004"
IMMUNOSUPPRESSION, IMMUNODEFICIENCY, HIV, KIDNEY_TRANSPLANT = "38013005", "234532001", "86406008", "70536003"
CHEMOTHERAPY, NEUTROPENIA, LEUKAEMIA, LYMPHOMA = "367336001", "165517008", "93143009", "118600007"

CONCEPTS: tuple[Concept, ...] = (
    _c(COPD, "COPD", "만성 폐쇄성 폐질환", "chronic obstructive pulmonary disease", "chronic obstructive lung disease"),
    _c(ASTHMA, "Asthma", "천식", "bronchial asthma", "기관지 천식"),
    _c(EMPHYSEMA, "Pulmonary emphysema", "폐기종", "emphysema"),
    _c(BRONCHIECTASIS, "Bronchiectasis", "기관지 확장증"),
    _c(INTERSTITIAL_LUNG_DISEASE, "Interstitial lung disease", "간질성 폐질환", "ILD"),
    _c(PULMONARY_FIBROSIS, "Pulmonary fibrosis", "폐섬유증", "fibrosis of lung"),
    _c(CYSTIC_FIBROSIS, "Cystic fibrosis", "낭성 섬유증", "낭포성 섬유증"),
    _c(CHRONIC_BRONCHITIS, "Chronic bronchitis", "만성 기관지염"),
    _c(HEART_FAILURE, "Heart failure", "심부전", "cardiac failure", "심장 기능 상실"),
    _c(CONGESTIVE_HEART_FAILURE, "Congestive heart failure", "울혈성 심부전", "CHF"),
    _c(CARDIOMYOPATHY, "Cardiomyopathy", "심근병증", "심근증"),
    _c(CORONARY_DISEASE, "Coronary artery disease", "관상동맥 질환", "coronary arteriosclerosis", "CAD"),
    _c(ISCHAEMIC_HEART_DISEASE, "Ischaemic heart disease", "허혈성 심질환", "ischemic heart disease", "IHD",
       "허혈성 심장질환"),
    _c(HEART_VALVE_DISORDER, "Heart valve disorder", "심장판막 질환", "valvular heart disease", "판막 질환"),
    _c(ATRIAL_FIBRILLATION, "Atrial fibrillation", "심방세동", "AF", "AFib"),
    _c(IMMUNOSUPPRESSION, "Immunosuppression", "면역억제 상태", "immunosuppressed", "면역억제"),
    _c(IMMUNODEFICIENCY, "Immunodeficiency disorder", "면역결핍 질환", "immunodeficiency", "immunocompromised",
       "면역결핍"),
    _c(HIV, "HIV infection", "HIV 감염", "human immunodeficiency virus infection", "HIV", "인간면역결핍바이러스 감염"),
    _c(KIDNEY_TRANSPLANT, "Kidney transplant", "신장 이식", "renal transplant"),
    _c(CHEMOTHERAPY, "Chemotherapy", "항암화학요법", "항암 치료"),
    _c(NEUTROPENIA, "Neutropenia", "호중구 감소증"),
    _c(LEUKAEMIA, "Leukaemia", "백혈병", "leukemia"),
    _c(LYMPHOMA, "Lymphoma", "림프종", "malignant lymphoma"),
    _c("44054006", "Type 2 diabetes mellitus", "제2형 당뇨병", "type 2 diabetes", "T2DM", "2형 당뇨병"),
    _c("38341003", "Hypertension", "고혈압", "high blood pressure", "HTN"),
    _c("709044004", "Chronic kidney disease", "만성 신장병", "CKD", "만성 콩팥병", "만성신부전"),
    _c("69896004", "Rheumatoid arthritis", "류마티스 관절염", "RA"),
    _c("93880001", "Primary malignant neoplasm of lung", "폐암", "lung cancer", "원발성 폐암"),
    _c("8517006", "Ex-smoker", "과거 흡연자", "former smoker", "금연자"),
    _c("154283005", "Pulmonary tuberculosis", "폐결핵", "pulmonary TB"),
    _s("372687004", "Amoxicillin", "아목시실린"),
    _s("387458008", "Aspirin", "아스피린", "acetylsalicylic acid"),
    _s("387494007", "Codeine", "코데인"),
    _s("111088007", "Latex", "라텍스", "natural rubber latex"),
    _s("256349002", "Peanut", "땅콩", "peanuts"),
    _s("102263004", "Eggs", "달걀", "egg", "계란"),
    _s("3718001", "Cow's milk", "우유", "milk"),
)

_BY_CODE = {c.code: c for c in CONCEPTS}
_PICKED = re.compile(r"(.+?) \((.+)\)")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def concept(code: str) -> Concept | None:
    return _BY_CODE.get(code)


def choices(kind: Kind, lang: str = "en") -> list[tuple[str, str]]:
    """(label, code) pairs for a pick-list: the term in ``lang``, the other language after it."""
    other = "en" if lang == "ko" else "ko"
    return sorted(((f"{c.term(lang)} ({c.term(other)})", c.code) for c in CONCEPTS if c.kind == kind),
                  key=lambda pair: pair[0].casefold())


def _names_in(text: str, name: str) -> bool:
    """Whether ``name`` occurs in ``text``: whole words for Latin names ("hiv" not in "archival"), spacing-free for Hangul."""
    if _HANGUL.search(name):
        return fold(name) in fold(text)
    return re.search(rf"(?<![^\W_]){re.escape(name.casefold())}(?![^\W_])", text.casefold()) is not None


def concepts_named(text: str, kind: Kind | None = None) -> list[Concept]:
    """Every concept whose term or synonym occurs in free ``text`` ("Immunosuppression (kidney transplant)": two).

    A concept named only inside a longer name of another one ("heart failure" in "congestive heart
    failure") is left out: the text names the more specific concept.
    """
    found = {c: [n for n in c.names if _names_in(text, n)] for c in CONCEPTS if kind is None or c.kind == kind}
    found = {c: names for c, names in found.items() if names}

    def inside_another(c: Concept) -> bool:
        return all(any(o is not c and len(big) > len(small) and _names_in(big, small)
                       for o, bigs in found.items() for big in bigs) for small in found[c])

    return [c for c in found if not inside_another(c)]


def code_text(text: str, kind: Kind) -> tuple[str, Coding]:
    """The code that free text is exactly a name of: ("84114007", "coded"), else ("", "free") or ("", "review")."""
    key = fold(text)
    exact = {c.code for c in CONCEPTS if c.kind == kind and key and any(fold(n) == key for n in c.names)}
    picked = _PICKED.fullmatch(text.strip())
    if not exact and picked:  # a pick-list entry as :func:`choices` writes it: "심부전 (Heart failure)"
        both = [{c.code for c in CONCEPTS if c.kind == kind and any(fold(n) == fold(part) for n in c.names)}
                for part in picked.groups()]
        exact = both[0] & both[1]
    if len(exact) == 1:
        return exact.pop(), "coded"
    return "", "review" if exact or concepts_named(text, kind) else "free"



def term(code: str, text: str, lang: str = "en") -> str:
    """What to show for a stored item: the text as typed when it is in the reader's language, else the
    coded concept's term in ``lang`` ("땅콩" reads "Peanut" in English; "Peanuts" stays "Peanuts")."""
    found = concept(code) if code else None
    if found is None or bool(_HANGUL.search(text)) == (lang == "ko"):
        return text
    return found.term(lang)


def find_term(text: str, lang: str = "en") -> str | None:
    """The ``lang`` term of the one concept ``text`` is exactly a name of (stored text shown in Korean), else None."""
    code, coding = code_text(text, "condition")
    if coding != "coded":
        code, coding = code_text(text, "substance")
    return term(code, text, lang) if coding == "coded" else None
