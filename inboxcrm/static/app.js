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
      card.classList.add("moving");  // its move form stays open while the reason is typed
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
    card.querySelector("[data-days]").textContent = "0 d";
    for (const [id, figures] of Object.entries(body.columns)) {
      const header = board.querySelector(`.column[data-stage="${id}"]`);
      if (!header) continue;
      header.querySelector("[data-count]").textContent = figures.count.toLocaleString("en");
      header.querySelector("[data-total]").textContent = figures.total;
    }
  });

  // "More" fetches the column's next cards in place (a folded column's first ones when it
  // is opened); a card moved into the column since is not shown twice.
  board.addEventListener("click", async (event) => {
    const link = event.target.closest("[data-more]");
    if (!link || link.dataset.loading) return;
    event.preventDefault();
    link.dataset.loading = "1";
    const answer = await fetch(link.href, { headers: { "X-Requested-With": "fetch" } });
    if (!answer.ok) { delete link.dataset.loading; return; }
    const holder = document.createElement("ol");
    holder.innerHTML = await answer.text();
    const column = link.closest(".column");
    holder.querySelectorAll("[data-lead]").forEach((card) => {
      if (column.querySelector(`[data-lead="${card.dataset.lead}"]`)) card.remove();
    });
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

// The lead page's contact card, edited in place and keyboard first: a field's button (or
// `e`, for the first field) opens its form, Enter saves, Esc cancels. The forms are plain
// forms without this script; with it they are sent with fetch and the card is swapped for
// the server's, so what shows is what was saved.
document.addEventListener("DOMContentLoaded", () => {
  if (!document.querySelector("[data-contact]")) return;
  const close = (box, focus = true) => {
    const form = box.querySelector("[data-edit-form]");
    form.reset();
    form.hidden = true;
    const error = form.querySelector("[data-edit-error]");
    error.hidden = true;
    const open = box.querySelector("[data-edit-open]");
    open.hidden = false;
    if (focus) open.focus();
  };
  const open = (box) => {
    document.querySelectorAll("[data-edit] [data-edit-form]:not([hidden])").forEach((f) => close(f.closest("[data-edit]"), false));
    box.querySelector("[data-edit-open]").hidden = true;
    const form = box.querySelector("[data-edit-form]");
    form.hidden = false;
    const first = form.querySelector("input:not([type=hidden]), select");
    first.focus();
    if (first.select) first.select();
  };
  const showError = (form, problem) => {
    const error = form.querySelector("[data-edit-error]");
    error.textContent = problem.message || "This could not be saved. Reload the page and try again.";
    if (problem.link) {
      const link = document.createElement("a");
      link.href = problem.link.href;
      link.textContent = problem.link.text;
      error.append(" ", link);
    }
    error.hidden = false;
  };
  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-edit-open]");
    if (opener) open(opener.closest("[data-edit]"));
    const cancel = event.target.closest("[data-edit-cancel]");
    if (cancel) close(cancel.closest("[data-edit]"));
  });
  document.addEventListener("keydown", (event) => {
    const form = event.target.closest && event.target.closest("[data-edit-form]");
    if (form && event.key === "Escape") {
      event.preventDefault();
      close(form.closest("[data-edit]"));
    } else if (form && event.key === "Enter" && event.target.tagName === "SELECT") {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "e" && !event.ctrlKey && !event.metaKey && !event.altKey
               && !event.target.closest("input, textarea, select, [contenteditable]")) {
      const first = document.querySelector("[data-contact] [data-edit-open]");
      if (first) {
        event.preventDefault();
        open(first.closest("[data-edit]"));
      }
    }
  });
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("[data-edit-form]");
    if (!form) return;
    event.preventDefault();
    const field = form.closest("[data-edit]")?.dataset.edit;
    let answer;
    try {
      answer = await fetch(form.action, { method: "POST", body: new FormData(form), headers: { Accept: "application/json" } });
    } catch (_) {
      showError(form, { message: "No connection: nothing was saved. Try again." });
      return;
    }
    const body = await answer.json().catch(() => ({}));
    if (!answer.ok) {
      showError(form, body.error || {});
      return;
    }
    const card = document.querySelector("[data-contact]");
    card.outerHTML = body.html;
    const again = field && document.querySelector(`[data-edit="${field}"] [data-edit-open]`);
    if (again) again.focus();
    const saved = document.querySelector("[data-contact]");
    saved.dataset.saved = field || "";
  });
});

