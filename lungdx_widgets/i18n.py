"""Message catalogues (gettext, maintained with Babel): English source strings, Korean translations.

- ``_("text")`` translates into the language of the person acting: the process's (:func:`set_language`;
  a Voila kernel serves one user, whose language is stored with the account), or a block's
  (:func:`use_language`, e.g. a report for another reader).
- ``N_("text")`` only marks a string for the catalogue (constants translated where they are shown).
- ``T_("possible {finding} in {who}")`` marks a *template*: stored text made from it (triage reasons are
  stored in English) is translated later by :func:`translate`, which recognises the template and
  translates each filled-in part too.

The catalogues are ``lungdx_widgets/locale/<lang>/LC_MESSAGES/lungdx.po`` (the source of truth, in
git). ``make setup`` compiles them to ``.mo`` (``pybabel compile``); when a ``.mo`` is missing or older
than its ``.po`` the ``.po`` is compiled in memory, so a checkout never shows stale text.
"""

from __future__ import annotations

import gettext as _gettext
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path

DOMAIN = "lungdx"
LOCALE_DIR = Path(__file__).parent / "locale"
#: Languages with a catalogue, source language first. A user's language is one of these.
LANGUAGES: tuple[str, ...] = ("en", "ko")
DEFAULT_LANGUAGE = "en"
#: What each language is called in its own language (the language switch shows these).
LANGUAGE_NAMES = {"en": "English", "ko": "한국어"}
#: CSS font stack with Hangul glyphs first (Debian's fonts-noto-cjk, installed by ``make setup``), so
#: Korean never renders as boxes; dashboard.css declares the same stack.
FONT_STACK = ('"Noto Sans CJK KR", "Noto Sans KR", "Apple SD Gothic Neo", "Malgun Gothic", system-ui, '
              '-apple-system, "Segoe UI", sans-serif')
#: The same font as a file, for pictures drawn in Python (report overlays); face 1 of the collection is KR.
CJK_FONT_FILE, CJK_FONT_FACE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 1

