// Refuses a file above the upload limit in the browser, before its bytes go over the kernel
// websocket (a message above the socket's cap drops the connection and every later upload).
// A capturing listener on the document runs before ipywidgets' FileUpload reads the file.
function mb(bytes) {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export default {
  render({ model, el }) {
    el.style.display = "none";
    const onChange = (ev) => {
      const input = ev.target;
      if (!(input instanceof HTMLInputElement) || input.type !== "file" || !input.closest(".lx-upload")) return;
      const limit = model.get("limit");
      const big = [...(input.files || [])].find((f) => f.size > limit);
      if (!big) return;
      ev.stopImmediatePropagation();
      ev.preventDefault();
      input.value = "";
      const text = model.get("template").replace("{name}", big.name).replace("{size}", mb(big.size))
        .replace("{limit}", mb(limit));
      const status = input.closest(".lx-upload").querySelector(".lx-upload-status");
      if (status) {
        const box = document.createElement("div");
        box.className = "lx-msg lx-msg-error";
        box.setAttribute("role", "alert");
        box.textContent = text;
        status.replaceChildren(box);
      }
      model.set("refused", { name: big.name, size: big.size, at: Date.now() });
      model.save_changes();
    };
    document.addEventListener("change", onChange, true);
    return () => document.removeEventListener("change", onChange, true);
  },
};
