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

// The board: drag a card to another column, or use its own Move form (which works without
// this script). A lost stage needs a reason, so dropping there opens the card's form instead.
document.addEventListener("DOMContentLoaded", () => {
  const board = document.querySelector("[data-board]");
  if (!board) return;
  const problem = document.querySelector("[data-board-error]");
  const say = (message) => {
    problem.textContent = message;
    problem.hidden = !message;
  };
  const kindOf = (select) => select.selectedOptions[0]?.dataset.kind;
  const showReason = (form) => {
    const reason = form.querySelector("[data-lost-reason]");
    const lost = kindOf(form.querySelector("select")) === "lost";
    reason.classList.toggle("quiet", !lost);
    reason.required = lost;
  };
  const prepare = (root) => root.querySelectorAll("form[data-move]").forEach(showReason);
  prepare(board);
  board.addEventListener("change", (event) => {
    const form = event.target.closest("form[data-move]");
    if (form) showReason(form);
  });

  let dragged = null;
  board.addEventListener("dragstart", (event) => {
    dragged = event.target.closest(".board-card");
    if (!dragged) return;
    dragged.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.dataset.lead);
  });
  board.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("dragging");
    board.querySelectorAll(".column.drop").forEach((c) => c.classList.remove("drop"));
  });
  board.addEventListener("dragover", (event) => {
    const column = event.target.closest(".column");
    if (!column || !dragged) return;
    event.preventDefault();
    board.querySelectorAll(".column.drop").forEach((c) => c !== column && c.classList.remove("drop"));
    column.classList.add("drop");
  });
  board.addEventListener("drop", async (event) => {
    const column = event.target.closest(".column");
    const card = dragged;
    if (!column || !card) return;
    event.preventDefault();
    column.classList.remove("drop");
    if (card.closest(".column") === column) return;
    const form = card.querySelector("form[data-move]");
    form.querySelector("select").value = column.dataset.stage;
    showReason(form);
    if (column.dataset.kind === "lost") {
      say("Say why the deal was lost, then press Move.");
      form.querySelector("[data-lost-reason]").focus();
      return;
    }
    const answer = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
    });
    const body = await answer.json().catch(() => ({}));
    if (!answer.ok) {
      say(body.error?.message || "The card could not be moved. Reload the board and try again.");
      return;
    }
    say("");
    column.querySelector("[data-cards]").prepend(card);
    card.classList.remove("stale");
    card.querySelector("[data-days]").textContent = "0 d in stage";
    for (const [id, figures] of Object.entries(body.columns)) {
      const header = board.querySelector(`.column[data-stage="${id}"]`);
      if (!header) continue;
      header.querySelector("[data-count]").textContent = figures.count.toLocaleString("en");
      header.querySelector("[data-total]").textContent = figures.total;
    }
  });

  // "More" fetches the column's next cards in place.
  board.addEventListener("click", async (event) => {
    const link = event.target.closest("[data-more]");
    if (!link) return;
    event.preventDefault();
    const answer = await fetch(link.href, { headers: { "X-Requested-With": "fetch" } });
    if (!answer.ok) return;
    const holder = document.createElement("ol");
    holder.innerHTML = await answer.text();
    prepare(holder);
    link.closest("li").replaceWith(...holder.children);
  });
});

// The scoring settings page: a workspace rescore's progress, polled while it runs and gone
// when it is done.
document.addEventListener("DOMContentLoaded", () => {
  const shown = document.querySelector("[data-rescore-progress]");
  if (!shown) return;
  const poll = async () => {
    try {
      const answer = await fetch("/settings/scoring/progress", { headers: { Accept: "application/json" } });
      if (answer.ok) {
        const state = await answer.json();
        shown.textContent = state.text;
        shown.hidden = !state.rescoring;
        if (!state.rescoring) return;
      }
    } catch (_) { /* offline for a moment: the next poll tries again */ }
    setTimeout(poll, 1000);
  };
  if (!shown.hidden) setTimeout(poll, 1000);
});

// An import's page: its progress while it runs in the background; the page reloads when
// it is done, to show what it did.
document.addEventListener("DOMContentLoaded", () => {
  const shown = document.querySelector("[data-import-progress]");
  if (!shown || shown.hidden) return;
  const poll = async () => {
    try {
      const answer = await fetch(shown.dataset.importProgress, { headers: { Accept: "application/json" } });
      if (answer.ok) {
        const state = await answer.json();
        shown.querySelector("progress").value = state.percent;
        shown.querySelector("[data-text]").textContent = state.text;
        if (!state.running) { window.location.reload(); return; }
      }
    } catch (_) { /* offline for a moment: the next poll tries again */ }
    setTimeout(poll, 1000);
  };
  setTimeout(poll, 1000);
});
