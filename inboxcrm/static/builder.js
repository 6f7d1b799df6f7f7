// The segment builder: a tree of groups (all / any) and conditions, each of which can be
// negated. Every edit asks the server for the live count and the first leads (debounced);
// saving posts the tree as JSON with the form. No framework, no CDN.
document.addEventListener("DOMContentLoaded", () => {
  const root = document.querySelector("[data-builder]");
  if (!root) return;
  const vocab = JSON.parse(document.getElementById("segment-vocabulary").textContent);
  const form = document.querySelector("[data-segment-form]");
  const input = form.querySelector("[data-filter-input]");
  const countEl = document.querySelector("[data-count]");
  const countWord = document.querySelector("[data-count-word]");
  const leadsEl = document.querySelector("[data-leads]");
  const problem = document.querySelector("[data-filter-error]");
  const csrf = form.querySelector('input[name="csrf_token"]').value;
  const OP_WORDS = {
    is: "is", is_not: "is not", contains: "contains", not_contains: "does not contain",
    starts_with: "starts with", is_empty: "is empty", is_set: "is set", eq: "=", ne: "≠",
    gt: ">", gte: "≥", lt: "<", lte: "≤", before: "before", after: "after",
    within_days: "in the last … days", older_than_days: "more than … days ago",
    in: "is one of", not_in: "is none of", has: "includes", has_not: "does not include",
    is_true: "yes", is_false: "no", ever: "ever", never: "never",
    not_within_days: "not in the last … days",
  };
  const SEGMENT_OPS = { in: "is in", not_in: "is not in" };

  // JSON <-> the tree the page edits: {"not": x} becomes x with negate = true.
  const fromJson = (raw) => {
    if (raw && raw.not !== undefined) { const inner = fromJson(raw.not); inner.negate = !inner.negate; return inner; }
    if (raw && (raw.and || raw.or)) {
      const op = raw.and ? "and" : "or";
      return { type: "group", op, negate: false, items: raw[op].map(fromJson) };
    }
    const known = raw && vocab.fields[raw.field] && vocab.fields[raw.field].ops[raw.op] !== undefined;
    // A condition the page cannot show (a refused save's typo) starts over as a plain one.
    return { type: "condition", negate: false, raw: known ? { ...raw } : { field: "stage_kind", op: "is", value: "open" } };
  };
  const toJson = (node) => {
    let out;
    if (node.type === "group") out = { [node.op]: node.items.map(toJson) };
    else {
      out = { field: node.raw.field, op: node.raw.op };
      if (node.raw.kind !== undefined) out.kind = node.raw.kind;
      if (node.raw.of && Object.keys(node.raw.of).length) out.of = { ...node.raw.of };
      if (node.raw.value !== undefined && node.raw.value !== "") out.value = node.raw.value;
    }
    return node.negate ? { not: out } : out;
  };
  let tree = fromJson(JSON.parse(document.getElementById("segment-filter").textContent));
  if (tree.type !== "group") tree = { type: "group", op: "and", negate: false, items: [tree] };

  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    children.forEach((c) => node.append(c));
    return node;
  };
  const select = (label, options, chosen, onchange) => {
    const s = el("select", { "aria-label": label, onchange: (e) => onchange(e.target.value) });
    for (const [value, text] of options) {
      const o = el("option", { value: String(value), text: String(text) });
      if (String(value) === String(chosen)) o.selected = true;
      s.append(o);
    }
    return s;
  };
  const newCondition = () => ({ type: "condition", negate: false, raw: { field: "stage_kind", op: "is", value: "open" } });

  const takes = (raw) => vocab.fields[raw.field].ops[raw.op];
  const defaultValue = (raw) => {
    const t = takes(raw);
    const choices = vocab.choices[raw.field] || [];
    if (t === "choice" || t === "id") return choices.length ? choices[0][0] : "";
    if (t === "choices" || t === "ids") return choices.length ? [choices[0][0]] : [];
    if (t === "days") return 30;
    return undefined;
  };

  const valueControl = (raw) => {
    const t = takes(raw);
    const field = vocab.fields[raw.field];
    const choices = vocab.choices[raw.field] || [];
    const set = (v) => { raw.value = v; changed(); };
    if (!t) return el("span");
    if ((t === "choice" || t === "id") || (field.kind === "tag" && choices.length)) {
      return select(`${field.label} value`, choices, raw.value, (v) => set(t === "id" ? Number(v) : v));
    }
    if (t === "choices" || t === "ids") {
      const s = el("select", { multiple: "", "aria-label": `${field.label} values`, size: String(Math.min(4, choices.length || 1)) });
      const chosen = (raw.value || []).map(String);
      for (const [value, text] of choices) {
        const o = el("option", { value: String(value), text: String(text) });
        if (chosen.includes(String(value))) o.selected = true;
        s.append(o);
      }
      s.addEventListener("change", () => set([...s.selectedOptions].map((o) => (t === "ids" ? Number(o.value) : o.value))));
      return s;
    }
    const type = { number: "number", days: "number", date: "date" }[t] || "text";
    const box = el("input", { type, "aria-label": `${field.label} value`, value: raw.value ?? "" });
    if (t === "days") box.min = "0";
    box.addEventListener("input", () => {
      const v = box.value;
      raw.value = t === "days" ? (v === "" ? "" : Number(v)) : t === "number" ? (v === "" ? "" : Number(v)) : v;
      changed();
    });
    return box;
  };

  // "of": which campaign's or sequence's email (and which step of it), or any email.
  const sourceControls = (raw) => {
    const of = raw.of || {};
    const chosen = of.campaign ? `campaign:${of.campaign}` : of.sequence ? `sequence:${of.sequence}` : "";
    const options = [["", "any email"],
      ...vocab.sources.campaign.map(([id, name]) => [`campaign:${id}`, `campaign ${name}`]),
      ...vocab.sources.sequence.map(([id, name]) => [`sequence:${id}`, `sequence ${name}`])];
    const out = [select("From", options, chosen, (v) => {
      const [kind, id] = v.split(":");
      if (!kind) delete raw.of; else raw.of = { [kind]: Number(id) };
      changed(); render();
    })];
    if (of.sequence) {
      const found = vocab.sources.sequence.find(([id]) => id === of.sequence);
      const steps = found ? found[2].filter((st) => st[2]).map(([n, label]) => [n, label]) : [];
      out.push(select("Step", [["", "any step"], ...steps], of.step ?? "", (v) => {
        if (v === "") delete raw.of.step; else raw.of.step = Number(v);
        changed();
      }));
    }
    return out;
  };

  const negateBox = (node) => {
    const box = el("input", { type: "checkbox", onchange: (e) => { node.negate = e.target.checked; changed(); render(); } });
    box.checked = node.negate;
    return el("label", { class: "check negate" }, box, " Not");
  };

  const renderCondition = (node, parent) => {
    const raw = node.raw;
    const fields = Object.entries(vocab.fields).map(([name, f]) => [name, f.label]);
    const row = el("div", { class: "condition" + (node.negate ? " negated" : ""), "data-condition": "" });
    row.append(negateBox(node));
    row.append(select("Field", fields, raw.field, (v) => {
      raw.field = v;
      raw.op = Object.keys(vocab.fields[v].ops)[0];
      delete raw.kind;
      if (vocab.fields[v].kind === "activity") raw.kind = "reply";
      raw.value = defaultValue(raw);
      changed(); render();
    }));
    if (vocab.fields[raw.field].kind === "activity") {
      row.append(select("Activity", vocab.choices.activity, raw.kind, (v) => {
        raw.kind = v;
        if (!vocab.sources.kinds.includes(v)) delete raw.of;
        changed(); render();
      }));
      if (vocab.sources.kinds.includes(raw.kind)) row.append(...sourceControls(raw));
    }
    const ops = Object.keys(vocab.fields[raw.field].ops).map((op) => [op, (raw.field === "segment" ? SEGMENT_OPS[op] : OP_WORDS[op]) || op]);
    row.append(select("Operator", ops, raw.op, (v) => {
      const before = takes(raw);
      raw.op = v;
      if (takes(raw) !== before) raw.value = defaultValue(raw);
      changed(); render();
    }));
    row.append(valueControl(raw));
    row.append(el("button", { type: "button", class: "link", "aria-label": "Remove condition", text: "Remove",
      onclick: () => { parent.items.splice(parent.items.indexOf(node), 1); changed(); render(); } }));
    return row;
  };

  const renderGroup = (node, parent) => {
    const box = el("fieldset", { class: "group" + (node.negate ? " negated" : ""), "data-group": "" });
    const head = el("legend");
    if (parent) head.append(negateBox(node));
    head.append(select("Match", [["and", "All of these"], ["or", "Any of these"]], node.op, (v) => { node.op = v; changed(); }));
    box.append(head);
    if (!node.items.length) box.append(el("p", { class: "muted small", text: node.op === "and" ? "No conditions: every lead." : "No conditions: no lead." }));
    for (const item of node.items) box.append(item.type === "group" ? renderGroup(item, node) : renderCondition(item, node));
    const actions = el("div", { class: "group-actions" });
    actions.append(el("button", { type: "button", text: "Add condition", onclick: () => { node.items.push(newCondition()); changed(); render(); } }));
    actions.append(el("button", { type: "button", text: "Add group", onclick: () => {
      node.items.push({ type: "group", op: node.op === "and" ? "or" : "and", negate: false, items: [newCondition()] });
      changed(); render();
    } }));
    if (parent) actions.append(el("button", { type: "button", class: "link", text: "Remove group",
      onclick: () => { parent.items.splice(parent.items.indexOf(node), 1); changed(); render(); } }));
    box.append(actions);
    return box;
  };

  const render = () => { root.replaceChildren(renderGroup(tree, null)); };

  let timer = null;
  let asked = 0;
  const refresh = async () => {
    const mine = ++asked;
    const filter = toJson(tree);
    input.value = JSON.stringify(filter);
    try {
      const answer = await fetch("/segments/preview", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ filter }),
      });
      const body = await answer.json().catch(() => ({}));
      if (mine !== asked) return; // a later edit's answer is on its way
      if (!answer.ok) {
        problem.textContent = body.error?.message || "The filter could not be counted.";
        problem.hidden = false;
        countEl.textContent = "?";
        return;
      }
      problem.hidden = true;
      countEl.textContent = body.count.toLocaleString("en");
      countWord.textContent = body.count === 1 ? "lead" : "leads";
      leadsEl.replaceChildren(...body.leads.map((lead) => el("li", {},
        el("a", { href: lead.url, text: lead.name }),
        el("span", { class: "muted small", text: ` ${lead.company ? lead.company + " · " : ""}${lead.stage}` }))));
    } catch (_) {
      if (mine === asked) { problem.textContent = "Offline: the count will update when the server answers."; problem.hidden = false; }
    }
  };
  const changed = () => { input.value = JSON.stringify(toJson(tree)); clearTimeout(timer); timer = setTimeout(refresh, 200); };
  form.addEventListener("submit", () => { input.value = JSON.stringify(toJson(tree)); });
  render();
  refresh();
});
