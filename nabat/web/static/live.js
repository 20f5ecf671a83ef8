// The deliveries list, live: rows from /deliveries/stream (Server-Sent Events) replace
// the row of the same delivery or, when new, go on top. Without this file the page is
// the same list, current as of its last reload.
(() => {
  const body = document.getElementById("deliveries");
  const url = body?.dataset.stream;
  if (!body || !url || !("EventSource" in window)) {
    return;
  }
  const state = document.getElementById("live-state");
  const newest = () => Math.max(0, ...[...body.rows].map((row) => Number(row.dataset.id)));
  const source = new EventSource(url);
  source.addEventListener("open", () => {
    if (state) state.textContent = state.dataset.liveText;
  });
  source.addEventListener("error", () => {
    if (state) state.textContent = state.dataset.offText;
  });
  source.addEventListener("delivery", (event) => {
    const change = JSON.parse(event.data);
    const template = document.createElement("template");
    template.innerHTML = change.html.trim();
    const row = template.content.firstElementChild;
    if (!row) return;
    const shown = document.getElementById(row.id);
    if (shown) {
      shown.replaceWith(row);
    } else if (change.id > newest()) {
      body.prepend(row);
      document.getElementById("deliveries-empty")?.remove();
    }
  });
})();
