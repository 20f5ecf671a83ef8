// Fields that apply only while a switch of the same form has a value (data-shown-when,
// from the type's x-shown-when): hidden and disabled otherwise, so they are neither seen
// nor posted nor in the way of the browser's "required" check. Without this file every
// field is shown with a hint saying when it applies, and the server ignores the rest.
(() => {
  const dependents = [...document.querySelectorAll("[data-shown-when]")];
  if (dependents.length === 0) {
    return;
  }
  // "true", "false", or "" for a nullable switch left unset (which hides nothing).
  const stateOf = (form, key) => {
    const input = form.elements.namedItem(`config.${key}`);
    if (input instanceof HTMLInputElement && input.type === "checkbox") {
      return input.checked ? "true" : "false";
    }
    return input instanceof HTMLSelectElement ? input.value : "";
  };
  const update = () => {
    for (const box of dependents) {
      const form = box.closest("form");
      if (!form) continue;
      const wanted = JSON.parse(box.dataset.shownWhen);
      const applies = Object.entries(wanted).every(([key, value]) => {
        const typed = stateOf(form, key);
        return typed === "" || (typed === "true") === value;
      });
      box.hidden = !applies;
      for (const input of box.querySelectorAll("input, select, textarea")) {
        input.disabled = !applies;
        if (input.hasAttribute("data-required")) {
          input.required = applies;
        }
      }
    }
  };
  document.addEventListener("change", update);
  update();
})();
