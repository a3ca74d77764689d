// Draws a recorded run (`rigd report FILE -o run.html`, `rigd view FILE`) from window.RIGD_RECORDING, the document
// rigd built from the recording (RecordingDocument.swift): per station its kind's plots, the runs and alarms; the
// alarm timeline. Each plotted series is the recording's buckets: the mean as the line, min to max as a band, so a
// peak survives downsampling. Nothing is fetched: the report works from a file with no network.
"use strict";
(function () {
  const doc = window.RIGD_RECORDING;
  const COLORS = ["#1f5fbf", "#c2410c", "#15803d", "#7e22ce", "#0e7490", "#a16207"];
  const root = document.getElementById("recording");

  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }
  const pad = n => String(n).padStart(2, "0");
  function formatTime(s) {
    const d = new Date(s * 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  function formatTick(s, span) {
    const d = new Date(s * 1000);
    if (span < 120) return `${pad(d.getMinutes())}:${pad(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0").slice(0, 1)}`;
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    return span > 2 * 86400 ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}` : hm;
  }
  function formatNumber(v) {
    if (v === null || v === undefined) return "—";
    const a = Math.abs(v);
    return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(3) : String(+v.toPrecision(5));
  }
  function formatDuration(s) {
    if (s < 120) return `${formatNumber(s)} s`;
    if (s < 7200) return `${formatNumber(s / 60)} min`;
    if (s < 172800) return `${formatNumber(s / 3600)} h`;
    return `${formatNumber(s / 86400)} d`;
  }

  // Shaded intervals (aerators on, storm events) behind the lines.
  const shading = {
    id: "rigdShading",
    beforeDatasetsDraw(chart, _args, options) {
      const intervals = options.intervals || [];
      if (!intervals.length) return;
      const { ctx, chartArea, scales } = chart;
      ctx.save();
      ctx.fillStyle = options.color || "rgba(31, 95, 191, 0.12)";
      for (const iv of intervals) {
        const x0 = Math.max(scales.x.getPixelForValue(iv.from), chartArea.left);
        const x1 = Math.min(scales.x.getPixelForValue(iv.to), chartArea.right);
        if (x1 > x0) ctx.fillRect(x0, chartArea.top, Math.max(x1 - x0, 1), chartArea.bottom - chartArea.top);
      }
      ctx.restore();
    },
  };

  // Ticks on whole seconds, hours or days from the plot's start (a recording starts at a midnight), at most about
  // eight.
  function roundTicks(axis) {
    const from = axis.min, to = axis.max, span = to - from;
    const steps = [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400,
                   7 * 86400, 30 * 86400];
    const step = steps.find(s => span / s <= 8) || span / 8;
    const ticks = [];
    for (let t = from; t <= to + 1e-6; t += step) ticks.push({ value: t });
    axis.ticks = ticks;
  }

  function drawPlot(plot, container) {
    const box = h("div", { class: "box" });
    const canvas = h("canvas", { role: "img", "aria-label": plot.title });
    box.append(canvas);
    const points = plot.series.reduce((n, s) => n + s.t.length, 0);
    container.append(h("div", { class: "plot", "data-points": String(points) }, h("h3", {}, plot.title), box));
    const datasets = [];
    plot.series.forEach((s, i) => {
      const fit = s.channel.startsWith("fitted envelope");
      const color = fit ? "#a01818" : COLORS[i % COLORS.length];
      const mean = s.t.map((t, k) => ({ x: t, y: s.mean[k] }));
      const band = !s.step && s.t.length > 1 && s.t.length < s.samples;
      datasets.push({ label: `${s.channel}${s.unit ? ` (${s.unit})` : ""}`, data: mean, borderColor: color,
                      backgroundColor: color, borderWidth: 1.4, pointRadius: 0, tension: 0, spanGaps: false,
                      stepped: s.step ? "after" : false, borderDash: s.step || fit ? [3, 2] : [], order: 1 });
      if (band) {
        datasets.push({ label: `${s.channel} max`, data: s.t.map((t, k) => ({ x: t, y: s.max[k] })), borderWidth: 0,
                        pointRadius: 0, fill: false, rigdBand: true, order: 2 });
        datasets.push({ label: `${s.channel} min–max`, data: s.t.map((t, k) => ({ x: t, y: s.min[k] })),
                        borderWidth: 0, pointRadius: 0, fill: "-1", backgroundColor: color + "33", rigdBand: true,
                        order: 2 });
      }
    });
    for (const line of plot.lines) {
      datasets.push({ label: line.label, data: [{ x: doc.from, y: line.value }, { x: doc.to, y: line.value }],
                      borderColor: "#a01818", borderDash: [6, 4], borderWidth: 1.2, pointRadius: 0, order: 0 });
    }
    if (plot.marks.length) {
      const top = Math.max(...plot.series.flatMap(s => s.max.filter(v => v !== null)), 0);
      datasets.push({ label: "alarms raised", type: "scatter", data: plot.marks.map(m => ({ x: m.t, y: top, label: m.label })),
                      pointStyle: "triangle", pointRadius: 6, borderColor: "#a01818", backgroundColor: "#a01818",
                      order: 0 });
    }
    const from = plot.from ?? doc.from, to = plot.to ?? doc.to, span = to - from;
    new window.Chart(canvas, {
      type: "line",
      data: { datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, parsing: false, normalized: true,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        plugins: {
          legend: { position: "top", align: "start",
                    labels: { boxWidth: 14, boxHeight: 2, filter: item => !datasets[item.datasetIndex].rigdBand } },
          tooltip: { filter: item => !item.dataset.rigdBand, callbacks: {
            title: items => items.length ? formatTime(items[0].parsed.x) : "",
            label: item => item.raw.label || `${item.dataset.label}: ${formatNumber(item.parsed.y)}` } },
          rigdShading: { intervals: plot.shades },
        },
        scales: {
          x: { type: "linear", min: from, max: to, afterBuildTicks: roundTicks,
               ticks: { maxRotation: 0, autoSkip: false, callback: v => formatTick(v, span) } },
          y: { ticks: { maxTicksLimit: 6 } },
        },
      },
      plugins: [shading],
    });
    if (plot.shadeLabel) {
      const total = plot.shades.reduce((n, iv) => n + (iv.to - iv.from), 0);
      container.lastChild.append(h("p", { class: "note" },
        `shaded: ${plot.shadeLabel} (${plot.shades.length} interval(s), ${formatDuration(total)} in all)`));
    }
  }

  function table(headers, rows) {
    return h("table", {}, h("thead", {}, h("tr", {}, ...headers.map(x => h("th", {}, x)))),
             h("tbody", {}, ...rows.map(r => h("tr", {}, ...r))));
  }
  const cell = (text, cls) => h("td", cls ? { class: cls } : {}, text);

  function runsTable(runs) {
    return table(["run", "recipe", "outcome", "started", "ended", "results"], runs.map(r => [
      cell(`#${r.number}`), cell(r.recipe), cell(r.outcome + (r.reason ? ` (${r.reason})` : "")),
      cell(formatTime(r.started_at)), cell(r.ended_at ? formatTime(r.ended_at) : "—"),
      cell(Object.entries(r.results || {}).filter(([, v]) => typeof v !== "object")
             .map(([k, v]) => `${k} = ${typeof v === "number" ? formatNumber(v) : v}`).join(", "), "results")]));
  }

  function alarmsTable(alarms, withStation) {
    return table((withStation ? ["station"] : []).concat(["raised", "code", "severity", "message", "cleared"]),
      alarms.map(a => (withStation ? [cell(a.station)] : []).concat([
        cell(formatTime(a.raised_at)), cell(a.code), cell(a.severity, `sev-${a.severity}`), cell(a.message),
        cell(a.cleared_at ? `${formatTime(a.cleared_at)} (${a.cleared_by || ""})` : "—")])));
  }

  // Per alarm code: how often, when first and last, and how long active in all (a flapping alarm shows as a count).
  function alarmSummary(alarms) {
    const byCode = new Map();
    for (const a of alarms) {
      const e = byCode.get(a.code) || { code: a.code, severity: a.severity, n: 0, first: a.raised_at, last: a.raised_at, active: 0, message: a.message };
      e.n += 1;
      e.last = a.raised_at;
      e.active += (a.cleared_at || doc.to) - a.raised_at;
      byCode.set(a.code, e);
    }
    return table(["code", "severity", "times raised", "first", "last", "active in all", "first message"],
      [...byCode.values()].map(e => [cell(e.code), cell(e.severity, `sev-${e.severity}`), cell(String(e.n)),
        cell(formatTime(e.first)), cell(formatTime(e.last)), cell(formatDuration(e.active)), cell(e.message)]));
  }

  // The station's part of the run report (rigd run --report, kept in the recording): the controller's results over
  // the whole run, and each channel's statistics.
  function reportTables(reported) {
    const out = [];
    const scalars = Object.entries(reported.results || {})
      .filter(([, v]) => v !== null && typeof v !== "object").sort(([a], [b]) => a.localeCompare(b));
    if (scalars.length) {
      out.push(h("h3", {}, "Results (from the run report)"),
               table(["result", "value"], scalars.map(([k, v]) => [cell(k), cell(typeof v === "number" ? formatNumber(v) : String(v))])));
    }
    const channels = Object.entries(reported.channels || {});
    if (channels.length) {
      out.push(collapsed("channel statistics over the run (from the run report)",
        table(["channel", "unit", "min", "p05", "mean", "p95", "max", "samples", "faults"], channels.map(([name, c]) =>
          [cell(name), cell(c.unit || ""), cell(formatNumber(c.min)), cell(formatNumber(c.p05)), cell(formatNumber(c.mean)),
           cell(formatNumber(c.p95)), cell(formatNumber(c.max)), cell(String(c.samples)), cell(String(c.faults))]))));
    }
    return out;
  }

  function collapsed(label, content) {
    return h("details", {}, h("summary", {}, label), content);
  }

  function render() {
    root.textContent = "";
    const run = doc.run;
    const subtitle = document.getElementById("subtitle");
    subtitle.textContent = run
      ? `${run.clock} run of ${formatDuration(run.duration_s)} (seed ${run.seed}) from ${run.configuration}, ` +
        `${formatTime(doc.from)} to ${formatTime(doc.to)} plant time; rigd ${run.rigd_version}`
      : `data log from ${formatTime(doc.from)} to ${formatTime(doc.to)}`;
    if (run && run.cut_short) {
      root.append(h("p", { class: "banner warn" },
        "This recording was cut short: the run did not finish (rigd was killed or the power went). " +
        "It holds what was committed, up to the last quarter of a second."));
    } else if (run && run.interrupted) {
      root.append(h("p", { class: "banner warn" }, "The run was interrupted (SIGINT/SIGTERM) before its end."));
    }
    root.append(h("p", { class: "note" }, doc.note));
    if (!window.Chart) {
      root.append(h("p", { class: "banner warn" }, "Chart.js is missing: the plots cannot be drawn (apt-get install libjs-chart.js)."));
    }
    for (const st of doc.stations) {
      const section = h("section", { class: "station", id: `station-${st.name}` },
        h("h2", {}, st.name, " ", h("span", { class: "kind" }, st.kind ? `${st.kind}${st.kind_from === "channels" ? " (from its channels)" : ""}` : "kind unknown")));
      if (doc.exports) {
        const links = ["samples", "alarms", "runs", "events"].map(what =>
          h("a", { href: `/export/${encodeURIComponent(st.name)}.csv?what=${what}`, download: `${st.name}-${what}.csv` }, what));
        const p = h("p", { class: "note" }, "CSV: ");
        links.forEach((a, i) => { if (i) p.append(" · "); p.append(a); });
        section.append(p);
      }
      const plots = h("div", { class: "plots" });
      section.append(plots);
      if (window.Chart) for (const plot of st.plots) drawPlot(plot, plots);
      const reported = ((run && run.report && run.report.stations) || []).find(r => r.name === st.name);
      if (reported) section.append(...reportTables(reported));
      if (st.runs.length) section.append(h("h3", {}, "Runs"), runsTable(st.runs));
      section.append(h("h3", {}, `Alarms (${st.alarms.length})`));
      if (st.alarms.length) section.append(alarmSummary(st.alarms), collapsed(`every alarm of ${st.name}`, alarmsTable(st.alarms, false)));
      if (st.events) {
        const shown = st.events.length < st.events_total ? `the first ${st.events.length} of ${st.events_total} (CSV: all)` : `${st.events.length}`;
        section.append(h("h3", {}, `Events (${st.events_total})`),
          collapsed(`events of ${st.name}: ${shown}`, table(["time", "kind", "message", "asked by"], st.events.map(e =>
            [cell(formatTime(e.t)), cell(e.kind), cell(e.message), cell(e.actor || "")]))));
      }
      root.append(section);
    }
    const timeline = h("section", { class: "station", id: "alarm-timeline" }, h("h2", {}, `Alarm timeline (${doc.alarms.length})`));
    timeline.append(doc.alarms.length ? collapsed(`all ${doc.alarms.length} alarms in the order raised`, alarmsTable(doc.alarms, true))
                                      : h("p", { class: "note" }, "No alarm was raised."));
    root.append(timeline);
    document.body.setAttribute("data-rendered", "true");
  }
  render();
})();