#: A block's language (:func:`use_language`); outside any block, the process's (:func:`set_language`).
_current: ContextVar[str | None] = ContextVar("lungdx_language", default=None)
#: The language of the person this process serves: a Voila kernel serves one user, and widget callbacks
#: run in contexts of their own, so a context variable alone would lose it between clicks.
_process_language = DEFAULT_LANGUAGE
_TEMPLATES: dict[str, re.Pattern[str]] = {}
_FIELD = re.compile(r"\{(\w+)\}")


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it here."""
    return message


def T_(template: str) -> str:
    """Mark and register a ``str.format`` template whose filled-in text :func:`translate` can translate."""
    if template not in _TEMPLATES:
        parts = _FIELD.split(template)
        pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        _TEMPLATES[template] = re.compile(f"^{pattern}$", re.DOTALL)
    return template


def check_language(lang: str | None) -> str:
    """``lang`` if it has a catalogue, else the default (an unknown code never breaks a page)."""
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def language() -> str:
    """The language of the person acting now."""
    return _current.get() or _process_language


def set_language(lang: str | None) -> str:
    """Make ``lang`` the language of this process (a kernel serves one user); returns what was set."""
    global _process_language
    _process_language = check_language(lang)
    return _process_language


@contextmanager
def use_language(lang: str | None) -> Iterator[str]:
    """Translate into ``lang`` inside the block (reports for a given reader, tests)."""
    token = _current.set(check_language(lang))
    try:
        yield language()
    finally:
        _current.reset(token)


def _po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=None)
def translations(lang: str) -> _gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (English needs none: the source strings are English)."""
    po, mo = _po_path(lang), _po_path(lang).with_suffix(".mo")
    if lang == "en" or not po.is_file():
        return _gettext.NullTranslations()
    if mo.is_file() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as fp:
            return _gettext.GNUTranslations(fp)
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as fp:
        catalog = read_po(fp, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


def gettext(message: str, lang: str | None = None) -> str:
    """``message`` in ``lang`` (default: the acting person's language); untranslated text stays English."""
    return translations(check_language(lang or language())).gettext(message)


_ = gettext


def untranslate(text: str, lang: str) -> str:
    """The English source of ``text`` shown in ``lang`` (to re-show a label in another language), else ``text``."""
    if lang == DEFAULT_LANGUAGE:
        return text
    return _reverse(lang).get(text, text)


@lru_cache(maxsize=None)
def _reverse(lang: str) -> dict[str, str]:
    """msgstr → msgid; where two sources share a translation, the capitalised one (a label) wins."""
    catalog = getattr(translations(lang), "_catalog", {})
    pairs = sorted(((msgstr, msgid) for msgid, msgstr in catalog.items() if isinstance(msgid, str) and msgid),
                   key=lambda pair: pair[1][:1].isupper())
    return dict(pairs)


def translate(text: str, lang: str | None = None) -> str:
    """Stored English text in ``lang``: a catalogue entry, or text made from a :func:`T_` template.

    The parts filled into a template are translated the same way (a list "COPD, age 75" item by item;
    a vocabulary term by its Korean term), so "raised from routine: COPD, age 75" reads
    "일반에서 우선으로 상향: 만성 폐쇄성 폐질환, 75세" in Korean. Unknown text is returned as it is.
    """
    lang = check_language(lang or language())
    if lang == DEFAULT_LANGUAGE or not text:
        return text
    found = translations(lang).gettext(text)
    if found != text:
        return found
    # the most specific template first: "possible large {finding} (covers …" before "possible {finding} in …"
    for template in sorted(_TEMPLATES, key=lambda t: -len(_FIELD.sub("", t))):
        m = _TEMPLATES[template].match(text)
        if m:
            parts = {k: _translate_part(value, lang) for k, value in m.groupdict().items()}
            return gettext(template, lang).format(**parts)
    from .vocabulary import find_term

    return find_term(text, lang) or text


def _translate_part(value: str, lang: str) -> str:
    """A filled-in part: as a whole if known, else as a list ("COPD, age 75") item by item."""
    whole = translate(value, lang)
    if whole != value or ", " not in value:
        return whole
    return ", ".join(translate(item, lang) for item in value.split(", "))


def negotiate(accept_language: str | None) -> str:
    """The best catalogue language for an ``Accept-Language`` header (``ko-KR,ko;q=0.9,en;q=0.8`` → ko)."""
    from babel import Locale, UnknownLocaleError, negotiate_locale

    wanted = []
    for item in (accept_language or "").split(","):
        tag, _sep, q = item.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        if tag:
            wanted.append((weight, tag.strip().replace("_", "-")))
    preferred = [tag for _w, tag in sorted(wanted, key=lambda p: -p[0])]
    found = negotiate_locale(preferred, list(LANGUAGES), sep="-")
    if found is None:  # "ko-KR" alone: match the language part
        for tag in preferred:
            try:
                if Locale.parse(tag, sep="-").language in LANGUAGES:
                    return Locale.parse(tag, sep="-").language
            except (ValueError, UnknownLocaleError):
                continue
    return check_language(found)


def page_language(accept_language: str | None, lang: str | None = None) -> dict[str, object]:
    """Template variables for a page: ``lang`` (for ``<html lang>``), ``_`` and ``fonts``.

    ``_`` is :func:`translate`, so a message filled in from a template ("… in 3 minutes") reads in ``lang`` too.

    ``lang`` is the account's language when known, else the browser's ``Accept-Language``.
    """
    chosen = choose_language(lang, accept_language)
    return {"lang": chosen, "_": lambda message: translate(message, chosen), "fonts": FONT_STACK}


#: Environment variable Voila derives from the browser's ``Accept-Language`` header (server.launch passes it).
ACCEPT_LANGUAGE_ENV = "HTTP_ACCEPT_LANGUAGE"


def choose_language(account_language: str | None, accept_language: str | None = None) -> str:
    """The account's language when it chose one, else the browser's (``Accept-Language``; in a Voila
    kernel read from :data:`ACCEPT_LANGUAGE_ENV` when not given)."""
    if account_language:
        return check_language(account_language)
    if accept_language is None:
        import os

        accept_language = os.environ.get(ACCEPT_LANGUAGE_ENV)
    return negotiate(accept_language)


def format_datetime(value: datetime | str, lang: str | None = None, tz: tzinfo | None = None) -> str:
    """A date-time in the reader's locale with its time zone shown ("2026. 12. 2. 오후 1:05:00 KST").

    A stored ISO date without a time is shown as a date; text that is not a date is returned as it is.
    """
    from babel.dates import format_date
    from babel.dates import format_datetime as babel_format

    if isinstance(value, str):
        if len(value.strip()) <= 10:  # a date alone ("2024-05-31"): no time to invent, no zone to show
            try:
                return format_date(datetime.fromisoformat(value.strip()).date(), "medium",
                                   locale=check_language(lang or language()))
            except ValueError:
                return value
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        value = parsed
    if value.tzinfo is None:
        value = value.astimezone()
    tz = tz or value.tzinfo
    return babel_format(value, "medium", tzinfo=tz, locale=check_language(lang or language())) + \
        " " + value.astimezone(tz).strftime("%Z")


def extract_python(fileobj, keywords, comment_tags, options):  # noqa: ARG001 - Babel's extractor signature
    """Babel extraction method (``babel.cfg``): every ``_("…")``, ``N_``, ``T_`` and ``gettext`` call, including
    those inside f-strings, which Babel's own Python extractor does not see."""
    import ast

    tree = ast.parse(fileobj.read().decode("utf-8"))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in keywords
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield node.lineno, node.func.id, node.args[0].value, []
