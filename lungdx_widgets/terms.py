"""Finding names as a clinician says them, for every model label (one place; Korean in the catalogue).

Model labels ("Effusion", "Pleural_Thickening") are identifiers; people read "pleural effusion",
"흉수". Triage reasons use these words, the dashboard and the reports show :func:`finding_name`.
Exports keep using SNOMED CT (``reports.codes``).
"""

from __future__ import annotations

from .i18n import N_, gettext

#: Triage levels as read in a worklist ("응급 / 우선 / 일반" in Korean reading-room usage).
LEVELS: dict[str, str] = {"emergent": N_("emergent"), "urgent": N_("urgent"), "routine": N_("routine")}

#: Sex codes as words (the store keeps M / F / O / "").
SEXES: dict[str, str] = {"M": N_("male"), "F": N_("female"), "O": N_("other"), "": N_("unknown")}

#: Stored enumerations shown as words (allergy kinds and severities, box sources and states, verdicts,
#: AI calls): the catalogue translates them where they are shown.
WORDS: tuple[str, ...] = (
    N_("drug"), N_("food"), N_("other"), N_("mild"), N_("moderate"), N_("severe"), N_("life-threatening"),
    N_("ai"), N_("human"), N_("proposed"), N_("accepted"), N_("rejected"), N_("edited"),
    N_("present"), N_("absent"), N_("uncertain"), N_("positive"), N_("negative"), N_("not assessed"),
    N_("no threshold"), N_("active"), N_("resolved"), N_("inactive"),
    N_("encounter"), N_("allergy"), N_("condition"), N_("medication"), N_("note"),
    N_("clinician"), N_("analyst"), N_("admin"),
)

#: model label → plain English term (lower case, as inside a sentence)
FINDINGS: dict[str, str] = {
    "Pneumonia": N_("pneumonia"),
    "Lung Opacity": N_("lung opacity"),
    "Consolidation": N_("consolidation"),
    "Infiltration": N_("infiltration"),
    "Atelectasis": N_("atelectasis"),
    "Effusion": N_("pleural effusion"),
    "Edema": N_("pulmonary oedema"),
    "Pneumothorax": N_("pneumothorax"),
    "Cardiomegaly": N_("cardiomegaly"),
    "Nodule": N_("nodule"),
    "Mass": N_("mass"),
    "Emphysema": N_("emphysema"),
    "Fibrosis": N_("fibrosis"),
    "Pleural_Thickening": N_("pleural thickening"),
    "Hernia": N_("hernia"),
    "Tuberculosis": N_("tuberculosis"),
    "COVID-19": N_("COVID-19"),
    "Fracture": N_("fracture"),
    "Lung Lesion": N_("lung lesion"),
    "Enlarged Cardiomediastinum": N_("enlarged cardiomediastinum"),
    "No Finding": N_("no finding"),
    "Normal": N_("normal"),
}


def finding_term(label: str) -> str:
    """The English term inside a sentence ("pleural effusion" for "Effusion"); unknown labels as words."""
    return FINDINGS.get(label) or label.replace("_", " ").lower()


def finding_name(label: str, lang: str | None = None) -> str:
    """What a reader sees for a label: the label itself in English, the radiology term in Korean (폐렴, 흉수 …)."""
    if (lang or "") == "en":
        return label.replace("_", " ")
    translated = gettext(finding_term(label), lang)
    return label.replace("_", " ") if translated == finding_term(label) else translated


def level_name(level: str, lang: str | None = None) -> str:
    """A triage level in the reader's language (emergent → 응급)."""
    return gettext(LEVELS.get(level, level), lang)
