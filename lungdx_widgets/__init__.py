"""LungDx Workbench: chest X-ray decision support for Jupyter and Voila.

Research use only: the model's output is decision support; a clinician decides.
The core (``config``, ``types``, ``store``, ``imaging``, ``model``, ``triage``, ``reports``)
never imports ipywidgets; ``widgets`` and ``app`` compose it.
"""

__version__ = "0.1.0"
