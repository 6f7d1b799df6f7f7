// Selecting leads for bulk changes: a select-all box and a live count. Works without it, too.
document.addEventListener("DOMContentLoaded", () => {
  const boxes = () => [...document.querySelectorAll('input[name="lead_ids"]')];
  const all = document.querySelector("[data-select-all]");
  const count = document.querySelector("[data-selected-count]");
  const apply = [...document.querySelectorAll("[data-bulk-apply]")];
  const refresh = () => {
    const n = boxes().filter((b) => b.checked).length;
    if (count) count.textContent = `${n} selected`;
    apply.forEach((b) => { b.disabled = n === 0; });
    if (all) all.checked = n > 0 && n === boxes().length;
  };
  if (all) all.addEventListener("change", () => { boxes().forEach((b) => { b.checked = all.checked; }); refresh(); });
  boxes().forEach((b) => b.addEventListener("change", refresh));
  refresh();
  // Destructive buttons ask first (no inline handlers: the CSP forbids them).
  document.querySelectorAll("[data-confirm]").forEach((b) => b.addEventListener("click", (e) => {
    if (!window.confirm(b.dataset.confirm)) e.preventDefault();
  }));
});
