// LungDx radiograph viewer: image + colourised heatmap + box editor (anywidget ES module).
// Everything interactive happens here; Python validates and saves. Box coordinates are
// original-image pixels (the image element is laid out at that size and CSS-transformed).
// Words: every word a person reads goes through `_(englishText, {field: value})`, which looks it up
// in the synced trait `texts` (Python fills it from the catalogue for the reader's language, for exactly
// the `_`/`N_` strings of this file); box labels stay canonical in the model and are shown through
// `label_names`. A language switch changes both traits and the words are drawn again in place.

const MIN_BOX = 4; // image pixels
const HANDLE = 9; // screen pixels
const STATUS_TEXT = { proposed: N_("proposed"), accepted: N_("accepted"), rejected: N_("rejected"), edited: N_("edited") };
const NARROW_PX = 760; // below this width the side panel slims down
const STACKED_PX = 520; // below this it goes under the image
const SAVING = N_("Saving…");
const SAVE_TIMEOUT_MS = 20000;
// The heat colour table (256 RGBA entries) comes from Python (lungdx_widgets/display.py), shared with reports.

// Marks a word for the catalogue where it is defined; `_` translates it where it is shown.
function N_(msgid) {
  return msgid;
}

// `msgid` in the reader's language (`texts`, from Python), with `{name}` fields filled from `args`.
function translator(model) {
  return (msgid, args) => {
    const text = (model.get("texts") || {})[msgid] || msgid;
    return args ? text.replace(/\{(\w+)\}/g, (m, k) => (k in args ? String(args[k]) : m)) : text;
  };
}

function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function svg(tag, attrs = {}) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function bytesToUrl(view, type) {
  if (!view || !view.byteLength) return "";
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const mime = type || (bytes[0] === 0xff && bytes[1] === 0xd8 ? "image/jpeg" : "image/png");
  return URL.createObjectURL(new Blob([bytes], { type: mime }));
}

function clamp(v, lo, hi) {
  return Math.max(lo, Math.min(hi, v));
}

