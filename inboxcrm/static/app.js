// Selecting leads for bulk changes: a select-all box and a live count. Works without it, too.
document.addEventListener("DOMContentLoaded", () => {
  const boxes = () => [...document.querySelectorAll('input[name="lead_ids"]')];
  const all = document.querySelector("[data-select-all]");
  const count = document.querySelector("[data-selected-count]");
  const apply = document.querySelector("[data-bulk-apply]");
  const refresh = () => {
    const n = boxes().filter((b) => b.checked).length;
    if (count) count.textContent = `${n} selected`;
    if (apply) apply.disabled = n === 0;
    if (all) all.checked = n > 0 && n === boxes().length;
  };
  if (all) all.addEventListener("change", () => { boxes().forEach((b) => { b.checked = all.checked; }); refresh(); });
  boxes().forEach((b) => b.addEventListener("change", refresh));
  refresh();
});
