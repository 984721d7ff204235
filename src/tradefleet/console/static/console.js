// The console's only script: live updates over server-sent events, auto-submitting filters,
// and actions posted in place (with a confirmation where the button asks for one).
"use strict";
(function () {
  const content = document.getElementById("content");
  const live = document.getElementById("live");
  const flash = document.getElementById("flash");
  let loading = false, again = false;

  async function refresh() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      const resp = await fetch(location.pathname + location.search,
                               {headers: {"X-Fragment": "1"}, cache: "no-store"});
      if (resp.ok) {
        content.innerHTML = await resp.text();
        content.dataset.version = String(Number(content.dataset.version || 0) + 1);
        wireFilters();
      }
    } finally {
      loading = false;
      if (again) { again = false; refresh(); }
    }
  }

  function connect() {
    const source = new EventSource("/live");
    source.addEventListener("hello", () => { live.textContent = "live"; live.className = "live on"; });
    source.addEventListener("change", () => { live.dataset.last = Date.now(); refresh(); });
    source.onerror = () => { live.textContent = "reconnecting"; live.className = "live off"; };
  }

  function wireFilters() {
    document.querySelectorAll("form.filters select").forEach((s) => {
      s.onchange = () => s.form.submit();
    });
  }

  function say(text, ok) {
    const line = document.createElement("div");
    line.className = ok ? "ok" : "alarm";
    line.textContent = new Date().toLocaleTimeString("en-GB", {timeZone: "Asia/Seoul"}) +
      " " + text;
    flash.prepend(line);
  }

  const actions = document.getElementById("actions");
  if (actions) {
    actions.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = event.submitter;
      if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
        say("liquidation not asked (cancelled)", false);
        return;
      }
      const data = new FormData(actions);
      if (button) data.set(button.name, button.value);
      const resp = await fetch(actions.getAttribute("action"), {method: "POST", body: data,
                                                headers: {"Accept": "application/json"}});
      const text = await resp.text();
      let answer;
      try { answer = JSON.parse(text); } catch (e) { answer = {ok: false, error: text}; }
      if (answer.ok) {
        const who = answer.workers.map((w) => w.worker + (w.changed ? "" : " (unchanged)"));
        say(answer.action + " asked for " + who.join(", ") + " by " + answer.by +
            ": " + answer.reason, true);
      } else {
        say("refused: " + (answer.error || resp.status), false);
      }
      refresh();
    });
  }
  wireFilters();
  if (!document.getElementById("content").querySelector("form.login")) connect();
  else { live.textContent = "paused while signing in"; }
})();
