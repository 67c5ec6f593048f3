// Small behaviours that need no server round trip.
// 1. An API name follows its label as the user types, until the user edits it.
// 2. A "remove row" button removes its row in place.
document.addEventListener("input", (event) => {
  const label = event.target.closest("[data-slug-source]");
  if (label) {
    const target = document.getElementById(label.dataset.slugSource);
    if (target && !target.dataset.touched) {
      target.value = label.value.normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
        .toLowerCase().trim().replace(/[\s_-]+/g, "-").replace(/[^a-z0-9-]/g, "")
        .replace(/^-+|-+$/g, "");
    }
  }
  if (event.target.matches("[data-slug-target]")) {
    event.target.dataset.touched = "1";
  }
});
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-remove-row]");
  if (button) {
    event.preventDefault();
    button.closest(".row, tr").remove();
  }
});
// 3. Upload progress: fill the <progress> next to the form being sent.
document.addEventListener("htmx:xhr:progress", (event) => {
  const bar = document.querySelector(".htmx-request progress, progress.htmx-request");
  if (bar && event.detail.lengthComputable) {
    bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
  }
});
// 4. Rate editor (templates/pricing/_tiers.html): each tier's "From" follows
//    the "Up to" of the tier before, and only the last tier's "Up to" offers to
//    be left open. Removing a row or a tier asks the live preview to update
//    (it listens for "change" on the form).
function groupDigits(text) {
  const [whole, fraction] = text.split(".");
  const grouped = whole.replace(/^0+(?=\d)/, "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}
function refreshTiers() {
  document.querySelectorAll("[data-tiers]").forEach((list) => {
    const rows = Array.from(list.querySelectorAll(":scope > .tier-row"));
    rows.forEach((row, index) => {
      const from = row.querySelector("[data-tier-from]");
      const upTo = row.querySelector("[data-tier-up-to]");
      if (from) {
        const before = index === 0 ? "0"
          : rows[index - 1].querySelector("[data-tier-up-to]").value.trim();
        from.textContent = /^(\d+\.?\d*|\.\d+)$/.test(before) ? groupDigits(before) : "…";
      }
      if (upTo) {
        upTo.placeholder = index === rows.length - 1 ? "No limit" : "";
      }
    });
  });
}
document.addEventListener("input", (event) => {
  if (event.target.matches("[data-tier-up-to]")) {
    refreshTiers();
  }
});
document.addEventListener("htmx:load", refreshTiers);
document.addEventListener("click", (event) => {
  // Capture phase: runs before behaviour 2 takes the row out of its form.
  const button = event.target.closest("[data-remove-row]");
  const form = button && button.closest("#rate-form");
  if (form) {
    setTimeout(() => {
      refreshTiers();
      form.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }
}, true);
// 5. A field that means something for one choice only (the meter form's
//    unique dimension, for a unique-count meter) is hidden for the others.
//    Its wrapper names the controlling field: data-shown-for, data-shown-value.
function refreshShownFor() {
  document.querySelectorAll("[data-shown-for]").forEach((wrapper) => {
    const form = wrapper.closest("form");
    const control = form && form.elements.namedItem(wrapper.dataset.shownFor);
    if (control) {
      wrapper.hidden = control.value !== wrapper.dataset.shownValue;
    }
  });
}
document.addEventListener("change", refreshShownFor);
document.addEventListener("htmx:load", refreshShownFor);
document.addEventListener("DOMContentLoaded", refreshShownFor);
// 6. Rate editor: a price's model select shows the inputs of the chosen model
//    and hides the others (data-price-models lists the models an element is
//    for). Every model's inputs stay in the form, so switching to tiers and
//    back keeps the price typed, and no request replaces what is being typed.
function showPriceModel(select) {
  const scope = select.closest("[data-price-scope]");
  if (!scope) {
    return;
  }
  scope.querySelectorAll("[data-price-models]").forEach((element) => {
    if (element.closest("[data-price-scope]") === scope) {
      element.hidden = !element.dataset.priceModels.split(" ").includes(select.value);
    }
  });
  refreshTiers();
}
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-price-model]")) {
    showPriceModel(event.target);
  }
});
// 7. The rate editor's live preview (#preview-result) listens for these two
//    events rather than for filtered htmx triggers, which the CSP would refuse
//    (htmx evaluates trigger filters as code: no 'unsafe-eval'). Typing in a
//    text input asks for a preview after a pause; any other change asks at
//    once, except a choice that re-renders the whole form (data-refresh).
document.addEventListener("input", (event) => {
  const form = event.target.closest && event.target.closest("#rate-form");
  if (form && event.target.type === "text") {
    form.dispatchEvent(new CustomEvent("preview-typed"));
  }
});
document.addEventListener("change", (event) => {
  const form = event.target.closest && event.target.closest("#rate-form");
  if (form && event.target.type !== "text" && !event.target.closest("[data-refresh]")) {
    form.dispatchEvent(new CustomEvent("preview-changed"));
  }
});

// A form carrying data-confirm asks before it submits (irreversible actions:
// finalize, void, credit note). Without JavaScript it submits directly.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
