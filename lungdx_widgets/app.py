"""Dashboard: the clinician's one screen, composed from the widget families.

Left: patient search and today's worklist. Centre: patient banner (allergies always visible),
upload, and the viewer/editor. Right: findings, record, priors and sign-off as tabs. The
dashboard only wires widgets together; every read and write goes through the store under the
logged-in user (``session.current_user``), so the audit log names the real person.
"""

from __future__ import annotations

import logging

import ipywidgets as w

from .errors import LungDxError
from .policy import Permission, can
from .session import current_user
from .widgets.findings import (ANY_ABNORMALITY, FindingsPanel, preload_chart_code, view_from_findings,
                               view_from_prediction)
from .widgets.patient_record import PatientBanner, PatientRecordPanel
from .widgets.patient_search import PatientSearch
from .widgets.priors import PriorFilm, PriorsPanel
from .widgets.signoff import SignoffPanel
from .i18n import LANGUAGE_NAMES, LANGUAGES, N_, choose_language, format_datetime, set_language
from .i18n import gettext as _
from .terms import finding_name
from .widgets.page_language import PageLanguage
from .widgets.theme import RESEARCH_NOTICE, card, esc, message_html, retranslate, stylesheet
from .services import ProvidesAnalyzer
from .widgets.upload import ANALYZER, UploadOutcome, UploadPanel
from .widgets.editor import AnnotationEditor, UnsavedPrompt
from .widgets.patient_form import PatientForm
from .widgets.report import ReportDownload
from .widgets.viewer import ImageViewer
from .widgets.worklist import Worklist

log = logging.getLogger(__name__)

TAB_FINDINGS, TAB_RECORD, TAB_PRIORS, TAB_SIGNOFF = range(4)
TAB_TITLES = (N_("Findings"), N_("Record"), N_("Priors"), N_("Sign-off"))
#: Image panel height that keeps the whole main path on a 1440x900 screen.
VIEWER_HEIGHT = 640
LEFT_WIDTH, RIGHT_WIDTH = 270, 410
LOGOUT_URL = "/logout"
#: Analysts also work in JupyterLab: their header links to it, opened in the notebooks folder.
LAB_URL = "/lab/tree/notebooks"
FOCUS_LABEL = N_("Focus image")
FOCUS_TIP = N_("Hide the side panels so the radiograph fills the screen (press again to show them)")


def _open_default_store():
    from .store import open_store

    return open_store()


