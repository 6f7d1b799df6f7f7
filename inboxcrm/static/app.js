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

// The Gmail page's live sync status: poll while the page is open and visible.
document.addEventListener("DOMContentLoaded", () => {
  if (!document.querySelector("[data-sync-status]")) return;
  const poll = async () => {
    if (!document.hidden) {
      try {
        const answer = await fetch("/mailboxes/status", { headers: { Accept: "application/json" } });
        if (answer.ok) {
          for (const box of (await answer.json()).mailboxes) {
            const shown = document.querySelector(`[data-sync-status="${box.id}"]`);
            if (shown) shown.outerHTML = box.html;
          }
        }
      } catch (_) { /* offline for a moment: the next poll tries again */ }
    }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
});
