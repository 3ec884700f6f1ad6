"""Sets ``<html lang>`` of the dashboard page to the reader's language (screen readers, fonts, hyphenation).

Voila writes the page before the kernel knows who is reading; this invisible widget corrects the
attribute from Python and follows a language switch.
"""

from __future__ import annotations

import anywidget
import traitlets as t

_ESM = """
export default {
  render({ model, el }) {
    el.style.display = "none";
    const apply = () => { document.documentElement.lang = model.get("lang") || "en"; };
    apply();
    model.on("change:lang", apply);
  },
};
"""


class PageLanguage(anywidget.AnyWidget):
    """``lang`` here is ``<html lang>`` there."""

    _esm = _ESM
    lang = t.Unicode("en").tag(sync=True)
