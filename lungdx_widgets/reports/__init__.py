"""Reports and exports of a study: HTML report, FHIR R4 DiagnosticReport, DICOM SR, research dataset.

Each renderer takes a :class:`~lungdx_widgets.reports.context.StudyContext` (read once from the
store by :func:`~lungdx_widgets.reports.context.study_context`) and writes nothing to the store;
:mod:`lungdx_widgets.reports.export` writes files and the audit rows.
"""

#: ``lungdx export --format`` choices (here so the CLI need not import the renderers to list them).
EXPORT_FORMATS = ("coco", "fhir", "sr", "html", "dicom-deid")
