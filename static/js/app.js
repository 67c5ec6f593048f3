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
