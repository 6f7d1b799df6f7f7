// A launched campaign's page, kept live: polls its stats.json and updates the figures,
// the rates, the skipped reasons, the replies and the state. No library, no CDN.
(function () {
  "use strict";
  var live = document.querySelector("[data-stats-url]");
  if (!live) return;
  var url = live.getAttribute("data-stats-url");
  var EVERY = 5000;

  function pick(data, path) {
    return path.split(".").reduce(function (v, k) { return v == null ? v : v[k]; }, data);
  }

  function text(el, value) {
    if (el.textContent !== value) el.textContent = value;
  }

  function render(data) {
    live.querySelectorAll("[data-stat]").forEach(function (el) {
      var value = pick(data, el.getAttribute("data-stat"));
      if (el.hasAttribute("data-time")) {
        text(el, value ? new Date(value).toLocaleString() : "—");
      } else if (value != null) {
        text(el, String(value));
      }
    });
    live.querySelectorAll("[data-rate]").forEach(function (el) {
      var rate = data.rates[el.getAttribute("data-rate")] || 0;
      text(el, Math.round(rate * 100) + " %");
    });
    var skipped = live.querySelector("[data-skipped]");
    if (skipped) {
      var items = Object.keys(data.progress.skipped).map(function (reason) {
        var li = document.createElement("li");
        li.textContent = reason.replace(/_/g, " ") + ": " + data.progress.skipped[reason];
        return li;
      });
      if (items.length) skipped.replaceChildren.apply(skipped, items);
    }
    var replies = live.querySelector("[data-replies]");
    if (replies && data.replies.length) {
      replies.replaceChildren.apply(replies, data.replies.map(function (r) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = "/leads/" + r.lead_id + "#timeline";
        a.textContent = r.lead;
        li.appendChild(a);
        li.appendChild(document.createTextNode(" " + new Date(r.at).toLocaleString()));
        return li;
      }));
    }
    var state = document.querySelector("[data-state]");
    if (state) {
      text(state, data.state);
      state.className = "state state-" + data.state;
    }
    return data.state;
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        var state = render(data);
        if (state !== "done" && state !== "cancelled") setTimeout(poll, EVERY);
      })
      .catch(function () { setTimeout(poll, EVERY * 3); });
  }
  setTimeout(poll, EVERY);
})();
