// Refreshes a template's preview as you type. Without this file the Preview button does
// the same by posting the form (and the page comes back with the preview below).
const form = document.querySelector("form[data-preview]");
const target = document.getElementById("preview");
if (form instanceof HTMLFormElement && target) {
  let timer = 0;
  let latest = 0;
  const refresh = async () => {
    // The form's own fields carry its CSRF token; "fragment" asks for the preview only.
    const body = new FormData(form);
    body.set("fragment", "1");
    const mine = ++latest;
    try {
      const answer = await fetch(form.dataset.preview, { method: "POST", body, credentials: "same-origin" });
      // An older answer arriving late must not replace a newer one.
      if (mine === latest && answer.status < 500) {
        target.innerHTML = await answer.text();
      }
    } catch {
      // Offline for a moment: the Preview button still works.
    }
  };
  form.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 500);
  });
}
