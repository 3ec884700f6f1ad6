"""Sets ``<html lang>`` of the dashboard page to the reader's language (screen readers, fonts, hyphenation),
and tells the kernel when the page has been drawn.

Voila writes the page before the kernel knows who is reading; this invisible widget corrects the
attribute from Python and follows a language switch. It is the last widget of the header, so its
``rendered`` message means the dashboard is on screen: work that would slow the first paint (the
model warm-up) waits for it (:meth:`PageLanguage.on_rendered`).
"""

from __future__ import annotations

from collections.abc import Callable

import anywidget
import traitlets as t

_ESM = """
export default {
  render({ model, el }) {
    el.style.display = "none";
    const apply = () => { document.documentElement.lang = model.get("lang") || "en"; };
    apply();
    model.on("change:lang", apply);
    // after the browser has painted the page (two frames), not when this view is created
    requestAnimationFrame(() => requestAnimationFrame(() => model.send({ event: "rendered" })));
  },
};
"""


class PageLanguage(anywidget.AnyWidget):
    """``lang`` here is ``<html lang>`` there."""

    _esm = _ESM
    lang = t.Unicode("en").tag(sync=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._rendered: list[Callable[[], None]] = []
        self.on_msg(self._message)

    def on_rendered(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once, when the page is first drawn (later redraws of the page do not repeat it)."""
        self._rendered.append(callback)

    def _message(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("event") == "rendered":
            callbacks, self._rendered = self._rendered, []
            for callback in callbacks:
                callback()
