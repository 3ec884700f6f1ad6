// The upload button. The size is checked here, before any byte goes over the kernel websocket:
// a message above the socket's cap drops the connection, and with ipywidgets' FileUpload every
// later upload on the page was then ignored. A file within the limit is sent as one binary
// buffer in a custom message; Python checks everything again.
function mb(bytes) {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export default {
  render({ model, el }) {
    const input = document.createElement("input");
    input.type = "file";
    input.style.display = "none";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "lx-upload-button";
    const sync = () => {
      input.accept = model.get("accept");
      button.textContent = model.get("busy") ? model.get("busy_label") : model.get("label");
      button.disabled = model.get("busy") || model.get("disabled");
    };
    button.addEventListener("click", () => { input.value = ""; input.click(); });
    input.addEventListener("change", async () => {
      const file = (input.files || [])[0];
      if (!file) return;
      const limit = model.get("limit");
      if (file.size > limit) {
        // only the name and size go to the kernel, which shows the message (with the limit)
        button.title = model.get("too_large").replace("{name}", file.name).replace("{size}", mb(file.size))
          .replace("{limit}", mb(limit));
        model.send({ kind: "refused", name: file.name, size: file.size });
        input.value = "";
        return;
      }
      const data = await file.arrayBuffer();
      model.send({ kind: "file", name: file.name, size: file.size }, undefined, [data]);
      input.value = "";
    });
    model.on("change:busy", sync);
    model.on("change:disabled", sync);
    model.on("change:label", sync);
    sync();
    el.replaceChildren(button, input);
  },
};