function render({ model, el }) {
  const LUT = new Uint8ClampedArray(model.get("heat_lut") || []);
  const cleanups = [];
  const _ = translator(model);
  // A label as the reader calls it (폐렴 for "Pneumonia"); free text is shown as typed.
  const labelName = (label) => (model.get("label_names") || {})[label] || label;
  const listen = (target, type, fn, opts) => {
    target.addEventListener(type, fn, opts);
    cleanups.push(() => target.removeEventListener(type, fn, opts));
  };
  const on = (name, fn) => {
    model.on(name, fn);
    cleanups.push(() => model.off(name, fn));
  };

  // ------------------------------------------------------------------ DOM
  // Elements are built without words; words() puts them in, and again after a language switch.
  const title = h("div", { class: "lx-v-title" });
  const heatSelect = h("select", { class: "lx-v-heat-select" });
  const opacity = h("input", { type: "range", min: "0", max: "1", step: "0.01", class: "lx-v-opacity" });
  const opacityValue = h("span", { class: "lx-v-opacity-value" });
  const colourBar = h("canvas", { class: "lx-v-colourbar", width: "128", height: "10" });
  const heatCaption = h("label"), opacityCaption = h("label");
  const lowTick = h("span", { class: "lx-v-cb-tick" }), highTick = h("span", { class: "lx-v-cb-tick" });
  const colourBarWrap = h("div", { class: "lx-v-colourbar-wrap" }, lowTick, colourBar, highTick);
  const heatGroup = h("div", { class: "lx-v-group lx-v-heat-group" },
    heatCaption, heatSelect, opacityCaption, opacity, opacityValue, colourBarWrap);
  const zoomValue = h("span", { class: "lx-v-zoom-value" });
  const fitBtn = h("button", { class: "lx-v-btn lx-v-fit", type: "button" });
  const lungToggle = h("input", { type: "checkbox", class: "lx-v-lung-toggle" });
  const lungCaption = h("span");
  const lungGroup = h("label", { class: "lx-v-lung-group" }, lungToggle, lungCaption);
  const viewGroup = h("div", { class: "lx-v-group" }, zoomValue, fitBtn, lungGroup);
  const toolbar = h("div", { class: "lx-v-toolbar" }, title, heatGroup, viewGroup);

  const stage = h("div", { class: "lx-v-stage", tabindex: "-1" });
  const world = h("div", { class: "lx-v-world" });
  const img = h("img", { class: "lx-v-image", draggable: "false" });
  const heat = h("canvas", { class: "lx-v-heat" });
  const lungs = h("canvas", { class: "lx-v-heat lx-v-lungs" });
  world.append(img, heat, lungs);
  const overlay = svg("svg", { class: "lx-v-overlay" });
  const tags = h("div", { class: "lx-v-tags" });
  const hint = h("div", { class: "lx-v-hint" });
  const empty = h("div", { class: "lx-v-empty" });
  stage.append(world, overlay, tags, hint, empty);

  // Side panel: the list of boxes and the edit controls for the selected one.
  const list = h("ol", { class: "lx-v-box-list" });
  const labelSelect = h("select", { class: "lx-v-label-select" });
  const labelText = h("input", { class: "lx-v-label-text", type: "text", maxlength: "80" });
  const acceptBtn = h("button", { class: "lx-v-btn lx-v-accept", type: "button" });
  const rejectBtn = h("button", { class: "lx-v-btn lx-v-reject", type: "button" });
  const deleteBtn = h("button", { class: "lx-v-btn lx-v-delete", type: "button" });
  const nextBtn = h("button", { class: "lx-v-btn lx-v-next", type: "button" });
  const selInfo = h("div", { class: "lx-v-sel-info" });
  const labelCaption = h("span");
  const selTitle = h("div", { class: "lx-v-side-title" }), boxesTitle = h("div", { class: "lx-v-side-title" });
  const editPanel = h("div", { class: "lx-v-edit" },
    selTitle, selInfo,
    h("label", { class: "lx-v-field" }, labelCaption, labelSelect), labelText,
    h("div", { class: "lx-v-row" }, acceptBtn, rejectBtn), h("div", { class: "lx-v-row" }, deleteBtn, nextBtn));
  const dirtyBadge = h("span", { class: "lx-v-dirty", role: "status" });
  const versionText = h("span", { class: "lx-v-version" });
  const saveBtn = h("button", { class: "lx-v-btn lx-v-save", type: "button" });
  const savePanel = h("div", { class: "lx-v-save-row" }, h("div", { class: "lx-v-save-state" }, dirtyBadge, versionText), saveBtn);
  const side = h("div", { class: "lx-v-side" }, boxesTitle, list, editPanel, savePanel);

  const message = h("div", { class: "lx-v-message", role: "status" });
  const body = h("div", { class: "lx-v-body" }, stage, side);
  const root = h("div", { class: "lx-v-root", tabindex: "0", "data-lm-suppress-shortcuts": "true" }, toolbar, body, message);

  // The fixed words (captions, titles, aria-labels, placeholders, alt text) in the reader's language.
  function words() {
    const put = (e, attrs) => {
      for (const [k, v] of Object.entries(attrs)) {
        if (k === "text") e.textContent = v;
        else e.setAttribute(k, v);
      }
    };
    put(heatSelect, { "aria-label": _("Heatmap") });
    put(opacity, { "aria-label": _("Heatmap opacity") });
    put(heatCaption, { text: _("Heatmap") });
    put(opacityCaption, { text: _("Opacity") });
    put(colourBarWrap, { title: _("Model attention: low (left) to high (right)") });
    put(lowTick, { text: _("low") });
    put(highTick, { text: _("high") });
    put(zoomValue, { title: _("Zoom (wheel to change)") });
    put(fitBtn, { text: _("Fit"), title: _("Fit the whole image (double-click the image)") });
    put(lungToggle, { "aria-label": _("Show the lung outline") });
    put(lungGroup, { title: _("Outline of the lung fields the AI found (the only place it looks)") });
    put(lungCaption, { text: _("Lung outline") });
    put(img, { alt: _("Chest radiograph") });
    put(hint, { text: _("Drag on the image to draw a box · wheel to zoom · right-drag or Space+drag to pan") });
    put(empty, { text: _("No image") });
    put(list, { "aria-label": _("Boxes") });
    put(labelSelect, { "aria-label": _("Label") });
    put(labelText, { placeholder: _("or type a label, Enter"), "aria-label": _("Free-text label") });
    put(acceptBtn, { text: _("Accept (A)"), title: _("Accept the AI proposal (A)") });
    put(rejectBtn, { text: _("Reject (R)"), title: _("Reject the AI proposal (R)") });
    put(deleteBtn, { text: _("Delete"), title: _("Delete the box (Delete); AI proposals are rejected instead, so the review stays on record") });
    put(nextBtn, { text: _("Next (N)"), title: _("Select the next box (N)") });
    put(selTitle, { text: _("Selected box") });
    put(boxesTitle, { text: _("Boxes") });
    put(saveBtn, { text: _("Save"), title: _("Save these boxes as a new annotation version") });
  }
  el.classList.add("lx-v-host");
  el.append(root);

  // ------------------------------------------------------------------ state
  const view = { s: 1, tx: 0, ty: 0, fitted: true };
  let drag = null; // {kind: draw|move|resize|pan, ...}
  let spaceDown = false;
  let imageUrl = "";
  const heatCache = new Map(); // label -> ImageData (colourised)
  let heatToken = 0;
  let saveTimer = 0;
  let savingText = ""; // the "Saving…" line as shown (in the language of the moment of the press)

  const W = () => model.get("image_width") || img.naturalWidth || 0;
  const H = () => model.get("image_height") || img.naturalHeight || 0;
  const boxes = () => model.get("boxes") || [];
  const selected = () => model.get("selected");
  const editable = () => !model.get("readonly");

  let editCount = 0;
  function commit(newBoxes, sel, extra = {}) {
    model.set("boxes", newBoxes);
    editCount += 1; // a new value each time, so it always travels with the boxes (see viewer.py)
    model.set("boxes_for", `${model.get("study_key")}:${editCount}`);
    model.set("selected", sel);
    model.set("dirty", true);
    for (const [k, v] of Object.entries(extra)) model.set(k, v);
    model.save_changes();
  }
  function select(i) {
    model.set("selected", i);
    model.save_changes();
  }

  // ------------------------------------------------------------------ geometry
  function toImage(clientX, clientY) {
    const r = stage.getBoundingClientRect();
    return [(clientX - r.left - view.tx) / view.s, (clientY - r.top - view.ty) / view.s];
  }
  function toScreen(x, y) {
    return [x * view.s + view.tx, y * view.s + view.ty];
  }
  function fit() {
    const w = W(), hh = H();
    const sw = stage.clientWidth, sh = stage.clientHeight;
    if (!w || !hh || !sw || !sh) return;
    view.s = Math.min(sw / w, sh / hh);
    view.tx = (sw - w * view.s) / 2;
    view.ty = (sh - hh * view.s) / 2;
    view.fitted = true;
    applyView();
  }
  function zoomAt(factor, sx, sy) {
    const w = W(), hh = H();
    if (!w || !hh) return;
    const fitS = Math.min(stage.clientWidth / w, stage.clientHeight / hh);
    const s = clamp(view.s * factor, fitS * 0.5, Math.max(fitS * 16, 8));
    view.tx = sx - (sx - view.tx) * (s / view.s);
    view.ty = sy - (sy - view.ty) * (s / view.s);
    view.s = s;
    view.fitted = false;
    applyView();
  }
  function applyView() {
    world.style.transform = `translate(${view.tx}px, ${view.ty}px) scale(${view.s})`;
    zoomValue.textContent = `${Math.round(view.s * 100)}%`;
    drawBoxes();
  }

  // ------------------------------------------------------------------ image + heatmap
  function loadImage() {
    if (imageUrl) URL.revokeObjectURL(imageUrl);
    imageUrl = bytesToUrl(model.get("image"));
    empty.style.display = imageUrl ? "none" : "";
    root.classList.toggle("lx-v-no-image", !imageUrl);
    if (!imageUrl) {
      img.removeAttribute("src");
      return;
    }
    img.onload = () => {
      sizeWorld();
      fit();
    };
    img.src = imageUrl;
    sizeWorld();
    fit();
  }
  function sizeWorld() {
    const w = W(), hh = H();
    for (const e of [img, heat, lungs]) {
      e.style.width = `${w}px`;
      e.style.height = `${hh}px`;
    }
  }
  async function colourise(label) {
    if (heatCache.has(label)) return heatCache.get(label);
    const data = await decodeGray((model.get("heatmaps") || {})[label]);
    if (!data) return null;
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {
      const j = px[i] * 4;
      px[i] = LUT[j]; px[i + 1] = LUT[j + 1]; px[i + 2] = LUT[j + 2]; px[i + 3] = LUT[j + 3];
    }
    heatCache.set(label, data);
    return data;
  }
  // An 8-bit gray PNG (heatmap, lung outline) as ImageData, or null when there is none.
  async function decodeGray(bytes) {
    const url = bytesToUrl(bytes, "image/png");
    if (!url) return null;
    try {
      const gray = new Image();
      gray.src = url;
      await gray.decode();
      const c = document.createElement("canvas");
      c.width = gray.naturalWidth;
      c.height = gray.naturalHeight;
      const ctx = c.getContext("2d", { willReadFrequently: true });
      ctx.drawImage(gray, 0, 0);
      return ctx.getImageData(0, 0, c.width, c.height);
    } finally {
      URL.revokeObjectURL(url);
    }
  }
  async function showHeat() {
    const label = model.get("heatmap_label");
    const token = ++heatToken;
    const data = label ? await colourise(label) : null;
    if (token !== heatToken) return; // a newer choice won
    heat.style.display = data ? "" : "none";
    heat.dataset.label = data ? label : "";
    if (!data) return;
    heat.width = data.width;
    heat.height = data.height;
    heat.getContext("2d").putImageData(data, 0, 0);
  }
  // Lung outline: an 8-bit PNG whose bright pixels are the outline, painted cyan over the film.
  let lungToken = 0;
  async function showLungs() {
    const token = ++lungToken;
    const bytes = model.get("lung_outline");
    const present = !!(bytes && bytes.byteLength);
    lungGroup.style.display = present ? "" : "none";
    lungToggle.checked = !!model.get("show_lungs");
    lungs.style.display = present && model.get("show_lungs") ? "" : "none";
    const data = present ? await decodeGray(bytes) : null;
    if (!data || token !== lungToken) return;
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {
      const on = px[i] > 127;
      px[i] = 0; px[i + 1] = 229; px[i + 2] = 255; px[i + 3] = on ? 230 : 0;
    }
    lungs.width = data.width;
    lungs.height = data.height;
    lungs.getContext("2d").putImageData(data, 0, 0);
  }
  // The heatmap menu's entries (value: the label, text: the reader's name for it); returns the labels.
  function heatOptions() {
    const labels = Object.keys(model.get("heatmaps") || {});
    heatSelect.replaceChildren(h("option", { value: "", text: _("None") }),
      ...labels.map((l) => h("option", { value: l, text: labelName(l) })));
    return labels;
  }
  function fillHeatOptions() {
    heatCache.clear();
    const labels = heatOptions();
    heatGroup.style.display = labels.length ? "" : "none";
    heatSelect.value = model.get("heatmap_label") || "";
    showHeat();
  }
  function applyOpacity() {
    const v = model.get("opacity");
    opacity.value = String(v);
    opacityValue.textContent = `${Math.round(v * 100)}%`;
    heat.style.opacity = String(v);
  }
  function drawColourBar() {
    const ctx = colourBar.getContext("2d");
    const row = ctx.createImageData(colourBar.width, colourBar.height);
    for (let x = 0; x < colourBar.width; x++) {
      const j = Math.round((x / (colourBar.width - 1)) * 255) * 4;
      for (let y = 0; y < colourBar.height; y++) {
        const o = (y * colourBar.width + x) * 4;
        row.data[o] = LUT[j]; row.data[o + 1] = LUT[j + 1]; row.data[o + 2] = LUT[j + 2]; row.data[o + 3] = 255;
      }
    }
    ctx.putImageData(row, 0, 0);
  }

  // ------------------------------------------------------------------ boxes
  function boxClass(b, i) {
    const cls = ["lx-v-box", `lx-v-src-${b.source}`, `lx-v-st-${b.status}`];
    if (i === selected()) cls.push("lx-v-selected");
    return cls.join(" ");
  }
  function statusWord(b) {
    return b.source === "ai" ? _(STATUS_TEXT[b.status] || b.status) : _("reader");
  }
  function tagText(b) {
    // Dashed outline already says "AI"; the tag says what the reader decided.
    const score = b.score == null ? "" : ` ${b.score.toFixed(2)}`;
    return `${labelName(b.label)}${score} · ${statusWord(b)}`;
  }
  function paintOrder() {
    // Rejected proposals underneath, the selected box on top, so live labels stay readable.
    const sel = selected();
    const rank = (b, i) => (i === sel ? 2 : b.status === "rejected" ? 0 : 1);
    return boxes().map((b, i) => [b, i]).sort((p, q) => rank(...p) - rank(...q) || p[1] - q[1]);
  }
  function drawBoxes() {
    overlay.replaceChildren();
    tags.replaceChildren();
    const sel = selected();
    const pending = [];
    paintOrder().forEach(([b, i]) => {
      const [x0, y0] = toScreen(b.x, b.y);
      const [x1, y1] = toScreen(b.x + b.w, b.y + b.h);
      const g = svg("g", { class: boxClass(b, i), "data-index": String(i) });
      g.append(svg("rect", { class: "lx-v-box-halo", x: x0, y: y0, width: x1 - x0, height: y1 - y0 }));
      g.append(svg("rect", { class: "lx-v-box-rect", x: x0, y: y0, width: x1 - x0, height: y1 - y0, "data-index": String(i), "data-part": "body" }));
      if (i === sel && editable()) {
        for (const [hx, hy, name] of [[x0, y0, "nw"], [x1, y0, "ne"], [x0, y1, "sw"], [x1, y1, "se"],
          [(x0 + x1) / 2, y0, "n"], [(x0 + x1) / 2, y1, "s"], [x0, (y0 + y1) / 2, "w"], [x1, (y0 + y1) / 2, "e"]]) {
          g.append(svg("rect", { class: `lx-v-handle lx-v-handle-${name}`, x: hx - HANDLE / 2, y: hy - HANDLE / 2, width: HANDLE, height: HANDLE, "data-index": String(i), "data-part": name }));
        }
      }
      overlay.append(g);
      const tag = h("div", { class: `lx-v-tag ${boxClass(b, i)}`, "data-index": String(i), text: tagText(b) });
      tags.append(tag);
      pending.push([tag, x0, y0, y1]);
    });
    // The top-most box (selected, then live proposals) chooses its label place first.
    const placed = [];
    for (const [tag, x0, y0, y1] of pending.reverse()) placeTag(tag, x0, y0, y1, placed);
  }
  function placeTag(tag, x0, y0, y1, placed) {
    // Above the box; inside its top edge, or below it, when that would hide another label
    // or leave the panel.
    const w = tag.offsetWidth, th = tag.offsetHeight;
    x0 = Math.max(0, Math.min(x0, stage.clientWidth - w)); // keep the whole label in the panel
    const free = (top) => top >= 0 && !placed.some((r) => x0 < r.x1 && x0 + w > r.x0 && top < r.y1 && top + th > r.y0);
    const top = [y0 - th - 2, y0 + 2, y1 + 2].find(free) ?? y0 - th - 2;
    tag.style.left = `${x0}px`;
    tag.style.top = `${top}px`;
    placed.push({ x0, x1: x0 + w, y0: top, y1: top + th });
  }
  function renderList() {
    const bs = boxes();
    const sel = selected();
    list.replaceChildren(...bs.map((b, i) => {
      const li = h("li", { class: boxClass(b, i), "data-index": String(i) },
        h("span", { class: "lx-v-swatch" }),
        h("span", { class: "lx-v-li-label", text: labelName(b.label), title: labelName(b.label) }),
        h("span", { class: "lx-v-li-score", text: b.score == null ? "" : b.score.toFixed(2) }),
        h("span", { class: `lx-v-chip lx-v-chip-${b.source === "ai" ? b.status : "human"}`, text: statusWord(b) }));
      li.addEventListener("click", () => { select(i); root.focus({ preventScroll: true }); });
      return li;
    }));
    if (!bs.length) list.append(h("li", { class: "lx-v-li-empty", text: _("No boxes. Drag on the image to draw one.") }));
    const b = bs[sel];
    const where = b ? { w: Math.round(b.w), h: Math.round(b.h), x: Math.round(b.x), y: Math.round(b.y) } : null;
    selInfo.textContent = !b ? _("None — click a box or draw one.")
      : b.source === "ai" ? _("AI proposal · {w}×{h} px at ({x}, {y})", where)
        : _("Drawn by a reader · {w}×{h} px at ({x}, {y})", where);
    labelCaption.textContent = b ? _("Label") : _("Draw as");
    const isAi = !!b && b.source === "ai";
    acceptBtn.disabled = !isAi || b.status === "accepted";
    rejectBtn.disabled = !isAi || b.status === "rejected";
    deleteBtn.disabled = !b;
    nextBtn.disabled = !bs.length;
    fillLabelOptions(b ? b.label : labelSelect.value);
  }
  function fillLabelOptions(current) {
    const labels = [...(model.get("classes") || [])];
    for (const b of boxes()) if (!labels.includes(b.label)) labels.push(b.label);
    if (current && !labels.includes(current)) labels.push(current);
    // value: the canonical label the model keeps; text: what the reader calls it
    labelSelect.replaceChildren(...labels.map((l) => h("option", { value: l, text: labelName(l) })));
    if (current) labelSelect.value = current;
  }
  function currentLabel() {
    return labelSelect.value || (model.get("classes") || [])[0] || "Finding";
  }
  function renderSaveState() {
    const dirty = model.get("dirty");
    const v = model.get("version");
    dirtyBadge.textContent = dirty ? _("● Unsaved changes") : v ? _("All changes saved") : _("No changes");
    dirtyBadge.className = `lx-v-dirty ${dirty ? "lx-v-is-dirty" : "lx-v-is-clean"}`;
    versionText.textContent = !v ? _("no saved version yet")
      : dirty ? _("based on version {n}", { n: v }) : _("saved as version {n}", { n: v });
    saveBtn.disabled = !dirty;
    root.classList.toggle("lx-v-readonly", !editable());
  }
  function renderMessage() {
    timedOut = false;
    let text = model.get("message");
    if (text && text === savingText) text = savingText = _(SAVING); // still waiting: in today's language
    message.textContent = text;
    message.className = `lx-v-message lx-v-msg-${model.get("message_kind")}`;
    message.style.display = text ? "" : "none";
    message.setAttribute("role", model.get("message_kind") === "error" ? "alert" : "status");
  }
  function renderAll() {
    drawBoxes();
    renderList();
    renderSaveState();
  }

  // ------------------------------------------------------------------ edits
  function edited(b) {
    // Moving, resizing or relabelling an AI proposal makes it the reader's edit.
    return b.source === "ai" ? { ...b, status: "edited" } : b;
  }
  function replaceBox(i, b) {
    const bs = boxes().slice();
    bs[i] = b;
    return bs;
  }
  function setStatus(status) {
    const i = selected(), b = boxes()[i];
    if (!b || b.source !== "ai" || !editable()) return;
    commit(replaceBox(i, { ...b, status }), i);
  }
  function relabel(label) {
    label = (label || "").trim();
    const i = selected(), b = boxes()[i];
    if (!label || !b || !editable() || b.label === label) return;
    commit(replaceBox(i, edited({ ...b, label, score: null })), i);  // the AI score was for the old label
  }
  function removeSelected() {
    const i = selected(), b = boxes()[i];
    if (!b || !editable()) return;
    if (b.source === "ai") {
      setStatus("rejected");
      return;
    }
    const bs = boxes().slice();
    bs.splice(i, 1);
    commit(bs, Math.min(i, bs.length - 1));
  }
  function step(delta) {
    const n = boxes().length;
    if (!n) return;
    const i = selected();
    select(i < 0 ? (delta > 0 ? 0 : n - 1) : (i + delta + n) % n);
  }
  function save() {
    if (!editable()) return;
    // One state update carries the press with the message, after any edits still queued.
    model.set("message_kind", "info");
    savingText = _(SAVING);
    model.set("message", savingText);
    model.set("save_requests", (model.get("save_requests") || 0) + 1);
    model.save_changes();
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => {
      if (model.get("message") !== savingText) return;
      showTimeout();
    }, SAVE_TIMEOUT_MS);
  }
  let timedOut = false;
  function showTimeout() {
    // Shown here only: the kernel is not answering, so it would not hear it anyway.
    timedOut = true;
    message.textContent = _("No answer from the server: your changes are NOT saved yet. Check the connection, then press Save again.");
    message.className = "lx-v-message lx-v-msg-error";
  }

  // ------------------------------------------------------------------ mouse
  function rounded(b) {
    const w = W(), hh = H();
    const x = clamp(Math.round(b.x), 0, w - 1), y = clamp(Math.round(b.y), 0, hh - 1);
    return { ...b, x, y, w: clamp(Math.round(b.w), 1, w - x), h: clamp(Math.round(b.h), 1, hh - y) };
  }
  function resized(b, part, dx, dy) {
    let { x, y, w, h: hh } = b;
    let x1 = x + w, y1 = y + hh;
    if (part.includes("w")) x += dx;
    if (part.includes("e")) x1 += dx;
    if (part.includes("n")) y += dy;
    if (part.includes("s")) y1 += dy;
    x = clamp(x, 0, W()); x1 = clamp(x1, 0, W()); y = clamp(y, 0, H()); y1 = clamp(y1, 0, H());
    return { ...b, x: Math.min(x, x1), y: Math.min(y, y1), w: Math.max(Math.abs(x1 - x), MIN_BOX), h: Math.max(Math.abs(y1 - y), MIN_BOX) };
  }
  function onPointerDown(e) {
    if (!W()) return;
    root.focus({ preventScroll: true });
    const [ix, iy] = toImage(e.clientX, e.clientY);
    const t = e.target;
    const base = { id: e.pointerId, startX: e.clientX, startY: e.clientY, ix, iy };
    if (e.button === 1 || e.button === 2 || spaceDown || !editable()) {
      drag = { ...base, kind: "pan", tx: view.tx, ty: view.ty };
    } else if (e.button === 0 && t.dataset && t.dataset.index !== undefined) {
      const i = Number(t.dataset.index);
      const part = t.dataset.part || "body";
      drag = { ...base, kind: part === "body" ? "move" : "resize", part, index: i, orig: { ...boxes()[i] }, moved: false };
      if (i !== selected()) select(i);
    } else if (e.button === 0) {
      if (ix < 0 || iy < 0 || ix > W() || iy > H()) {
        drag = { ...base, kind: "pan", tx: view.tx, ty: view.ty };
      } else {
        drag = { ...base, kind: "draw", index: -1 };
      }
    } else return;
    stage.setPointerCapture(e.pointerId);
    e.preventDefault();
  }
  function onPointerMove(e) {
    if (!drag || e.pointerId !== drag.id) return;
    const [ix, iy] = toImage(e.clientX, e.clientY);
    const dx = ix - drag.ix, dy = iy - drag.iy;
    if (drag.kind === "pan") {
      view.tx = drag.tx + (e.clientX - drag.startX);
      view.ty = drag.ty + (e.clientY - drag.startY);
      view.fitted = false;
      applyView();
      return;
    }
    if (Math.hypot(e.clientX - drag.startX, e.clientY - drag.startY) < 3 && !drag.moved) return;
    drag.moved = true;
    let b;
    if (drag.kind === "draw") {
      const x0 = clamp(drag.ix, 0, W()), y0 = clamp(drag.iy, 0, H());
      const x1 = clamp(ix, 0, W()), y1 = clamp(iy, 0, H());
      b = { label: currentLabel(), x: Math.min(x0, x1), y: Math.min(y0, y1), w: Math.abs(x1 - x0), h: Math.abs(y1 - y0), score: null, source: "human", status: "edited" };
      drag.preview = b;
      drawPreview(b);
      return;
    }
    const o = drag.orig;
    if (drag.kind === "move") {
      b = { ...o, x: clamp(o.x + dx, 0, W() - o.w), y: clamp(o.y + dy, 0, H() - o.h) };
    } else {
      b = resized(o, drag.part, dx, dy);
    }
    drag.preview = b;
    model.set("boxes", replaceBox(drag.index, b)); // local only until the pointer is released
    drawBoxes();
  }
  function drawPreview(b) {
    drawBoxes();
    const [x0, y0] = toScreen(b.x, b.y);
    overlay.append(svg("rect", { class: "lx-v-draft", x: x0, y: y0, width: b.w * view.s, height: b.h * view.s }));
  }
  function onPointerUp(e) {
    if (!drag || e.pointerId !== drag.id) return;
    const d = drag;
    drag = null;
    stage.releasePointerCapture(e.pointerId);
    if (d.kind === "pan") return;
    if (d.kind === "draw") {
      const b = d.preview;
      if (b && b.w >= MIN_BOX && b.h >= MIN_BOX) {
        const bs = [...boxes(), rounded(b)];
        commit(bs, bs.length - 1);
      } else {
        select(-1); // a click on empty image clears the selection
      }
      drawBoxes();
      return;
    }
    if (d.moved && d.preview) {
      commit(replaceBox(d.index, edited(rounded(d.preview))), d.index);
    } else {
      model.set("boxes", replaceBox(d.index, d.orig));
      drawBoxes();
    }
  }
  function onWheel(e) {
    if (!W()) return;
    e.preventDefault();
    const r = stage.getBoundingClientRect();
    const delta = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
    zoomAt(Math.exp(-delta * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }

  // ------------------------------------------------------------------ keys
  function onKeyDown(e) {
    const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement;
    if (typing && e.key !== "Escape") return;
    let handled = true;
    if (e.key === " ") spaceDown = true;
    else if (e.ctrlKey || e.metaKey || e.altKey) handled = false;
    else if (e.key === "a" || e.key === "A") setStatus("accepted");
    else if (e.key === "r" || e.key === "R") setStatus("rejected");
    else if (e.key === "n") step(1);
    else if (e.key === "N" || e.key === "p") step(-1);
    else if (e.key === "Delete" || e.key === "Backspace") removeSelected();
    else if (e.key === "Escape") { select(-1); root.focus({ preventScroll: true }); }
    else if (e.key === "f" || e.key === "0") fit();
    else handled = false;
    if (handled) {
      // Keep JupyterLab's notebook shortcuts (a = insert cell, r = raw...) out of the viewer.
      e.preventDefault();
      e.stopPropagation();
    }
  }
  function onKeyUp(e) {
    if (e.key === " ") spaceDown = false;
  }
  function onBeforeUnload(e) {
    if (model.get("dirty") && editable()) {
      e.preventDefault();
      e.returnValue = "";
    }
  }

  // ------------------------------------------------------------------ wiring
  listen(stage, "pointerdown", onPointerDown);
  listen(stage, "pointermove", onPointerMove);
  listen(stage, "pointerup", onPointerUp);
  listen(stage, "pointercancel", onPointerUp);
  listen(stage, "wheel", onWheel, { passive: false });
  listen(stage, "dblclick", fit);
  listen(stage, "contextmenu", (e) => e.preventDefault());
  listen(root, "keydown", onKeyDown);
  listen(root, "keyup", onKeyUp);
  listen(window, "beforeunload", onBeforeUnload);
  listen(fitBtn, "click", fit);
  listen(acceptBtn, "click", () => setStatus("accepted"));
  listen(rejectBtn, "click", () => setStatus("rejected"));
  listen(deleteBtn, "click", removeSelected);
  listen(nextBtn, "click", () => step(1));
  listen(saveBtn, "click", save);
  listen(labelSelect, "change", () => relabel(labelSelect.value));
  listen(labelText, "keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      const text = labelText.value.trim();
      if (!text) return;
      if (selected() >= 0) relabel(text);
      fillLabelOptions(text);
      labelText.value = "";
    }
  });
  listen(heatSelect, "change", () => {
    model.set("heatmap_label", heatSelect.value);
    model.save_changes();
  });
  listen(opacity, "input", () => {
    heat.style.opacity = opacity.value; // immediate, no kernel round-trip
    opacityValue.textContent = `${Math.round(Number(opacity.value) * 100)}%`;
  });
  listen(opacity, "change", () => {
    model.set("opacity", Number(opacity.value));
    model.save_changes();
  });

  on("change:image", () => {
    labelSelect.value = "";  // another film: "Draw as" starts from the first label, not the last study's
    loadImage();
    renderList();
  });
  on("change:image_width", () => { sizeWorld(); fit(); });
  on("change:image_height", () => { sizeWorld(); fit(); });
  on("change:heatmaps", fillHeatOptions);
  on("change:lung_outline", showLungs);
  on("change:show_lungs", showLungs);
  listen(lungToggle, "change", () => {
    model.set("show_lungs", lungToggle.checked);
    model.save_changes();
  });
  on("change:heatmap_label", () => { heatSelect.value = model.get("heatmap_label") || ""; showHeat(); });
  on("change:opacity", applyOpacity);
  on("change:boxes", () => { if (!drag) renderAll(); });
  on("change:selected", renderAll);
  on("change:classes", renderList);
  on("change:dirty", renderSaveState);
  on("change:version", renderSaveState);
  on("change:readonly", renderAll);
  on("change:message", renderMessage);
  on("change:message_kind", renderMessage);
  // A language switch: the same elements, the same state (boxes, selection, unsaved edits, zoom), new words.
  function retranslate() {
    words();
    heatOptions();
    heatSelect.value = model.get("heatmap_label") || "";
    renderAll();
    if (timedOut) showTimeout(); else renderMessage();
  }
  on("change:texts", retranslate);
  on("change:label_names", retranslate);
  on("change:title", () => { title.textContent = model.get("title"); });
  on("change:height", () => { stage.style.height = `${model.get("height")}px`; });

  const resize = new ResizeObserver(() => {
    root.classList.toggle("lx-v-narrow", root.clientWidth < NARROW_PX);
    root.classList.toggle("lx-v-stacked", root.clientWidth < STACKED_PX);
    view.fitted ? fit() : applyView();
  });
  resize.observe(stage);
  resize.observe(root);
  cleanups.push(() => resize.disconnect());

  words();
  stage.style.height = `${model.get("height")}px`;
  title.textContent = model.get("title");
  drawColourBar();
  applyOpacity();
  fillHeatOptions();
  showLungs();
  loadImage();
  renderAll();
  renderMessage();

  return () => {
    clearTimeout(saveTimer);
    for (const c of cleanups) c();
    if (imageUrl) URL.revokeObjectURL(imageUrl);
  };
}

export default { render };