// A member's first page sends their browser's timezone once, so every time they are shown
// is in their own zone from then on (changeable on their account page).
document.addEventListener("DOMContentLoaded", async () => {
  const body = document.body;
  if (!("timezoneUnknown" in body.dataset)) return;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) return;
  const form = new FormData();
  form.append("csrf_token", body.dataset.csrf);
  form.append("timezone", zone);
  form.append("from_browser", "1");
  try {
    const answer = await fetch(body.dataset.timezoneUrl, { method: "POST", body: form, headers: { Accept: "application/json" } });
    if (answer.ok && (await answer.json()).changed) window.location.reload();
  } catch (_) { /* offline: the next page tries again */ }
});

// The board's closing stages (Won, Lost, Nurture, Unqualified) fold to a strip; a click
// opens one, and the browser remembers which are open.
document.addEventListener("DOMContentLoaded", () => {
  const board = document.querySelector("[data-board]");
  if (!board) return;
  const key = "inboxcrm.board.open";
  const open = new Set(JSON.parse(localStorage.getItem(key) || "[]"));
  const show = (column, shown) => {
    column.classList.toggle("collapsed", !shown);
    const button = column.querySelector("[data-fold]");
    button.setAttribute("aria-expanded", String(shown));
    button.textContent = shown ? "Hide" : "Show";
    if (shown) column.querySelector("[data-unfold]")?.click();  // its cards, once
  };
  board.querySelectorAll(".column.collapsible").forEach((c) => show(c, open.has(c.dataset.stage)));
  board.addEventListener("click", (event) => {
    const button = event.target.closest("[data-fold]");
    if (!button) return;
    const column = button.closest(".column");
    const shown = column.classList.contains("collapsed");
    show(column, shown);
    if (shown) open.add(column.dataset.stage); else open.delete(column.dataset.stage);
    localStorage.setItem(key, JSON.stringify([...open]));
  });
});

// Keyboard habits: `/` searches, `j`/`k` walk the leads table and Enter opens the lead,
// `?` lists the shortcuts (`e` on a lead page is the contact card's). Never while typing.
document.addEventListener("DOMContentLoaded", () => {
  const rows = () => [...document.querySelectorAll("tr[data-row]")];
  let current = -1;
  const choose = (index) => {
    const all = rows();
    if (!all.length) return;
    current = Math.max(0, Math.min(all.length - 1, index));
    all.forEach((row, i) => row.classList.toggle("current", i === current));
    all[current].scrollIntoView({ block: "nearest" });
    all[current].querySelector("a.lead-name")?.focus({ preventScroll: true });
  };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, textarea, select, [contenteditable], dialog")) return;
    if (event.key === "/") {
      const search = document.querySelector("[data-search]");
      if (search) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    } else if (event.key === "?") {
      const dialog = document.querySelector("[data-shortcuts]");
      if (dialog && !dialog.open) {
        event.preventDefault();
        dialog.showModal();
      }
    } else if ((event.key === "j" || event.key === "k") && rows().length) {
      event.preventDefault();
      choose(current + (event.key === "j" ? 1 : -1));
    } else if (event.key === "Enter" && current >= 0 && !event.target.closest("a, button")) {
      const link = rows()[current]?.querySelector("a.lead-name");
      if (link) link.click();
    }
  });
});

// An email's body frame fits its content once it has loaded (the frame may be read: same
// origin, and nothing in it runs), capped so a very long mail scrolls inside its frame.
document.addEventListener("DOMContentLoaded", () => {
  const fit = (frame) => {
    try {
      const doc = frame.contentDocument;
      if (!doc || !doc.documentElement) return;
      // The html element's own box: its scrollHeight is never less than the frame's.
      const height = Math.ceil(doc.documentElement.getBoundingClientRect().height);
      frame.style.height = `${Math.min(Math.max(height + 4, 48), 1600)}px`;
    } catch (_) { /* another origin after all: keep the default height */ }
  };
  document.querySelectorAll("iframe[data-fit]").forEach((frame) => {
    frame.addEventListener("load", () => fit(frame));
    frame.closest("details")?.addEventListener("toggle", () => fit(frame));
  });
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
