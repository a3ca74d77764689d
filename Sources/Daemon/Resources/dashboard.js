"use strict";
(function () {
  // ---------- small helpers ----------
  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));
  const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

  /** Creates an element: h("td", {class: "num"}, "text", child, …); attributes starting with "on" are listeners. */
  function h(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value);
      else if (key === "class") element.className = value;
      else if (key === "dataset") Object.assign(element.dataset, value);
      else if (value === true) element.setAttribute(key, "");
      else element.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  /** Replaces an element's children, skipping null, undefined and false. */
  function fill(element, ...children) {
    element.replaceChildren(...children.flat().filter(c => c !== null && c !== undefined && c !== false));
    return element;
  }

  function formatNumber(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value !== "number") return String(value);
    if (!isFinite(value)) return String(value);
    const a = Math.abs(value);
    if (a === 0) return "0";
    if (a >= 10000) return value.toFixed(0);
    if (a >= 100) return value.toFixed(1);
    if (a >= 1) return value.toFixed(2);
    if (a >= 0.01) return value.toFixed(3);
    return value.toPrecision(3);
  }

  /** A setting or limit as typed: no trailing zeros (85, 0.5, 0.001). */
  function formatPlain(value) {
    if (typeof value !== "number" || !isFinite(value)) return formatValue(value);
    return String(parseFloat(value.toPrecision(6)));
  }

  /** Local time: HH:MM:SS today, else YYYY-MM-DD HH:MM. */
  function formatTime(unix) {
    if (unix === null || unix === undefined) return "—";
    const d = new Date(unix * 1000);
    const pad = n => String(n).padStart(2, "0");
    const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    const now = new Date();
    if (d.toDateString() === now.toDateString()) return time;
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time.slice(0, 5)}`;
  }

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return `${seconds} s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, "0")} s`;
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, "0")} min`;
    return `${Math.floor(hours / 24)} d ${hours % 24} h`;
  }

  /** "updated 3 s ago", or "no data yet" before the station's first tick. */
  function formatAge(unix) {
    if (!unix) return "no data yet";
    const age = Date.now() / 1000 - unix;
    return age < 2 ? "updated just now" : `updated ${formatDuration(age)} ago`;
  }

  /** A results value for people: numbers formatted, lists joined with "; ", objects as "key value, key value". */
  function formatValue(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "number") return Number.isInteger(value) ? String(value) : formatNumber(value);
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (typeof value === "string") return value;
    const text = Array.isArray(value)
      ? (value.length ? value.map(formatValue).join("; ") : "none")
      : Object.entries(value).map(([k, v]) => `${k} ${formatValue(v)}`).join(", ");
    return text.length > 240 ? text.slice(0, 237) + "…" : text;
  }

  /** Windows longer than this (6 h) are plotted from the data log's summary (min/max per bucket). */
  const LONG_RANGE = 21600;

  /** "07 Dec" for a Unix time (long plots' ticks). */
  function formatDay(t) {
    const d = new Date(t * 1000);
    return String(d.getDate()).padStart(2, "0") + " " + d.toLocaleString("en-GB", { month: "short" });
  }

  /** "4 min", "17 min", "1 h 12 min" for a number of seconds (a long plot's buckets). A name of its own: as a second
   *  `formatDuration` it replaced the one above everywhere ("updated 1 min ago" for a value 3 s old). */
  function formatBucket(seconds) {
    const minutes = Math.round(seconds / 60);
    if (minutes < 60) return `${Math.max(1, minutes)} min`;
    return `${Math.floor(minutes / 60)} h` + (minutes % 60 ? ` ${minutes % 60} min` : "");
  }

  function unitSuffix(unit) { return unit ? " " + unit : ""; }

  // ---------- token (kept for the browser tab's session) ----------
  const session = {
    get token() { try { return sessionStorage.getItem("rigd.token") || ""; } catch (e) { return ""; } },
    set token(v) { try { v ? sessionStorage.setItem("rigd.token", v) : sessionStorage.removeItem("rigd.token"); } catch (e) { /* private mode */ } },
    // The token's name and role as rigd said them (check-token): who the data log records, what the page allows.
    get who() { try { return JSON.parse(sessionStorage.getItem("rigd.who") || "null"); } catch (e) { return null; } },
    set who(v) { try { v ? sessionStorage.setItem("rigd.who", JSON.stringify(v)) : sessionStorage.removeItem("rigd.who"); } catch (e) { /* private mode */ } },
  };
  /** Whether the token in use may write (operator or admin). */
  function mayWrite() { return !!session.token && !!session.who && session.who.may_write; }
  /** Whether the token in use is an admin's (the configuration reload). */
  function isAdmin() { return !!session.token && !!session.who && session.who.role === "admin"; }
  const tokenListeners = [];
  let readsNeedToken = false;

  function authHeaders() {
    const token = session.token;
    return token ? { "Authorization": "Bearer " + token } : {};
  }

  function updateTokenUI() {
    const has = !!session.token;
    const who = session.who;
    const state = $("#token-state");
    state.textContent = has && who ? `${who.name} · ${who.role}` : has ? "token set" : "read-only";
    state.title = has && who ? (who.may_write ? "writes are recorded with this name" : "this token's role only reads") : "";
    state.classList.toggle("has-token", has);
    state.classList.toggle("viewer-token", has && !mayWrite());
    $("#token-button").textContent = has ? "Forget token" : "Enter token";
    for (const element of $$("[data-write]")) setWritable(element);
    for (const element of $$("[data-admin]")) element.hidden = !isAdmin();
    for (const note of $$(".readonly-note")) {
      note.hidden = mayWrite();
      const viewer = note.querySelector(".viewer-reason");
      if (viewer) viewer.hidden = !has;
    }
    for (const listener of tokenListeners) listener(has);
  }

  /** A write control is enabled with a token that may write, unless a request is under way (busy) or it does not apply now (idle). */
  function setWritable(element) {
    element.disabled = !mayWrite() || element.dataset.busy === "1" || element.dataset.idle === "1";
  }

  /** Asks whether rigd accepts the token (the answer is always 200, so no console error). */
  async function checkToken(token) {
    const headers = token ? { "Authorization": "Bearer " + token } : {};
    const response = await fetch("/dashboard/check-token", { method: "POST", headers, cache: "no-store" });
    return response.json();
  }

  function openTokenDialog(reason) {
    const dialog = $("#token-dialog");
    $("#token-input").value = "";
    const error = $("#token-error");
    error.textContent = reason || "";
    error.hidden = !reason;
    if (!dialog.open) dialog.showModal();
    $("#token-input").focus();
  }

  function setUpTokenDialog() {
    const dialog = $("#token-dialog");
    $("#token-button").addEventListener("click", () => {
      if (session.token) {
        session.token = "";
        session.who = null;
        updateTokenUI();
      } else {
        openTokenDialog();
      }
    });
    for (const button of $$("[data-ask-token]")) button.addEventListener("click", () => openTokenDialog());
    $("#token-cancel").addEventListener("click", () => dialog.close());
    $("#token-form").addEventListener("submit", async event => {
      event.preventDefault();
      const error = $("#token-error");
      const token = $("#token-input").value.trim();
      if (!token) {
        error.textContent = "Enter your token (from `rigd token add`, or the content of rigd's api-token file).";
        error.hidden = false;
        return;
      }
      $("#token-save").disabled = true;
      try {
        const answer = await checkToken(token);
        if (!answer.valid) {
          error.textContent = "rigd does not accept this token (revoked, mistyped, or not this rigd's).";
          error.hidden = false;
          return;
        }
        session.token = token;
        session.who = { name: answer.name, role: answer.role, may_write: answer.may_write };
        dialog.close();
        updateTokenUI();
      } catch (e) {
        error.textContent = "rigd did not answer: " + e.message;
        error.hidden = false;
      } finally {
        $("#token-save").disabled = false;
      }
    });
  }

  // ---------- HTTP API ----------
  /** {ok, status, data} or {ok: false, status, reason}; a 401 drops the token and asks for it again. */
  async function api(method, path, body) {
    const headers = authHeaders();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, { method, headers, cache: "no-store",
                                     body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      return { ok: false, status: 0, reason: "rigd did not answer (" + e.message + ")" };
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (response.ok) return { ok: true, status: response.status, data };
    const reason = data && data.reason ? data.reason : `HTTP ${response.status} ${response.statusText}`;
    if (response.status === 401) {
      const had = !!session.token;
      session.token = "";
      session.who = null;
      updateTokenUI();
      openTokenDialog(had ? "rigd no longer accepts the token: " + reason : reason);
    }
    return { ok: false, status: response.status, reason, error: data && data.error, data };
  }

  function showProblem(text) {
    const problem = $("#problem");
    if (!problem) return;
    problem.textContent = text || "";
    problem.hidden = !text;
  }

  /** Downloads a CSV of the API through fetch (so it carries the token where reads need it). */
  async function download(path, messageElement) {
    messageElement.className = "message";
    messageElement.textContent = "Preparing the CSV…";
    let response;
    try {
      response = await fetch(path, { headers: authHeaders(), cache: "no-store" });
    } catch (e) {
      messageElement.className = "message error";
      messageElement.textContent = "rigd did not answer: " + e.message;
      return;
    }
    if (!response.ok) {
      let reason = `HTTP ${response.status}`;
      try { reason = (await response.json()).reason || reason; } catch (e) { /* not JSON */ }
      messageElement.className = "message error";
      messageElement.textContent = "No CSV: " + reason;
      return;
    }
    const blob = await response.blob();
    const disposition = response.headers.get("Content-Disposition") || "";
    const match = /filename="([^"]+)"/.exec(disposition);
    const link = h("a", { href: URL.createObjectURL(blob), download: match ? match[1] : "rigd.csv" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    const rows = Math.max(0, (await blob.text()).split("\r\n").filter(l => l.length).length - 1);
    messageElement.className = "message ok";
    messageElement.textContent = `Downloaded ${match ? match[1] : "the CSV"} (${rows} rows).`;
  }

  // ---------- live values: Server-Sent Events over fetch ----------
  /** Calls onFrame with each `values` event's data; reconnects with backoff; onState(true|false). */
  function openStream(onFrame, onState) {
    let stopped = false;
    let controller = null;
    window.addEventListener("pagehide", () => { stopped = true; if (controller) controller.abort(); });
    (async () => {
      let delay = 1000;
      while (!stopped) {
        controller = new AbortController();
        try {
          const response = await fetch("/api/stream?interval=1",
                                       { headers: authHeaders(), signal: controller.signal, cache: "no-store" });
          if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
          const reader = response.body.getReader();
          const decoder = new TextDecoder();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += decoder.decode(value, { stream: true }).replace(/\r/g, "");
            let end;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              let event = "message";
              const data = [];
              for (const line of block.split("\n")) {
                if (!line || line.startsWith(":")) continue;
                const colon = line.indexOf(":");
                const field = colon < 0 ? line : line.slice(0, colon);
                let text = colon < 0 ? "" : line.slice(colon + 1);
                if (text.startsWith(" ")) text = text.slice(1);
                if (field === "event") event = text;
                else if (field === "data") data.push(text);
              }
              if (event !== "values" || !data.length) continue;
              let frame;
              try { frame = JSON.parse(data.join("\n")); } catch (e) { continue; }
              delay = 1000;
              onState(true);
              onFrame(frame);
            }
          }
        } catch (e) {
          if (stopped) return;
        }
        if (stopped) return;
        onState(false);
        await sleep(delay);
        delay = Math.min(delay * 2, 10000);
      }
    })();
  }

  function setLive(on) {
    const live = $("#live");
    live.classList.toggle("on", on);
    live.textContent = on ? "live" : "reconnecting…";
  }

  function simulatedBanner(text) {
    const banner = $("#sim-banner");
    banner.textContent = text || "";
    banner.hidden = !text;
  }

  function modeBadge(element, mode) {
    element.dataset.mode = mode;
    element.textContent = mode === "simulated" ? "SIMULATED" : mode === "real" ? "REAL DEVICE" : String(mode).toUpperCase();
    element.title = mode === "simulated" ? "Values come from rigd's built-in simulator, not from a device"
                  : mode === "refused" ? "Not started: something answered at the address, but not as this kind; never simulated"
                  : "Values come from the device";
  }

  function linkPills(up, link) {
    const counters = `${link.transactions} transactions, ${link.link_errors} link errors, ` +
      `${link.transaction_errors} transaction errors, ${link.reconnects} reconnects` +
      (link.last_error ? `; last error: ${link.last_error}` : "");
    const pills = [up ? h("span", { class: "pill ok", title: counters }, "link up")
                      : h("span", { class: "pill bad", title: counters }, "LINK DOWN")];
    const errors = link.link_errors + link.transaction_errors;
    if (errors) pills.push(h("span", { class: "pill warn", title: counters }, `${errors} error${errors === 1 ? "" : "s"}`));
    return pills;
  }

  /** The device's own status bits (device_status: estop, interlock, …), when the API reports any. */
  function devicePill(status) {
    const bits = Array.isArray(status.device_status) ? status.device_status : [];
    if (!bits.length) return null;
    return h("span", { class: "pill bad", title: "the device's own status bits" }, "device: " + bits.join(", "));
  }

  function alarmPill(count, worst) {
    if (!count) return h("span", { class: "pill ok" }, "no alarms");
    const cls = worst === "warning" ? "pill warn" : "pill bad";
    return h("span", { class: cls }, `${count} alarm${count === 1 ? "" : "s"}${worst ? " (" + worst + ")" : ""}`);
  }

  function worstSeverity(alarms) {
    const rank = { warning: 0, alarm: 1, trip: 2 };
    let worst = null;
    for (const a of alarms || []) if (worst === null || (rank[a.severity] ?? 1) > (rank[worst] ?? 1)) worst = a.severity;
    return worst;
  }

  function runText(run, phase) {
    const parts = [];
    if (run) {
      let text = `run #${run.number} “${run.recipe}” ${run.outcome}`;
      if (run.outcome === "running" && run.started_at) text += ` ${formatDuration(Date.now() / 1000 - run.started_at)}`;
      parts.push(text);
    } else {
      parts.push("no run");
    }
    if (phase) parts.push(phase);
    return parts.join(" · ");
  }

  function runPill(run, phase) {
    const cls = !run ? "pill" : run.outcome === "running" ? "pill run" : run.outcome === "aborted" ? "pill warn" : "pill";
    return h("span", { class: cls, title: run && run.reason ? run.reason : "" }, runText(run, phase));
  }

  /** Outputs in hand mode (an operator's value, not the controller's): impossible to miss. */
  function handPill(status) {
    const hand = Array.isArray(status.hand) ? status.hand : [];
    if (!hand.length) return null;
    const title = hand.map(x => `${x.output} = ${handValue(x)} until ${formatTime(x.until)}` + (x.by ? ` by ${x.by}` : "") +
                                (x.why ? ` (${x.why})` : "")).join("\n");
    return h("span", { class: "pill hand", title }, `HAND: ${hand.map(x => x.output + " " + handValue(x)).join(", ")}`);
  }

  function handValue(x) {
    return x.kind === "setpoint" ? formatPlain(x.value) + unitSuffix(x.unit) : (x.value ? "ON" : "OFF");
  }

  /** Stations not started because their device answered as something else (mode "refused"). */
  function refusedSummary(statuses) {
    const refused = statuses.filter(s => s.mode === "refused");
    if (!refused.length) return "";
    return `REFUSED — ${refused.length} station${refused.length === 1 ? "" : "s"} not started (a device answered, but not as its kind; never simulated): ` +
           refused.map(s => `${s.name} (device at ${s.address} ${s.refused_reason})`).join("; ") + ". ";
  }

  function simulatedSummary(statuses) {
    const simulated = statuses.filter(s => s.mode === "simulated");
    if (!simulated.length) return refusedSummary(statuses);
    if (simulated.length === statuses.length) {
      const missing = simulated.filter(s => s.missing_address);
      return refusedSummary(statuses) + `SIMULATED — all ${statuses.length} stations run on rigd's built-in simulator: no value on these pages comes from a real device.` +
             (missing.length ? ` No device answered at: ${missing.map(s => `${s.missing_address} (${s.name})`).join(", ")}.` : "");
    }
    return refusedSummary(statuses) + `SIMULATED — ${simulated.length} of ${statuses.length} stations run on rigd's built-in simulator: ` +
           simulated.map(s => s.missing_address ? `${s.name} (no device at ${s.missing_address})` : s.name).join(", ");
  }

  // ---------- overview ----------
  async function overview() {
    const grid = $("#stations");
    const cards = new Map();       // station name → its card
    const built = new Map();       // station name → what its card was built for (cardShape)
    let statuses = [];

    function card(status) {
      const keyChannels = status.channels.slice(0, 4);
      const values = h("dl", { class: "key-values" }, keyChannels.map(c =>
        h("div", {},
          h("dt", { title: c.name }, c.name),
          h("dd", {}, h("span", { class: "value", dataset: { value: `${status.name}/${c.name}` } }, formatNumber(c.value)),
            h("span", { class: "unit" }, unitSuffix(c.unit))))));
      const element = h("article", { class: "card station-card", dataset: { station: status.name } },
        h("header", {},
          h("h2", {}, h("a", { href: "/dashboard/station/" + encodeURIComponent(status.name) }, status.name)),
          h("span", { class: "badge badge-mode" })),
        h("div", { class: "meta", title: status.address }, `${status.kind} · ${status.address}`),
        h("div", { class: "status-row" }),
        values,
        h("div", { class: "alarm-codes" }),
        h("footer", {}, h("span", { class: "updated" }),
          h("a", { class: "open", href: "/dashboard/station/" + encodeURIComponent(status.name) }, "Open ›")));
      return element;
    }

    /** What a card is built from: a station restarted by a reload with another kind, address or channels gets a
     *  new one. */
    function cardShape(status) {
      return [status.kind, status.address, ...status.channels.slice(0, 4).map(c => c.name + " " + c.unit)].join("\n");
    }

    function update(status) {
      let element = cards.get(status.name);
      if (element && built.get(status.name) !== cardShape(status)) {
        const fresh = card(status);
        element.replaceWith(fresh);
        element = fresh;
        cards.set(status.name, element);
      }
      if (!element) {
        element = card(status);
        cards.set(status.name, element);
        grid.append(element);
      }
      built.set(status.name, cardShape(status));
      element.classList.toggle("mode-simulated", status.mode === "simulated");
      element.classList.toggle("mode-real", status.mode === "real");
      element.classList.toggle("mode-refused", status.mode === "refused");
      modeBadge($(".badge-mode", element), status.mode);
      const row = $(".status-row", element);
      if (status.mode === "refused") {
        fill(row, h("span", { class: "pill bad" }, "NOT STARTED"));
        const codes = $(".alarm-codes", element);
        codes.textContent = `The device at ${status.address} ${status.refused_reason || "was refused"}; the station is not simulated.`;
        codes.hidden = false;
        $(".updated", element).textContent = "";
        return;
      }
      fill(row, ...linkPills(status.link.up, status.link), devicePill(status),
           alarmPill(status.alarms.length, worstSeverity(status.alarms)), runPill(status.run, status.phase), handPill(status));
      element.classList.toggle("has-trip", status.alarms.some(a => a.severity !== "warning"));
      element.classList.toggle("has-hand", !!(status.hand && status.hand.length));
      const codes = $(".alarm-codes", element);
      codes.textContent = status.alarms.map(a => a.code + (a.acknowledged_at ? " (acknowledged)" : "")).join(", ");
      codes.hidden = !status.alarms.length;
      for (const c of status.channels) {
        const cell = element.querySelector(`[data-value="${CSS.escape(status.name + "/" + c.name)}"]`);
        if (cell) cell.textContent = formatNumber(c.value);
      }
      $(".updated", element).textContent = formatAge(status.updated_at);
    }

    function renderAll() {
      // Stations a reload removed lose their card; the others are shown in the configuration's order.
      const names = new Set(statuses.map(s => s.name));
      for (const [name, element] of cards) {
        if (names.has(name)) continue;
        element.remove();
        cards.delete(name);
        built.delete(name);
      }
      for (const status of statuses) update(status);
      statuses.forEach((status, index) => {
        const element = cards.get(status.name);
        if (grid.children[index] !== element) grid.insertBefore(element, grid.children[index] || null);
      });
      simulatedBanner(simulatedSummary(statuses));
      const alarms = statuses.reduce((n, s) => n + s.alarms.length, 0);
      const down = statuses.filter(s => !s.link.up && s.mode !== "refused").length;
      const running = statuses.filter(s => s.run && s.run.outcome === "running").length;
      const held = statuses.reduce((n, s) => n + (s.hand ? s.hand.length : 0), 0);
      $("#summary").textContent = `${statuses.length} stations · ${down ? down + " link" + (down === 1 ? "" : "s") + " down" : "all links up"} · ` +
        `${alarms} active alarm${alarms === 1 ? "" : "s"} · ${running} run${running === 1 ? "" : "s"} in progress` +
        (held ? ` · ${held} output${held === 1 ? "" : "s"} IN HAND MODE` : "");
    }

    let reading = null;
    /** Reads every station again (one request at a time: frames that call for it while one is under way share it). */
    function refresh() {
      if (!reading) {
        reading = (async () => {
          const answer = await api("GET", "/api/stations");
          if (!answer.ok) { showProblem("Cannot read the stations: " + answer.reason); return; }
          showProblem("");
          statuses = answer.data.stations;
          renderAll();
        })().finally(() => { reading = null; });
      }
      return reading;
    }

    function onFrame(frame) {
      // Another set of stations (a configuration reload added or removed some): read them all again.
      let structural = frame.stations.map(e => e.name).sort().join("\n") !== statuses.map(s => s.name).sort().join("\n");
      for (const entry of frame.stations) {
        const status = statuses.find(s => s.name === entry.name);
        if (!status) { structural = true; continue; }
        status.mode = entry.mode;
        status.link.up = entry.link_up;
        status.updated_at = entry.updated_at;
        status.phase = entry.phase;
        for (const c of status.channels) if (c.name in entry.values) c.value = entry.values[c.name];
        const codes = status.alarms.map(a => a.code).sort().join(",");
        if (codes !== [...entry.alarms].sort().join(",")) structural = true;
        if ((status.run ? status.run.outcome : undefined) !== (entry.run === null ? undefined : entry.run)) structural = true;
      }
      if (structural) refresh(); else renderAll();
    }

    setUpReload(refresh);
    await refresh();
    openStream(onFrame, setLive);
    setInterval(refresh, 5000);
  }

  /** The overview's "Reload configuration" (admin only): asks to confirm, POSTs /api/reload, and says what it did
   *  in a notice that stays until dismissed; the station cards then follow the new configuration. */
  function setUpReload(refresh) {
    const button = $("#reload-button");
    const dialog = $("#reload-dialog");
    if (!button || !dialog) return;
    function notice(kind, text, errors) {
      const box = $("#reload-notice");
      box.className = "notice" + (kind ? " " + kind : "");
      $("#reload-text").textContent = text;
      const list = $("#reload-errors");
      fill(list, (errors || []).map(line => h("li", {}, line)));
      list.hidden = !(errors && errors.length);
      box.hidden = false;
    }
    button.addEventListener("click", () => { if (!dialog.open) dialog.showModal(); $("#reload-cancel").focus(); });
    $("#reload-cancel").addEventListener("click", () => dialog.close());
    $("#reload-dismiss").addEventListener("click", () => { $("#reload-notice").hidden = true; });
    $("#reload-form").addEventListener("submit", async event => {
      event.preventDefault();
      dialog.close();
      button.disabled = true;
      notice("", "Reloading the configuration… (a changed station's device is probed again; this may take a few seconds)");
      const answer = await api("POST", "/api/reload");
      const outcome = answer.data;
      if (answer.ok && outcome) {
        notice("ok", `Configuration reloaded from ${outcome.source}: ${outcome.summary}.`);
      } else if (answer.status === 422 && outcome && Array.isArray(outcome.errors)) {
        notice("error", `Reload ${outcome.summary}:`, outcome.errors);
      } else {
        notice("error", "Not reloaded: " + answer.reason);
      }
      button.disabled = false;
      await refresh();
    });
  }

  // ---------- station page ----------
  // Per-kind recipe hints, written here for now; they are to come from the kinds themselves (GET /api/kinds).
  // What each kind is (runs or not, its recipe keys and an example recipe), from GET /api/kinds: the dashboard names
  // no kind of its own.
  let kinds = null;
  async function kindOf(name) {
    if (!kinds) {
      const answer = await api("GET", "/api/kinds");
      kinds = answer.ok && answer.data ? answer.data.kinds : [];
    }
    return kinds.find(k => k.name === name) || null;
  }
  const COLORS = ["#1d5fbf", "#d1392b", "#17803d", "#8a3ffc", "#e07a10", "#0e8fa8", "#5b6776", "#b8860b"];

  /** "key = value" lines (or a JSON object) into {key: number}; booleans become 1/0. */
  function parseParameters(text) {
    const trimmed = text.trim();
    if (!trimmed) return {};
    if (trimmed.startsWith("{")) {
      let object;
      try { object = JSON.parse(trimmed); } catch (e) { throw new Error("the parameters are not valid JSON: " + e.message); }
      return object;
    }
    const parameters = {};
    for (const [index, raw] of trimmed.split("\n").entries()) {
      const line = raw.replace(/#.*/, "").trim();
      if (!line) continue;
      const match = /^([A-Za-z_][A-Za-z0-9_]*)\s*[=:]\s*(\S+)$/.exec(line);
      if (!match) throw new Error(`line ${index + 1}: write name = number (got “${raw.trim()}”)`);
      const [, key, valueText] = match;
      if (valueText === "true" || valueText === "false") { parameters[key] = valueText === "true"; continue; }
      const value = Number(valueText);
      if (!isFinite(value)) throw new Error(`line ${index + 1}: ${key} needs a number, got “${valueText}”`);
      parameters[key] = value;
    }
    return parameters;
  }

  /** At most `limit` points, keeping each bucket's minimum and maximum (peaks survive). */
  function downsample(points, limit) {
    if (points.length <= limit) return points;
    const size = Math.ceil(points.length / (limit / 2));
    const out = [];
    for (let i = 0; i < points.length; i += size) {
      const bucket = points.slice(i, i + size);
      let lo = null, hi = null;
      for (const p of bucket) {
        if (p.y === null) continue;
        if (lo === null || p.y < lo.y) lo = p;
        if (hi === null || p.y > hi.y) hi = p;
      }
      if (lo === null) { out.push({ x: bucket[0].x, y: null }); continue; }
      if (lo === hi) out.push(lo); else if (lo.x < hi.x) out.push(lo, hi); else out.push(hi, lo);
    }
    return out;
  }

  async function station(name) {
    const nav = $("#nav-station");
    nav.append(h("a", { href: location.pathname }, name));
    let status = null;
    let range = 900;
    let plotted = null;          // Set of channel names
    let charts = [];             // [{chart, channels: [names]}]
    const series = new Map();    // channel → [{x, y}]
    let lastFrameTime = null;
    let historyToken = 0;
    const chartsAvailable = typeof window.Chart === "function";
    window.rigdCharts = charts;

    // --- header, values table, results ---
    function renderHead() {
      modeBadge($("#station-mode"), status.mode);
      $("#station-kind").textContent = status.kind;
      const link = status.link;
      const errors = link.link_errors + link.transaction_errors;
      const kinds = Object.entries(link.errors_by_kind || {}).map(([k, n]) => `${k} ${n}`).join(", ");
      $("#station-meta").textContent = `${status.address} · ${formatAge(status.updated_at)} · ` +
        `${link.transactions} transactions, ${errors} errors${kinds ? " (" + kinds + ")" : ""}, ${link.reconnects} reconnects` +
        (link.last_error ? ` · last error: ${link.last_error}` : "");
      const note = $("#station-map");
      if (note) {
        const map = status.device_map;
        note.hidden = !map;
        note.classList.toggle("warn", !!map && map.relies_on_host);
        note.textContent = !map ? "" :
          `Device map: ${map.name} · read plan: ${(status.read_plan || []).length} request(s) across the loops (hover to see them)` +
          (map.missing_channels.length ? ` · not in the map: ${map.missing_channels.join(", ")}` : "") +
          (!map.relies_on_host ? "" : " · NO DEVICE WATCHDOG: the device relies on rigd for its safe state — if rigd or " +
                               "the link dies, its outputs stay as they are.");
        note.title = (status.read_plan || []).join("\n");
      }
      if (status.mode === "refused") fill($("#station-status"), h("span", { class: "pill bad" }, "NOT STARTED"));
      else fill($("#station-status"), ...linkPills(link.up, link), devicePill(status),
                alarmPill(status.alarms.length, worstSeverity(status.alarms)), runPill(status.run, status.phase),
                handPill(status));
      simulatedBanner(status.mode === "refused"
        ? `REFUSED STATION — the device at ${status.address} ${status.refused_reason}. ${status.name} was not started and is not simulated: fix the device or the configuration, then reload the configuration or restart rigd.`
        : status.mode === "simulated"
        ? (status.missing_address
            ? `SIMULATED STATION — no device answered at ${status.missing_address}: ${status.name} runs on rigd's built-in simulator instead, and its values do not come from a real device.`
            : `SIMULATED STATION — ${status.name} runs on rigd's built-in simulator (${status.address}): its values do not come from a real device.`)
        : "");
      document.title = `rigd — ${status.name}${status.mode === "simulated" ? " (SIMULATED)" : ""}`;
    }

    function buildValues() {
      const body = $("#values-table tbody");
      fill(body, ...status.channels.map(c => h("tr", { dataset: { channel: c.name } },
        h("td", {}, h("code", {}, c.name)),
        h("td", { class: "num", dataset: { value: `${status.name}/${c.name}` } }, formatNumber(c.value)),
        h("td", {}, c.unit),
        h("td", { class: "quality" }, qualityText(c)),
        h("td", { class: "plot-col" }, h("input", { type: "checkbox", "aria-label": "plot " + c.name,
          checked: plotted.has(c.name), onchange: event => togglePlot(c.name, event.target.checked) })))));
    }

    function qualityText(c) {
      // A channel under calibration is out of service (its probe is in a standard); what the sonde derives from it too.
      const session = status.calibration && status.calibration.session;
      const derived = { do_mgl: ["do_sat_pct"], ph: ["nh3_mgl"] };
      if (session && session.state !== "finished" && (c.value === null || c.value === undefined)
          && (session.channel === c.name || (derived[session.channel] || []).includes(c.name))) {
        return "out of service: calibrating " + session.channel;
      }
      if (c.value === null || c.value === undefined) return c.quality ? `no value (0x${c.quality.toString(16)})` : "no value";
      return c.quality ? `0x${c.quality.toString(16).padStart(2, "0")}` : "good";
    }

    function updateValues(values) {
      for (const c of status.channels) {
        const cell = $(`#values-table td[data-value="${CSS.escape(status.name + "/" + c.name)}"]`);
        if (!cell) continue;
        const text = formatNumber(c.value);
        if (cell.textContent !== text) {
          cell.textContent = text;
          if (values) { cell.classList.add("changed"); setTimeout(() => cell.classList.remove("changed"), 400); }
        }
        const quality = cell.parentElement.querySelector(".quality");
        if (quality) quality.textContent = qualityText(c);
      }
      $("#values-age").textContent = formatAge(status.updated_at);
    }

    function renderResults() {
      const entries = Object.entries(status.results || {}).sort(([a], [b]) => a.localeCompare(b));
      fill($("#results"), ...(entries.length ? entries.flatMap(([key, value]) => [h("dt", {}, key), h("dd", {}, formatValue(value))])
                                                    : [h("dd", { class: "muted" }, "This controller reports no results.")]));
    }

    // --- outputs: hand / auto ---
    function buildOutputs() {
      const outputs = status.hand_outputs || [];
      if (!outputs.length) { $("#outputs-card").remove(); return; }
      const minutes = $("#hand-minutes");
      const most = Math.max(1, Math.floor((status.hand_max_s || 1800) / 60));
      minutes.max = String(most);
      minutes.value = String(Math.min(10, most));
      minutes.title = `at most ${most} min ([daemon] hand_max_min)`;
      fill($("#outputs"), h("table", { class: "outputs-table" }, h("tbody", {}, ...outputs.map(o => {
        const controls = o.kind === "setpoint"
          ? [h("input", { type: "number", step: "any", placeholder: `${formatPlain(o.min)} … ${formatPlain(o.max)}`,
                          "aria-label": `hand value for ${o.name}`, "data-write": true }),
             h("button", { type: "button", "data-write": true, onclick: e => hold(o, Number(e.target.previousElementSibling.value), e.target) }, "Hold")]
          : [h("button", { type: "button", "data-write": true, "data-hand": "on", title: `hold ${o.name} ON (hand mode)`,
                           onclick: e => hold(o, 1, e.target) }, "ON"),
             h("button", { type: "button", "data-write": true, "data-hand": "off", title: `hold ${o.name} OFF (hand mode)`,
                           onclick: e => hold(o, 0, e.target) }, "OFF")];
        return h("tr", { dataset: { output: o.name } },
          h("td", {}, h("code", {}, o.name)),
          h("td", {}, h("span", { class: "switch" })),
          h("td", {}, h("span", { class: "mode-tag" })),
          h("td", { class: "controls" }, ...controls,
            h("button", { type: "button", class: "secondary", "data-write": true, "data-auto": true, hidden: true,
                          onclick: e => toAuto(o, e.target) }, "Auto")));
      }))));
      renderOutputs();
    }

    function renderOutputs() {
      const held = new Map((status.hand || []).map(x => [x.output, x]));
      for (const row of $$("#outputs tr[data-output]")) {
        const name = row.dataset.output;
        const output = (status.hand_outputs || []).find(o => o.name === name);
        const hold = held.get(name);
        const state = $(".switch", row);
        if (output && output.kind === "relay") {
          const on = status.relays ? status.relays[name] : null;
          state.textContent = on === true ? "ON" : on === false ? "OFF" : "?";
          state.classList.toggle("on", on === true);
        } else {
          state.textContent = hold ? handValue(hold) : "—";
          state.classList.toggle("on", !!hold && hold.kind !== "setpoint" && !!hold.value);
          state.title = hold ? "held" : "the controller's value (see Controller results)";
        }
        row.classList.toggle("held", !!hold);
        const tag = $(".mode-tag", row);
        tag.classList.toggle("hand", !!hold);
        tag.textContent = hold ? `HAND to ${formatTime(hold.until)}` : "auto";
        tag.title = hold ? `held by ${hold.by || "?"} since ${formatTime(hold.since)}${hold.why ? ": " + hold.why : ""}` : "";
        $("[data-auto]", row).hidden = !hold;
      }
      const n = held.size;
      $("#hand-summary").textContent = n ? `${n} in hand mode` : "all auto";
    }

    async function hold(output, value, button) {
      const message = $("#hand-message");
      const minutes = Number($("#hand-minutes").value);
      const why = $("#hand-why").value.trim();
      if (output.kind === "setpoint" && (!isFinite(value) || value < output.min || value > output.max)) {
        message.className = "message error";
        message.textContent = `Enter a value for ${output.name} within ${formatPlain(output.min)} … ${formatPlain(output.max)}${unitSuffix(output.unit)}.`;
        return;
      }
      const body = { output: output.name, value, minutes };
      if (why) body.why = why;
      await busy($("#outputs-card"), async () => {
        const answer = await api("POST", `/api/stations/${encodeURIComponent(name)}/hand`, body);
        message.className = answer.ok ? "message ok" : "message error";
        message.textContent = answer.ok ? `Held: ${answer.data.accepted}.` : `Rejected: ${answer.reason}`;
        await refreshStatus();
      });
    }

    async function toAuto(output, button) {
      const message = $("#hand-message");
      await busy($("#outputs-card"), async () => {
        const answer = await api("POST", `/api/stations/${encodeURIComponent(name)}/auto`, { output: output.name });
        message.className = answer.ok ? "message ok" : "message error";
        message.textContent = answer.ok ? `${output.name} is back in auto.` : `Rejected: ${answer.reason}`;
        await refreshStatus();
      });
    }

    // --- calibration: guided probe calibration (the station records a point once its reading is stable) ---
    const CAL_METHODS = { ph: "pH buffers", do: "dissolved O₂", conductivity: "conductivity std.", linear: "linear, 2 std." };
    /** [fewest, most, usual] points of the methods that take a choice; the others take a fixed number. */
    const CAL_POINTS = { ph: [1, 3, 2], do: [1, 2, 1] };
    let calPointsMethod = null;     // the method the points field was last set for
    let calElapsed = null;          // {elapsed, at}: the settling point's elapsed_s and when it arrived (ms)

    function buildCalibration() {
      $("#cal-channel").addEventListener("change", renderCalibrationForm);
      $("#cal-method").addEventListener("change", renderCalibrationForm);
      $("#cal-form").addEventListener("submit", event => { event.preventDefault(); startCalibration(); });
      $("#cal-waiting").addEventListener("submit", event => { event.preventDefault(); recordPoint(); });
      $("#cal-finish").addEventListener("click", finishCalibration);
      $("#cal-cancel").addEventListener("click", () => cancelCalibration(false));
      $("#cal-close").addEventListener("click", () => cancelCalibration(true));
      renderCalibration();
    }

    /** Replaces a select's options only when they change, keeping the choice (a re-render must not undo it). */
    function setOptions(select, options) {
      const key = JSON.stringify(options);
      if (select.dataset.options === key) return;
      const previous = select.value;
      fill(select, options.map(([value, label]) => h("option", { value }, label)));
      select.dataset.options = key;
      if (options.some(([value]) => value === previous)) select.value = previous;
    }

    function calibrationSettling() {
      const s = status && status.calibration && status.calibration.session;
      return !!s && s.state === "settling";
    }

    function renderCalibration() {
      const card = $("#calibration-card");
      const cal = status.calibration || {};
      const channels = cal.channels || [];
      card.hidden = !channels.length;
      if (!channels.length) return;
      const applied = cal.applied || [];
      const overdue = applied.filter(a => a.overdue).length;
      const s = cal.session || null;
      $("#cal-summary").textContent = s && s.state !== "finished" ? `calibrating ${s.channel}`
        : (applied.length ? `${applied.length} applied` : "none applied") + (overdue ? ` · ${overdue} DUE` : "");
      fill($("#cal-applied"), applied.length ? applied.map(a => h("div", { class: "cal-applied" + (a.overdue ? " overdue" : ""),
                                                                        dataset: { channel: a.channel } },
        h("div", { class: "cal-applied-head" }, h("code", {}, a.channel), h("span", { class: "muted" }, a.method),
          a.overdue ? h("span", { class: "pill overdue", title: "past its due date: calibrate this probe again" }, "DUE") : null),
        h("div", {}, a.summary),
        a.device ? h("div", { class: "muted small", title: "the device applies it itself: rigd corrects nothing on the host" },
          `in the device: ${a.device.registers}`) : null,
        h("div", { class: "muted" }, `${formatTime(a.at)}${a.by ? " by " + a.by : ""} · ` +
          (a.due_at ? `${a.overdue ? "was due" : "due"} ${formatTime(a.due_at)}` : "no due date"))))
        : h("span", { class: "muted" }, "No correction applied: every channel reads as the probe says."));
      $("#cal-form").hidden = !!s && s.state !== "finished";
      renderCalibrationForm();
      $("#cal-session").hidden = !s;
      if (!s) { calElapsed = null; return; }
      $("#cal-session-title").textContent = s.state === "finished" ? "Finished" : "In progress";

      const method = CAL_METHODS[s.method] || s.method;
      $("#cal-session-head").textContent = `${s.channel} by ${method}, ${s.points_wanted} point${s.points_wanted === 1 ? "" : "s"} · ` +
        `started ${formatTime(s.started_at)}${s.by ? " by " + s.by : ""}${s.why ? ": " + s.why : ""}`;
      $("#cal-message-step").textContent = s.message || "";
      const unit = unitSuffix(s.unit);
      const points = s.points || [];
      fill($("#cal-recorded tbody"), points.length ? points.map((p, i) => h("tr", {},
        h("td", {}, String(i + 1)),
        h("td", { class: "num" }, formatNumber(p.standard) + unit),
        h("td", { class: "num" }, formatNumber(p.raw) + unit),
        h("td", { class: "num" }, p.temp_c === undefined || p.temp_c === null ? "—" : formatPlain(p.temp_c) + " °C"),
        h("td", {}, p.lot || "—")))
        : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No point recorded yet.")));

      $("#cal-waiting").hidden = s.state !== "waiting";
      if (s.state === "waiting") {
        const value = $("#cal-value");
        const zero = s.method === "do" && s.points_wanted === 2 && !points.length;
        value.placeholder = s.method === "do" ? (zero ? "0 (oxygen-free water)" : "leave empty for 100 % saturation")
                                              : `its value in ${s.unit}`;
        value.title = s.method === "do" && !zero ? "rigd computes the saturation from the temperature, salinity and air pressure" : "";
      }
      $("#cal-live").hidden = s.state !== "settling";
      if (s.state === "settling" && s.current) renderCalibrationLive(s.current, unit);
      else calElapsed = null;
      $("#cal-ready").hidden = s.state !== "ready";
      const finished = s.state === "finished";
      $("#cal-result").hidden = !finished;
      if (finished && s.result) renderCalibrationResult(s.result);
      $("#cal-close").hidden = !finished;
      $("#cal-cancel").hidden = finished;
    }

    /** The start form: the channels, the methods that fit the chosen one, the points where the method takes a choice. */
    function renderCalibrationForm() {
      const channels = (status.calibration && status.calibration.channels) || [];
      setOptions($("#cal-channel"), channels.map(c => [c.name, c.name + (c.unit ? ` (${c.unit})` : "")]));
      const channel = channels.find(c => c.name === $("#cal-channel").value) || channels[0];
      const methods = channel ? channel.methods : [];
      setOptions($("#cal-method"), methods.map(m => [m, CAL_METHODS[m] || m]));
      const method = $("#cal-method").value;
      const range = CAL_POINTS[method];
      $("#cal-points-label").hidden = !range;
      if (range && calPointsMethod !== method) {
        const points = $("#cal-points");
        points.min = String(range[0]);
        points.max = String(range[1]);
        points.value = String(range[2]);
        points.title = `${range[0]} to ${range[1]} points`;
      }
      calPointsMethod = method;
    }

    function renderCalibrationLive(c, unit) {
      if (!calElapsed || calElapsed.elapsed !== c.elapsed_s) calElapsed = { elapsed: c.elapsed_s, at: Date.now() };
      const known = v => v !== undefined && v !== null;
      const covered = Math.min(1, c.window_s > 0 ? (c.covered_s || 0) / c.window_s : 0);
      const within = known(c.spread) && c.spread <= c.band;
      const bar = h("span", {});
      bar.style.width = `${Math.round(covered * 100)}%`;
      fill($("#cal-live"),
        h("dl", { class: "results" },
          h("dt", {}, "standard"),
          h("dd", {}, known(c.standard) ? formatPlain(c.standard) + unit : "100 % air saturation"),
          h("dt", {}, "reading"),
          h("dd", { class: "cal-reading" }, h("b", {}, formatNumber(c.reading)), known(c.reading) ? unit : " (no reading yet)"),
          h("dt", {}, "spread"),
          h("dd", { class: within ? "" : "cal-outside" },
            known(c.spread) ? `±${formatNumber(c.spread)}` : "—", ` of band ±${formatPlain(c.band)}${unit}`),
          h("dt", {}, "window"),
          h("dd", {}, `${calSeconds(Math.min(c.covered_s || 0, c.window_s))} of ${calSeconds(c.window_s)}`),
          h("dt", {}, "elapsed"),
          h("dd", { class: "cal-elapsed" }, calElapsedText(c))),
        h("div", { class: "cal-bar" + (within ? " within" : ""), role: "progressbar", "aria-valuemin": 0,
                   "aria-valuemax": 100, "aria-valuenow": Math.round(covered * 100),
                   title: "readings in the stability window" }, bar),
        h("div", {}, c.stable ? h("span", { class: "pill ok" }, "stable: recording the point")
          : h("span", { class: "pill" }, within ? "settling: keep the probe still" : "settling: not within the band yet")));
    }

    function calElapsedText(c) {
      const elapsed = calElapsed ? calElapsed.elapsed + (Date.now() - calElapsed.at) / 1000 : c.elapsed_s;
      return `${calSeconds(Math.min(elapsed, c.timeout_s))} of ${calSeconds(c.timeout_s)} (then the point fails)`;
    }

    /** "45 s", "2 min 05 s": a settling point's times to the second. */
    function calSeconds(seconds) {
      seconds = Math.max(0, Math.round(seconds || 0));
      return seconds < 120 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, "0")} s`;
    }

    function renderCalibrationResult(r) {
      const failures = r.failures || [];
      fill($("#cal-result"),
        h("div", {}, h("span", { class: r.accepted ? "pill ok" : "pill bad" }, r.accepted ? "ACCEPTED" : "REJECTED"), " ",
          h("span", {}, r.device ? `written to the device (${r.device.registers}): it serves corrected readings from now on`
            : r.applied ? "applied: every reading is corrected from now on" : "not applied")),
        failures.length ? h("ul", { class: "cal-failures" }, failures.map(f => h("li", {}, f))) : null,
        h("div", {}, r.summary || calibrationSummary(r)),
        r.applied && r.due_at ? h("div", { class: "muted small" }, `due again ${formatTime(r.due_at)}`) : null);
    }

    /** The fit in words, as the applied list says it (the result itself carries the numbers only). */
    function calibrationSummary(r) {
      const parts = [];
      const signed = v => (v >= 0 ? "+" : "−") + formatNumber(Math.abs(v));
      if (typeof r.slope_pct === "number") {
        parts.push(r.method === "ph" ? `slope ${formatNumber(r.slope_pct)} % of Nernstian` : `gain ${formatNumber(r.slope_pct)} %`);
      }
      if (typeof r.offset === "number" && r.offset_unit) {
        parts.push(r.method === "ph" ? `offset ${signed(r.offset)} mV at pH 7` : `zero ${signed(r.offset)} ${r.offset_unit}`);
      }
      if (!parts.length) parts.push(`corrected = ${formatNumber(r.correction_slope)} · raw ${signed(r.correction_offset)}`);
      return parts.join(", ");
    }

    async function calibrationRequest(action, body, done) {
      const message = $("#cal-message");
      let ok = false;
      await busy($("#calibration-card"), async () => {
        const answer = await api("POST", `/api/stations/${encodeURIComponent(name)}/calibration/${action}`, body);
        ok = answer.ok;
        message.className = answer.ok ? "message ok" : "message error";
        message.textContent = answer.ok ? done(answer.data) : `Rejected: ${answer.reason}`;
        if (answer.ok && answer.data && answer.data.calibration) { status.calibration = answer.data.calibration; renderCalibration(); }
        await refreshStatus();
      });
      return ok;
    }

    function calibrationError(text) {
      const message = $("#cal-message");
      message.className = "message error";
      message.textContent = text;
    }

    async function startCalibration() {
      const body = { channel: $("#cal-channel").value, method: $("#cal-method").value };
      if (!body.channel || !body.method) { calibrationError("Choose a channel and a method."); return; }
      const range = CAL_POINTS[body.method];
      if (range) {
        const points = Number($("#cal-points").value);
        if (!Number.isInteger(points) || points < range[0] || points > range[1]) {
          calibrationError(`Enter ${range[0]} to ${range[1]} points for ${CAL_METHODS[body.method]}.`);
          return;
        }
        body.points = points;
      }
      const why = $("#cal-why").value.trim();
      if (why) body.why = why;
      if (await calibrationRequest("start", body, data => `Started: ${data.accepted}.`)) $("#cal-why").value = "";
    }

    async function recordPoint() {
      const s = status.calibration && status.calibration.session;
      if (!s) return;
      const body = {};
      const valueText = $("#cal-value").value.trim();
      if (valueText) {
        const value = Number(valueText);
        if (!isFinite(value)) { calibrationError("The standard's value must be a number."); return; }
        body.value = value;
      } else if (s.method !== "do") {
        calibrationError(`Enter the standard's value${unitSuffix(s.unit)}.`);
        return;
      }
      const tempText = $("#cal-temp").value.trim();
      if (tempText) {
        const temp = Number(tempText);
        if (!isFinite(temp)) { calibrationError("The temperature must be a number (°C)."); return; }
        body.temp_c = temp;
      }
      const lot = $("#cal-lot").value.trim();
      if (lot) body.lot = lot;
      const ok = await calibrationRequest("point", body, data => `Asked for the ${data.accepted}: waiting until the reading is stable.`);
      if (ok) { $("#cal-value").value = ""; $("#cal-lot").value = ""; }
    }

    async function finishCalibration() {
      await calibrationRequest("finish", { apply: $("#cal-apply").checked }, data => {
        const r = data.calibration && data.calibration.session && data.calibration.session.result;
        return !r ? "Finished." : !r.accepted ? "Finished: rejected, nothing applied."
          : r.device ? "Finished: accepted and written to the device."
          : r.applied ? "Finished: accepted and applied." : "Finished: accepted, not applied.";
      });
    }

    async function cancelCalibration(close) {
      const ok = await calibrationRequest("cancel", undefined, () => close ? "" : "Cancelled: nothing was applied.");
      if (ok) $("#cal-apply").checked = true;
    }

    // --- settings ---
    function buildSettings() {
      const container = $("#settings");
      if (!status.settings.length) {
        fill(container, h("p", { class: "muted" }, "This station has no settings to change."));
        $("#setpoints-card .readonly-note").remove();
        return;
      }
      fill(container, ...status.settings.map(s => {
        const input = h("input", { id: "set-" + s.name, name: "value", type: "number", step: "any", inputmode: "decimal",
                                   placeholder: `${formatPlain(s.min)} … ${formatPlain(s.max)}`, "data-write": true,
                                   "aria-describedby": "limits-" + s.name });
        input.addEventListener("input", () => {
          const v = Number(input.value);
          const out = input.value !== "" && isFinite(v) && (v < s.min || v > s.max);
          input.classList.toggle("out-of-range", out);
          input.title = out ? `outside ${s.min} … ${s.max}${unitSuffix(s.unit)}: rigd will refuse it` : "";
        });
        const form = h("form", { class: "setting", dataset: { setting: s.name }, novalidate: true },
          h("div", { class: "setting-head" },
            h("label", { for: "set-" + s.name }, s.name),
            h("span", { class: "limits", id: "limits-" + s.name }, `limits ${formatPlain(s.min)} … ${formatPlain(s.max)}${unitSuffix(s.unit)}`)),
          h("div", { class: "setting-current" }, "current: ",
            h("b", { id: "current-" + s.name, dataset: { current: s.name } }, "—"), h("span", { class: "muted" }, unitSuffix(s.unit))),
          h("div", { class: "setting-input" }, input,
            h("button", { type: "submit", "data-write": true }, "Set")),
          h("p", { class: "message", id: "message-" + s.name, role: "status" }));
        form.addEventListener("submit", event => { event.preventDefault(); submitSetting(s, form); });
        return form;
      }));
      renderCurrentSettings();
    }

    function renderCurrentSettings() {
      for (const s of status.settings) {
        const element = document.getElementById("current-" + s.name);
        if (!element) continue;
        const value = s.value;
        element.textContent = value === undefined ? "not reported by the controller" : formatPlain(value);
        element.classList.toggle("not-reported", value === undefined);
        if (element.nextElementSibling) element.nextElementSibling.hidden = value === undefined;
      }
    }

    async function submitSetting(setting, form) {
      const input = $("input", form);
      const message = $(".message", form);
      const text = input.value.trim();
      const value = Number(text);
      if (!text || !isFinite(value)) {
        message.className = "message error";
        message.textContent = `Enter a number for ${setting.name} (limits ${setting.min} … ${setting.max}${unitSuffix(setting.unit)}).`;
        return;
      }
      await busy(form, async () => {
        message.className = "message";
        message.textContent = `Sending ${setting.name} = ${value}…`;
        const answer = await api("POST", `/api/stations/${encodeURIComponent(name)}/setpoints`, { name: setting.name, value });
        if (answer.ok) {
          message.className = "message ok";
          message.textContent = `Accepted: ${setting.name} = ${formatPlain(value)}${unitSuffix(setting.unit)}.`;
          input.value = "";
          input.classList.remove("out-of-range");
          await refreshStatus();
        } else {
          message.className = "message error";
          message.textContent = answer.status === 422 ? `Rejected: ${answer.reason}` : `Not applied: ${answer.reason}`;
          message.dataset.reason = answer.reason;
        }
      });
    }

    /** Disables a form's write controls while a request is under way. */
    async function busy(root, work) {
      const controls = $$("[data-write]", root);
      for (const c of controls) { c.dataset.busy = "1"; c.disabled = true; }
      try { await work(); } finally {
        for (const c of controls) { delete c.dataset.busy; setWritable(c); }
      }
    }

    // --- run ---
    function buildRunControls(kind) {
      const container = $("#run-controls");
      if (kind && !kind.runs) {
        fill(container, h("p", { class: "muted" }, `This station runs continuously (kind ${kind.name}): it has no runs to start or stop.`));
        $("#run-card .readonly-note").remove();
        return;
      }
      const hint = kind ? { placeholder: kind.recipe_example || "", note: "Parameters: " + kind.recipe_keys + "." }
                        : { placeholder: "name = value", note: "" };
      const form = h("form", { class: "run-form", id: "run-form", novalidate: true },
        h("label", { for: "recipe-name" }, "Recipe name"),
        h("input", { id: "recipe-name", type: "text", value: "dashboard", maxlength: 64, "data-write": true }),
        h("label", { for: "recipe-parameters" }, "Parameters, one name = value a line (empty: the station's default)"),
        h("textarea", { id: "recipe-parameters", rows: 4, placeholder: hint.placeholder, spellcheck: "false", "data-write": true }),
        hint.note ? h("p", { class: "muted small" }, hint.note) : null,
        h("div", { class: "run-buttons" },
          h("button", { type: "submit", id: "run-start", "data-write": true }, "Start run"),
          h("button", { type: "button", id: "run-stop", class: "danger", "data-write": true }, "Stop run")),
        h("p", { class: "message", id: "run-message", role: "status" }));
      form.addEventListener("submit", event => { event.preventDefault(); startRun(form); });
      let armed = null;
      $("#run-stop", form).addEventListener("click", () => {
        const button = $("#run-stop", form);
        if (!armed) {
          button.textContent = "Confirm stop";
          armed = setTimeout(() => { armed = null; button.textContent = "Stop run"; }, 4000);
          return;
        }
        clearTimeout(armed);
        armed = null;
        button.textContent = "Stop run";
        stopRun(form);
      });
      fill(container, form);
    }

    function renderRunState() {
      const run = status.run;
      const element = $("#run-state");
      const running = !!run && run.outcome === "running";
      const start = $("#run-start"), stop = $("#run-stop");
      if (start && stop) {
        start.dataset.idle = running ? "1" : "0";
        start.title = running ? "a run is in progress: stop it first" : "";
        stop.dataset.idle = running ? "0" : "1";
        stop.title = running ? "" : "no run in progress";
        setWritable(start);
        setWritable(stop);
      }
      if (!run) { fill(element, h("span", { class: "muted" }, "No run since rigd started."), status.phase ? ` Phase: ${status.phase}.` : ""); return; }
      const outcomeClass = run.outcome === "running" ? "pill ok" : run.outcome === "completed" ? "pill" : "pill warn";
      fill(element, 
        h("div", {}, h("b", {}, `#${run.number} “${run.recipe}” `), h("span", { class: outcomeClass }, run.outcome),
          status.phase ? h("span", { class: "muted" }, ` · phase ${status.phase}`) : null),
        h("div", { class: "muted small" }, `started ${formatTime(run.started_at)}` +
          (run.ended_at ? `, ended ${formatTime(run.ended_at)} after ${formatDuration(run.ended_at - run.started_at)}`
                        : `, running for ${formatDuration(Date.now() / 1000 - run.started_at)}`)),
        run.reason ? h("div", { class: "small" }, `reason: ${run.reason}`) : null);
    }

    async function startRun(form) {
      const message = $("#run-message");
      let parameters;
      try { parameters = parseParameters($("#recipe-parameters").value); } catch (e) {
        message.className = "message error";
        message.textContent = e.message;
        return;
      }
      const recipeName = $("#recipe-name").value.trim() || "dashboard";
      const body = Object.keys(parameters).length ? { recipe: { name: recipeName, parameters } } : {};
      await busy(form, async () => {
        message.className = "message";
        message.textContent = "Starting…";
        const answer = await api("POST", `/api/stations/${encodeURIComponent(name)}/run/start`, body);
        message.className = answer.ok ? "message ok" : "message error";
        message.textContent = answer.ok ? "Run started." : (answer.status === 422 ? `Rejected: ${answer.reason}` : `Not started: ${answer.reason}`);
        await refreshStatus();
        loadRuns();
        setTimeout(loadRuns, 2500);   // the data log records the run's end a moment later
      });
    }

    async function stopRun(form) {
      const message = $("#run-message");
      await busy(form, async () => {
        message.className = "message";
        message.textContent = "Stopping…";
        const answer = await api("POST", `/api/stations/${encodeURIComponent(name)}/run/stop`);
        message.className = answer.ok ? "message ok" : "message error";
        message.textContent = answer.ok ? "Stop requested." : (answer.status === 422 ? `Rejected: ${answer.reason}` : `Not stopped: ${answer.reason}`);
        await refreshStatus();
        loadRuns();
        setTimeout(loadRuns, 2500);   // the data log records the run's end a moment later
      });
    }

    // --- alarms ---
    function renderAlarms() {
      const container = $("#alarms-active");
      if (!status.alarms.length) {
        fill(container, h("p", { class: "muted" }, "No active alarms."));
        return;
      }
      fill(container, ...status.alarms.map(a => {
        const ack = a.acknowledged_at
          ? h("div", { class: "small muted" }, `acknowledged by ${a.acknowledged_by || "?"} at ${formatTime(a.acknowledged_at)}`)
          : h("div", { class: "ack" },
              h("button", { type: "button", "data-write": true, disabled: !mayWrite(), onclick: event => acknowledge(a, event.target) }, "Acknowledge"),
              h("span", { class: "small muted" }, session.who ? `as ${session.who.name}` : "(recorded with your token's name)"));
        return h("div", { class: `alarm sev-${a.severity}`, dataset: { alarm: a.code } },
          h("div", { class: "alarm-head" }, h("code", {}, a.code), h("span", { class: a.severity === "warning" ? "pill warn" : "pill bad" }, a.severity)),
          h("div", {}, a.message),
          h("div", { class: "small muted" }, `raised ${formatTime(a.raised_at)}`),
          ack,
          h("p", { class: "message", role: "status" }));
      }));
    }

    async function acknowledge(alarm, button) {
      const message = button.closest(".alarm").querySelector(".message");
      await busy(button.closest(".alarm"), async () => {
        const answer = await api("POST", `/api/stations/${encodeURIComponent(name)}/alarms/${encodeURIComponent(alarm.code)}/acknowledge`, {});
        message.className = answer.ok ? "message ok" : "message error";
        message.textContent = answer.ok ? "Acknowledged." : `Rejected: ${answer.reason}`;
      });
      await refreshStatus();
      loadRecentAlarms();
      setTimeout(loadRecentAlarms, 2500);   // the data log records the acknowledgement a moment later
    }

    async function loadRecentAlarms() {
      const answer = await api("GET", `/api/alarms?station=${encodeURIComponent(name)}&from=-24h&limit=20`);
      const container = $("#alarms-recent");
      if (!answer.ok) { fill(container, h("span", { class: "muted" }, "History unavailable: " + answer.reason)); return; }
      const alarms = answer.data.alarms;
      if (!alarms.length) { fill(container, h("span", { class: "muted" }, "None.")); return; }
      fill(container, ...alarms.map(a => h("div", { class: "recent-alarm" },
        h("code", {}, a.code), ` ${a.severity} · raised ${formatTime(a.raised_at)}`,
        a.acknowledged_at ? ` · ack ${a.acknowledged_by || ""} ${formatTime(a.acknowledged_at)}` : "",
        a.cleared_at ? ` · cleared ${formatTime(a.cleared_at)}` : " · active")));
    }

    // --- run history ---
    async function loadRuns() {
      const answer = await api("GET", `/api/runs?station=${encodeURIComponent(name)}&limit=50`);
      const body = $("#history-table tbody");
      if (!answer.ok) { fill(body, h("tr", {}, h("td", { colspan: 7, class: "muted" }, "Run history unavailable: " + answer.reason))); return; }
      const runs = answer.data.runs;
      if (!runs.length) { fill(body, h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No runs recorded for this station."))); return; }
      fill(body, ...runs.map(r => {
        const end = r.ended_at || Date.now() / 1000;
        const entries = Object.entries(r.results || {}).sort(([a], [b]) => a.localeCompare(b));
        const scalars = entries.filter(([, v]) => v === null || typeof v !== "object");
        const line = ([k, v]) => `${k} = ${formatValue(v)}`;
        let results = "—";
        if (entries.length <= 3) {
          results = entries.length ? entries.map(line).join(", ") : "—";
        } else {
          results = h("details", {},
            h("summary", {}, scalars.slice(0, 3).map(line).join(", ") + ` … (${entries.length})`),
            h("div", { class: "results-all" }, entries.map(e => h("div", {}, line(e)))));
        }
        const outcomeClass = r.outcome === "running" ? "pill ok" : r.outcome === "completed" ? "pill" : "pill warn";
        const csv = `/api/stations/${encodeURIComponent(name)}/export.csv?from=${r.started_at}&to=${r.ended_at || "now"}`;
        return h("tr", {},
          h("td", {}, String(r.number)),
          h("td", {}, r.recipe),
          h("td", {}, h("span", { class: outcomeClass }, r.outcome), r.reason ? h("div", { class: "small muted" }, r.reason) : null),
          h("td", {}, formatTime(r.started_at)),
          h("td", {}, formatDuration(end - r.started_at) + (r.ended_at ? "" : " so far")),
          h("td", { class: "results-cell" }, results),
          h("td", {}, h("button", { type: "button", class: "link", onclick: () => download(csv, $("#download-message")) }, "CSV")));
      }));
    }

    // --- plots ---
    function defaultPlotted() {
      return new Set(status.channels.slice(0, 4).map(c => c.name));
    }

    function togglePlot(channel, on) {
      if (on) plotted.add(channel); else plotted.delete(channel);
      try { sessionStorage.setItem("rigd.plot." + name, JSON.stringify([...plotted])); } catch (e) { /* ignore */ }
      buildCharts();
      loadHistory();
    }

    function buildCharts() {
      for (const c of charts) c.chart.destroy();
      charts.length = 0;
      const container = $("#charts");
      if (!chartsAvailable) {
        fill(container, h("div", { class: "chart-missing" },
          window.RIGD_CHART_MISSING || "plots need Debian's libjs-chart.js (Chart.js did not load)"));
        return;
      }
      const channels = status.channels.filter(c => plotted.has(c.name));
      if (!channels.length) {
        fill(container, h("p", { class: "muted" }, "Tick channels in the table below to plot them."));
        return;
      }
      const byUnit = new Map();
      for (const c of channels) {
        if (!byUnit.has(c.unit)) byUnit.set(c.unit, []);
        byUnit.get(c.unit).push(c);
      }
      container.classList.toggle("two", byUnit.size > 1);
      fill(container);
      let colorIndex = 0;
      for (const [unit, group] of byUnit) {
        const canvas = h("canvas", { "aria-label": `plot of ${group.map(c => c.name).join(", ")}`, role: "img" });
        container.append(h("div", { class: "chart-box" }, canvas));
        const datasets = group.map(c => {
          const color = COLORS[colorIndex++ % COLORS.length];
          return { label: c.name, data: series.get(c.name) || [], borderColor: color, backgroundColor: color,
                   borderWidth: 1.6, pointRadius: 0, tension: 0, spanGaps: false };
        });
        const now = Date.now() / 1000;
        const chart = new window.Chart(canvas, {
          type: "line",
          data: { datasets },
          options: {
            animation: false, responsive: true, maintainAspectRatio: false, parsing: false, normalized: true,
            interaction: { mode: "nearest", axis: "x", intersect: false },
            plugins: {
              legend: { position: "top", align: "start", labels: { boxWidth: 14, boxHeight: 2 } },
              tooltip: { callbacks: {
                title: items => items.length ? formatTime(items[0].parsed.x) : "",
                label: item => `${item.dataset.label}: ${formatNumber(item.parsed.y)}${unitSuffix(unit)}` } },
            },
            scales: {
              x: { type: "linear", min: now - range, max: now,
                   afterBuildTicks: roundTimeTicks,
                   ticks: { maxRotation: 0, callback: value => range > 86400 ? formatDay(value) : formatTime(value).slice(0, 5) } },
              y: { title: { display: !!unit, text: unit }, ticks: { maxTicksLimit: 6 } },
            },
          },
        });
        charts.push({ chart, channels: group.map(c => c.name) });
      }
    }

    async function loadHistory() {
      if (!chartsAvailable) return;
      const ticket = ++historyToken;
      const channels = status.channels.filter(c => plotted.has(c.name)).map(c => c.name);
      const note = $("#plots-note");
      if (range > LONG_RANGE) {
        // Long plots: rigd summarizes in the query (min and max per bucket), so peaks survive and the page gets
        // about 1200 points per channel whatever the window.
        const answers = await Promise.all(channels.map(channel =>
          api("GET", `/api/stations/${encodeURIComponent(name)}/samples/summary?from=-${range}s&channel=${encodeURIComponent(channel)}&points=600`)
            .then(answer => [channel, answer])));
        if (ticket !== historyToken) return;
        const problems = [];
        for (const [channel, answer] of answers) {
          if (!answer.ok) { problems.push(`${channel}: ${answer.reason}`); series.set(channel, []); continue; }
          const points = [];
          for (const b of answer.data.buckets) {
            // Each bucket's extremes, in the bucket: the line passes through every peak and trough.
            points.push({ x: b.t, y: b.min === undefined ? null : b.min });
            points.push({ x: (b.t + b.t_end) / 2, y: b.max === undefined ? null : b.max });
          }
          series.set(channel, points);
        }
        note.textContent = problems.length ? "History unavailable: " + problems.join("; ")
          : "Each point pair is a bucket's minimum and maximum (" + formatBucket(range / 600) + " buckets).";
        note.hidden = false;
        redrawCharts();
        return;
      }
      const limit = Math.min(100000, Math.max(2000, range * 5));
      const answers = await Promise.all(channels.map(channel =>
        api("GET", `/api/stations/${encodeURIComponent(name)}/samples?from=-${range}s&channel=${encodeURIComponent(channel)}&limit=${limit}`)
          .then(answer => [channel, answer])));
      if (ticket !== historyToken) return;
      const problems = [];
      for (const [channel, answer] of answers) {
        if (!answer.ok) { problems.push(`${channel}: ${answer.reason}`); series.set(channel, []); continue; }
        const points = answer.data.samples.map(s => ({ x: s.t, y: s.value === undefined ? null : s.value }));
        series.set(channel, downsample(points, 1500));
      }
      note.textContent = problems.length ? "History unavailable: " + problems.join("; ") : "";
      note.hidden = !problems.length;
      redrawCharts();
    }

    /** Round time ticks: every minute for 5 min, 3 min for 15 min, 10 min for 1 h, 1 h for 6 h, 3 h for 24 h, a day for 7 d, 5 days for 30 d. */
    function roundTimeTicks(axis) {
      const step = range <= 300 ? 60 : range <= 900 ? 180 : range <= 3600 ? 600 : range <= 21600 ? 3600
        : range <= 86400 ? 10800 : range <= 604800 ? 86400 : 432000;
      const ticks = [];
      for (let t = Math.ceil(axis.min / step) * step; t <= axis.max; t += step) ticks.push({ value: t });
      axis.ticks = ticks;
    }

    function redrawCharts() {
      const now = Date.now() / 1000;
      for (const { chart, channels } of charts) {
        chart.data.datasets.forEach((dataset, i) => { dataset.data = series.get(channels[i]) || []; });
        chart.options.scales.x.min = now - range;
        chart.options.scales.x.max = now;
        chart.update("none");
      }
    }

    function appendLive(entry) {
      if (range > LONG_RANGE) return;   // a bucket is minutes to hours long: the plot is reloaded instead
      const t = entry.updated_at;
      if (!t || t === lastFrameTime) return;
      lastFrameTime = t;
      for (const channel of plotted) {
        if (!(channel in entry.values)) continue;
        const points = series.get(channel) || [];
        if (points.length && points[points.length - 1].x >= t) continue;
        points.push({ x: t, y: entry.values[channel] });
        const oldest = t - range - 5;
        while (points.length && points[0].x < oldest) points.shift();
        series.set(channel, points);
      }
      redrawCharts();
    }

    // --- status polling and live frames ---
    async function refreshStatus() {
      const answer = await api("GET", `/api/stations/${encodeURIComponent(name)}`);
      if (!answer.ok) { showProblem(`Cannot read ${name}: ${answer.reason}`); return; }
      showProblem("");
      const first = status === null;
      status = answer.data;
      if (first) return;
      renderHead();
      updateValues(false);
      renderCurrentSettings();
      renderOutputs();
      renderCalibration();
      renderRunState();
      renderAlarms();
      renderResults();
      updateTokenUI();
    }

    function onFrame(frame) {
      const entry = frame.stations.find(s => s.name === name);
      if (!entry || !status) return;
      let structural = false;
      status.mode = entry.mode;
      status.link.up = entry.link_up;
      // A settling calibration point changes at each reading: the live panel follows the station's ticks.
      const ticked = status.updated_at !== entry.updated_at;
      status.updated_at = entry.updated_at;
      if (status.phase !== entry.phase) structural = true;
      status.phase = entry.phase;
      for (const c of status.channels) if (c.name in entry.values) c.value = entry.values[c.name];
      if (status.alarms.map(a => a.code).sort().join(",") !== [...entry.alarms].sort().join(",")) structural = true;
      if ((status.run ? status.run.outcome : null) !== (entry.run === undefined ? null : entry.run)) structural = true;
      renderHead();
      updateValues(true);
      appendLive(entry);
      if (structural) { refreshStatus(); loadRuns(); loadRecentAlarms(); }
      else if (ticked && calibrationSettling()) refreshStatus();
    }

    await refreshStatus();
    if (!status) return;
    try { plotted = new Set(JSON.parse(sessionStorage.getItem("rigd.plot." + name) || "null") || []); } catch (e) { plotted = null; }
    if (!plotted || !plotted.size) plotted = defaultPlotted();
    renderHead();
    buildValues();
    updateValues(false);
    buildSettings();
    buildOutputs();
    buildCalibration();
    buildRunControls(await kindOf(status.kind));
    renderRunState();
    renderAlarms();
    renderResults();
    updateTokenUI();
    buildCharts();
    for (const button of $$("#range-buttons button")) {
      button.addEventListener("click", () => {
        range = Number(button.dataset.range);
        for (const b of $$("#range-buttons button")) b.classList.toggle("active", b === button);
        buildCharts();
        loadHistory();
      });
    }
    // Long plots are summaries: reloaded once a minute rather than point by point.
    setInterval(() => { if (range > LONG_RANGE) loadHistory(); }, 60000);
    for (const button of $$("[data-download]")) {
      button.addEventListener("click", () => {
        const what = button.dataset.download;
        const query = what === "runs" ? "what=runs&from=-365d" : `from=-${range}s`;
        download(`/api/stations/${encodeURIComponent(name)}/export.csv?${query}`, $("#download-message"));
      });
    }
    tokenListeners.push(() => renderAlarms());
    await loadHistory();
    openStream(onFrame, setLive);
    loadRuns();
    loadRecentAlarms();
    setInterval(refreshStatus, 5000);
    setInterval(() => { loadRuns(); loadRecentAlarms(); }, 30000);
    // The settling point's elapsed time counts on between readings (the station reports it at each one).
    setInterval(() => {
      const c = calibrationSettling() && status.calibration.session.current;
      const element = $("#cal-live .cal-elapsed");
      if (c && element) element.textContent = calElapsedText(c);
    }, 1000);
  }

  // ---------- start ----------
  async function start() {
    setUpTokenDialog();
    updateTokenUI();
    try {
      const answer = await checkToken(session.token);
      readsNeedToken = answer.reads_need_token;
      if (session.token && !answer.valid) {
        session.token = "";
        session.who = null;
        updateTokenUI();
      } else if (session.token) {
        // The role may have changed since the token was entered (revoked and added again).
        session.who = { name: answer.name, role: answer.role, may_write: answer.may_write };
        updateTokenUI();
      }
      if (readsNeedToken && !session.token) {
        openTokenDialog("This rigd listens on the network: reading needs the token too.");
        await new Promise(resolve => tokenListeners.push(has => { if (has) resolve(); }));
      }
    } catch (e) {
      showProblem("rigd did not answer: " + e.message);
    }
    const page = document.body.dataset.page;
    if (page === "overview") await overview();
    else if (page === "station") await station(document.body.dataset.station);
    document.body.dataset.ready = "1";
  }
  window.Rigd = { start, parseParameters, formatNumber };
  start();
})();
