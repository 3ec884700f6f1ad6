"""What every picture and page shows the same way: the heat colour table and the research-use notice.

Why here: the viewer (JavaScript, drawn in the browser) and the report overlay (Python, burned into
a PNG) used to carry their own copies of the colour table, and the dashboard and reports two
wordings of the notice. Python owns both; the viewer receives the table as a synced trait
(:func:`heat_lut`), so a report looks like the screen by construction.
"""

from __future__ import annotations

import numpy as np

from .i18n import N_

#: An approximation of the "turbo" map (perceptually ordered, readable on grey): (value, r, g, b).
HEAT_STOPS: tuple[tuple[float, int, int, int], ...] = (
    (0.0, 48, 18, 59), (0.1, 65, 69, 171), (0.2, 70, 117, 237), (0.3, 57, 162, 252),
    (0.4, 27, 207, 212), (0.5, 36, 236, 166), (0.6, 97, 252, 108), (0.7, 164, 252, 59),
    (0.8, 209, 232, 52), (0.9, 243, 198, 58), (0.95, 250, 150, 40), (1.0, 220, 60, 20),
)
#: Heat below this fades out towards transparent, so the lungs under a weak map stay readable.
HEAT_ALPHA_KNEE = 0.35

#: The one research-use notice (dashboard header, findings panel, HTML/PDF reports, FHIR conclusion).
RESEARCH_NOTICE = N_("Research use only. Not a medical device and not for clinical decisions: "
                     "AI output is decision support that a clinician must confirm.")


def heat_colours(heat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[0,1] heat → (rgb in [0,255], alpha in [0,1]) by the colour table and the fade-out knee."""
    heat = np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0)
    stops = np.asarray(HEAT_STOPS, dtype=np.float32)
    rgb = np.stack([np.interp(heat, stops[:, 0], stops[:, c]) for c in (1, 2, 3)], axis=-1)
    return rgb, np.minimum(1.0, heat / HEAT_ALPHA_KNEE)


def heat_lut() -> list[int]:
    """The table as 256 RGBA entries, flattened (what the viewer indexes by 8-bit heat value)."""
    rgb, alpha = heat_colours(np.arange(256, dtype=np.float32) / 255.0)
    rgba = np.concatenate([rgb, alpha[:, None] * 255.0], axis=1)
    return np.rint(rgba).astype(np.uint8).ravel().tolist()