class Dashboard(w.VBox):
    """The clinician's single screen. ``store``/``username`` are injectable for tests and notebooks."""

    def __init__(self, store=None, username: str | None = None, *, analyzer: ProvidesAnalyzer = ANALYZER,
                 warm_up_model: bool = True) -> None:
        super().__init__(layout=w.Layout(display="flex", flex_flow="column"))
        self.add_class("lx-dashboard")
        self.store = store if store is not None else _open_default_store()
        try:
            self.user = self.store.get_user(username) if username else current_user(self.store)
            if self.user is None or self.user.disabled:
                raise LungDxError(f"User '{username}' cannot use the dashboard.")
        except LungDxError as exc:
            self.children: tuple[w.Widget, ...] = (stylesheet(), w.HTML(message_html(str(exc), "error")))
            self.user = None
            return
        self.actor = self.user.username
        self.language = set_language(choose_language(self.user.language))  # the account's, else the browser's
        self.patient_id: str | None = None
        self.study_id: int | None = None
        self._restoring = False
        self._analyzer = analyzer
        self._build()
        if warm_up_model and can(self.user, Permission.ANALYZE):
            # after the first paint: the warm-up's imports would otherwise compete with drawing the worklist
            self.page_language.on_rendered(lambda: analyzer.warm_up(before=preload_chart_code))

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        role = self.user.role
        self.search = PatientSearch(self.store, actor=self.actor)
        self.worklist = Worklist(self.store, actor=self.actor)
        self.banner = PatientBanner()
        self.record = PatientRecordPanel(self.store, self.actor, role)
        self.upload = UploadPanel(self.store, self.actor, record_for=lambda _pid: self.record.record,
                                  analyzer=self._analyzer)
        self.viewer = ImageViewer(readonly=not can(role, Permission.ANNOTATE), height=VIEWER_HEIGHT)
        self.viewer.add_class("lx-viewer")
        self.editor = AnnotationEditor(self.store, self.actor, viewer=self.viewer)
        self.unsaved = UnsavedPrompt(self.editor)
        self.findings = FindingsPanel()
        if can(role, Permission.OVERRIDE_TRIAGE):
            self.findings.triage_form.on_submit(self._override_triage)
        self.priors = PriorsPanel(self.store)
        self.prior_film = PriorFilm(self.store, height=VIEWER_HEIGHT, actor=self.actor)
        self.viewer.layout = w.Layout(flex="1 1 0", min_width="0")
        #: The current film, and the earlier one beside it when the Priors tab asks for side by side.
        self.films = w.HBox([self.viewer], layout=w.Layout(width="100%", flex="1 1 auto", min_height="0"))
        self.films.add_class("lx-films")
        self.signoff = SignoffPanel(self.store, self.actor, can_sign=can(role, Permission.SIGN),
                                    boxes_for=self._saved_boxes)
        self.report = ReportDownload(self.store, self.actor)
        self.signoff_tab = w.VBox([self.signoff, self.report])
        self.register = PatientForm(self.store, self.actor, "new", on_saved=self._registered)
        self.demographics = PatientForm(self.store, self.actor, "edit", on_saved=self._demographics_saved)
        can_register = can(role, Permission.REGISTER_PATIENT)
        self.register_box = w.Accordion(children=[self.register], titles=(_("Register new patient"),), selected_index=None,
                                        layout=w.Layout(display=None if can_register else "none"))
        self.register_box.add_class("lx-register")
        self.demographics_box = w.Accordion(children=[self.demographics], titles=(_("Edit demographics"),),
                                            selected_index=None, layout=w.Layout(display="none"))
        self.demographics_box.add_class("lx-demographics")
        self._can_register = can_register
        self.record_tab = w.VBox([self.record, self.demographics_box])
        self.tabs = w.Tab(children=[self.findings, self.record_tab, self.priors, self.signoff_tab],
                          titles=tuple(_(title) for title in TAB_TITLES),
                          layout=w.Layout(flex="1 1 auto", min_height="0"))
        self.tabs.add_class("lx-tabs")
        if not can(role, Permission.ANALYZE):
            self.upload.layout.display = "none"

        self.focus = w.ToggleButton(value=False, description=_(FOCUS_LABEL), tooltip=_(FOCUS_TIP))
        self.focus.add_class("lx-focus-toggle")
        self.user_links = w.HTML()
        self.user_links.add_class("lx-user-links")
        self._notice = w.HTML(layout=w.Layout(flex="1 1 auto"))
        self._notice.add_class("lx-header-notice")
        self.language_switch = w.Dropdown(options=[(LANGUAGE_NAMES[lang], lang) for lang in LANGUAGES],
                                          value=self.language, layout=w.Layout(width="96px"))
        self.language_switch.add_class("lx-language")
        self.language_switch.observe(lambda ch: self.switch_language(ch["new"]), names="value")
        self.page_language = PageLanguage(lang=self.language)  # <html lang> of the page
        self._header_texts()
        header = w.HBox([
            w.HTML("<h1>LungDx Workbench</h1>", layout=w.Layout(width="220px")),
            self._notice,
            self.user_links,
            self.language_switch,
            self.page_language,
            self.focus,
        ], layout=w.Layout(width="100%"))
        header.add_class("lx-header")
        left = w.VBox([card([self.search, self.register_box], "lx-search-card", flex="0 0 auto"),
                       card([self.worklist], "lx-worklist-card", flex="1 1 auto", min_height="0")],
                      layout=w.Layout(width=f"{LEFT_WIDTH}px", min_width=f"{LEFT_WIDTH}px", height="100%"))
        left.add_class("lx-col")
        left.add_class("lx-left")
        centre = card([self.banner, self.upload, self.unsaved.widget, self.films], "lx-centre",
                      flex="1 1 auto", min_width="0", height="100%")
        right = w.VBox([self.tabs], layout=w.Layout(width=f"{RIGHT_WIDTH}px", min_width=f"{RIGHT_WIDTH}px", height="100%"))
        right.add_class("lx-col")
        right.add_class("lx-right")
        body = w.HBox([left, centre, right], layout=w.Layout(flex="1 1 auto", min_height="0", width="100%"))
        body.add_class("lx-body")
        self.children = (stylesheet(), header, body)
        self._side_columns = (left, right)
        self.focus.observe(lambda ch: self.set_focus(ch["new"]), names="value")

        self.search.observe(self._patient_picked, names="selected_patient_id")
        self.worklist.observe(self._study_picked, names="selected_study_id")
        self.record.on_changed(self._record_changed)
        self.editor.on_saved(self._boxes_saved)
        self.upload.on_done(self._on_uploaded)
        self.findings.observe(lambda ch: self._follow_label(ch["new"]), names="selected_label")
        self.viewer.observe(lambda ch: self._heatmap_chosen(ch["new"]), names="heatmap_label")
        self.tabs.observe(lambda ch: self._tab_chosen(ch["new"]), names="selected_index")
        self.signoff.on_signed(self._signed)
        self.priors.on_compare(self._show_prior)
        self.prior_film.close.on_click(lambda _b: setattr(self.priors.side_by_side, "value", False))

    def _signed(self, _study_id: int) -> None:
        self.worklist.refresh()
        self.priors.redraw()  # the progression statements need this signature

    def _show_prior(self, study_id: int | None) -> None:
        """The earlier film beside the current one (None: the current film alone again)."""
        if study_id is None:
            self.films.children = (self.viewer,)
            return
        try:
            self.prior_film.show(study_id)
        except LungDxError as exc:
            self.viewer.show_message(str(exc), "error")
            return
        self.films.children = (self.viewer, self.prior_film)

    def set_focus(self, on: bool) -> None:
        """Hide (or show again) the side columns so the radiograph takes the whole screen."""
        for column in self._side_columns:
            column.layout.display = "none" if on else None
        (self.add_class if on else self.remove_class)("lx-focus")
        self.focus.value = on

    # ------------------------------------------------------------------ language
    def _header_texts(self) -> None:
        """The header's words in the current language (again after a language switch)."""
        role = self.user.role
        lab = f"<a class='lx-lab' href='{LAB_URL}' target='_top'>JupyterLab</a>" if can(role, Permission.USE_LAB) else ""
        self._notice.value = f"<span class='lx-notice'>{esc(_(RESEARCH_NOTICE))}</span>"
        self.user_links.value = (f"<span class='lx-user'>{esc(self.user.display_name or self.actor)} · {esc(_(role))}</span>"
                                 f"{lab}<a class='lx-logout' href='{LOGOUT_URL}' target='_top'>{esc(_('Log out'))}</a>")

    def switch_language(self, lang: str) -> None:
        """Show the dashboard in ``lang`` and keep it with the account; the open patient, study and
        unsaved box edits stay as they are (only words are redrawn, nothing is re-read or re-opened)."""
        old = self.language
        if lang == old:
            return
        self.language = set_language(lang)
        self.page_language.lang = self.language
        try:
            self.store.set_user_language(self.actor, self.language, actor=self.actor)
        except LungDxError as exc:
            log.warning("language not saved for %s: %s", self.actor, exc)
        retranslate(self, old, self.language)
        self.tabs.titles = tuple(_(title) for title in TAB_TITLES)
        self._header_texts()
        self.worklist.refresh()
        if self.search.query.value:
            self.search.search(self.search.query.value)
        if self.findings.view is not None:
            self.findings.show(self.findings.view)
        self.record.redraw()
        self.priors.redraw()
        if self.prior_film.study_id is not None and len(self.films.children) > 1:
            self.prior_film.show(self.prior_film.study_id)
        if self.record.record is not None and self.record.record.patient.patient_id == self.patient_id:
            self.banner.show(self.record.record)

    # ------------------------------------------------------------------ choosing, guarded
    def _patient_picked(self, change) -> None:
        """A pick in the search list; unsaved box edits ask save / discard / stay first."""
        pid = change["new"]
        if not pid or self._restoring or pid == self.patient_id:
            return
        self.unsaved.guard(lambda: self.open_patient(pid), on_stay=self._restore_choice)

    def _study_picked(self, change) -> None:
        sid = change["new"]
        if sid is None or self._restoring or sid == self.study_id:
            return
        self.unsaved.guard(lambda: self.open_study(sid), on_stay=self._restore_choice)

    def _restore_choice(self) -> None:
        """Stay: the lists point at the study still open again (without reopening it)."""
        self._restoring = True
        try:
            self.worklist.selected_study_id = self.study_id
            self.search.selected_patient_id = self.patient_id
        finally:
            self._restoring = False

    def _record_changed(self, record) -> None:
        """Every change to the record refreshes every view of that patient (banner first: allergies)."""
        if record is not None and record.patient.patient_id == self.patient_id:
            self.banner.show(record)

    def _registered(self, patient_id: str) -> None:
        self.register_box.selected_index = None
        self.unsaved.guard(lambda: self.open_patient(patient_id))

    def _demographics_saved(self, patient_id: str) -> None:
        record = self.record.show(patient_id)
        self._record_changed(record)

    def _boxes_saved(self, _saved) -> None:
        """Boxes saved on a signed study are an addendum to sign: the sign-off tab offers it."""
        if self.study_id is not None and self.signoff.signed and not self.signoff._addendum:
            self.signoff.show(self.study_id, self.findings.view, signed_note=self._signed_note(self.study_id))

    def _saved_boxes(self):
        """(saved boxes, the version shown, unsaved edits?) of the open study, for the sign-off."""
        if self.study_id is None:
            return (), 0, False
        return self.store.annotations(self.study_id).boxes, self.editor.based_on, bool(self.viewer.dirty)

    def _override_triage(self, level: str, reason: str) -> str | None:
        if self.study_id is None:
            return _("Open a study first.")
        try:
            self.store.override_triage(self.study_id, level, reason, self.actor)
        except LungDxError as exc:
            return str(exc)
        prediction = self.store.latest_prediction(self.study_id)
        self.findings.show(view_from_prediction(prediction))
        self.worklist.refresh()
        return None

    def _reset_for_patient(self) -> None:
        """A patient switch resets every form and message (nothing of the last patient stays on screen)."""
        self.upload.reset()
        self.record.reset()
        self.findings.triage_form.reset()
        self.report.set_study(None)
        self.unsaved.stay()
        self.viewer.show_message("", "info")

    # ------------------------------------------------------------------ actions
    def open_patient(self, patient_id: str, *, show_record: bool = True) -> bool:
        """Show a patient's record (audited view), then their latest study, so image and name always agree."""
        record = self.record.show(patient_id)
        if record is None:
            return False
        if patient_id != self.patient_id:
            self._reset_for_patient()
        self.patient_id = patient_id
        if self._can_register:  # others never receive the form's values (contact data) in their browser
            self.demographics.load(record.patient)
        self.demographics_box.selected_index = None
        self.demographics_box.layout.display = None if self._can_register else "none"
        self.banner.show(record)
        self.upload.patient_id = patient_id
        if not show_record:
            return True  # open_study is about to show the chosen study
        self.tabs.selected_index = TAB_RECORD
        if record.studies:
            self.open_study(record.studies[0].id, show_findings=False)
        else:
            self._clear_study(_("No studies for this patient yet — upload a radiograph."))
        return True

    def open_study(self, study_id: int, *, show_findings: bool = True) -> bool:
        """Open a stored study: patient context first, then image, stored findings and annotations."""
        try:
            study = self.store.get_study(study_id)
            if study.patient_id != self.patient_id and not self.open_patient(study.patient_id, show_record=False):
                return False
            self.store.audit(self.actor, "view", f"study:{study.id}")
            self.editor.open_study(study.id)
            prediction = self.store.latest_prediction(study.id)
        except LungDxError as exc:
            self._clear_study(_("Cannot open this study: {error}").format(error=exc))
            return False
        self.study_id = study.id
        self._restore_choice()
        self.report.set_study(study.id)
        self.findings.triage_form.reset()
        self._recompute_heatmaps(prediction)
        view = view_from_prediction(prediction) if prediction else None
        if view is None:
            self.findings.show_message(_("This study has not been analysed by the AI."), "info")
        else:
            self.findings.show(view)
        self.signoff.show(study.id, view, signed_note=self._signed_note(study.id))
        self.priors.set_patient(study.patient_id, study.id)
        if show_findings:
            self.tabs.selected_index = TAB_FINDINGS
        elif self.tabs.selected_index == TAB_PRIORS:
            self.priors.render()
        return True

    def _recompute_heatmaps(self, prediction) -> None:
        """Heatmaps are not stored: recompute them when the model that made the stored result is loaded.

        A result from another model version gets no heatmap rather than a map that does not belong to it.
        """
        radiograph = self.editor.radiograph
        if prediction is None or radiograph is None:
            return
        try:
            analyzer = self._analyzer.get()
            if analyzer.version != prediction.model_version:
                self.viewer.show_message(_("No heatmap: this result came from model {stored}; model {active} is active now.")
                                         .format(stored=prediction.model_version, active=analyzer.version), "info")
                return
            again = analyzer.analyze(radiograph)
            self.viewer.heatmaps = dict(again.heatmaps)
            self.viewer.lung_outline = again.lung_mask
        except LungDxError as exc:
            self.viewer.show_message(_("No heatmap: {error}").format(error=exc), "warning")

    def _clear_study(self, note: str) -> None:
        """No study open: an empty viewer (never the previous patient's image) and a note why."""
        self.study_id = None
        self.report.set_study(None)
        self.editor.study_id = None
        with self.viewer.hold_trait_notifications():
            self.viewer.heatmaps = {}
            self.viewer.lung_outline = None
            self.viewer.boxes = []
            self.viewer.image, self.viewer.image_width, self.viewer.image_height = b"", 0, 0
            self.viewer.title = ""
        self.viewer.show_message(note, "info")
        self.findings.show_message(note, "info")
        self.signoff.show(None, None)
        self.priors.set_patient(self.patient_id, None)
        if self.tabs.selected_index == TAB_PRIORS:
            self.priors.render()

    def _on_uploaded(self, outcome: UploadOutcome) -> None:
        study = outcome.study
        if study.patient_id != self.patient_id:  # analysed after the reader moved on: list it, open nothing
            self.worklist.refresh()
            return
        if outcome.duplicate:  # already on file: open what is stored (a signed result is never redone)
            self.open_study(study.id)
            return
        self.study_id = study.id
        self.report.set_study(study.id)
        self.tabs.selected_index = TAB_FINDINGS  # first, so the chart is drawn into a visible panel
        findings = outcome.findings
        self.editor.open_study(study.id, radiograph=outcome.radiograph,
                               heatmaps=findings.heatmaps if findings else None,
                               classes=list(findings.results) if findings else None)
        self.viewer.lung_outline = findings.lung_mask if findings else None
        if findings is None:
            self.findings.show_message(_("AI analysis unavailable: {error} The study is saved; you can still view, "
                                         "annotate and compare it.").format(error=outcome.model_error), "warn")
            self.signoff.show(study.id, None)
        else:
            view = view_from_findings(findings, outcome.triage)
            self.findings.show(view)
            self.signoff.show(study.id, view)
        self.priors.set_patient(study.patient_id, study.id)
        self.worklist.refresh()

    def _heatmap_chosen(self, label: str) -> None:
        """The findings panel selects the finding whose heatmap the viewer now shows ("" = none: no change)."""
        if label:
            self.findings.select(label)

    def _tab_chosen(self, index: int) -> None:
        """The priors tab is drawn when it is opened (not before: it reads the store)."""
        if index == TAB_PRIORS:
            self.priors.render()

    def _follow_label(self, label: str) -> None:
        """The viewer overlays the heatmap of the finding selected in the findings panel."""
        if label in self.viewer.heatmaps:
            self.viewer.heatmap_label = label
        elif label == ANY_ABNORMALITY or not self.viewer.heatmaps:
            return
        else:
            self.viewer.show_message(_("No heatmap for {label} in this study.").format(label=finding_name(label)), "info")

    # ------------------------------------------------------------------ helpers
    def _signed_note(self, study_id: int) -> str | None:
        signed = self.store.first_signoff(study_id)
        if signed is None:
            return None
        return _("Signed by {name} at {when}. Later edits are kept as addenda.").format(name=signed.signed_by,
                                                                                   when=format_datetime(signed.signed_at))
