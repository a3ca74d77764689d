import Stations
import DeviceTransports
import SimServe
import Locking
/// The dashboard's stylesheet: a 1280×800 lab PC first, tablets (touch targets of 40 px, one column below 1000 px).
package enum DashboardStyle {
    package static let css = #"""
        :root {
          --bg: #f3f5f8; --card: #ffffff; --ink: #17202b; --muted: #5b6776; --line: #d9dee6;
          --accent: #1d5fbf; --accent-ink: #ffffff; --ok: #17803d; --ok-bg: #e3f4e8; --warn: #8a5a00; --warn-bg: #fff3d6;
          --bad: #b42318; --bad-bg: #fde7e5; --sim: #f2b705; --sim-ink: #2b2100; --top: #14253b;
          --radius: 8px; --font: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
          --mono: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace;
        }
        * { box-sizing: border-box; }
        html { -webkit-text-size-adjust: 100%; }
        body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.4 var(--font); }
        a { color: var(--accent); }
        code { font-family: var(--mono); font-size: 0.92em; }
        h1 { font-size: 22px; margin: 0; }
        h2 { font-size: 16px; margin: 0; }
        h3 { font-size: 13px; margin: 14px 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }
        [hidden] { display: none !important; }
        .muted { color: var(--muted); }
        .small { font-size: 12px; }
        .num { font-variant-numeric: tabular-nums; text-align: right; }

        /* Top bar */
        .top { position: sticky; top: 0; z-index: 10; display: flex; align-items: center; gap: 14px; padding: 8px 20px;
               background: var(--top); color: #e8eef6; min-height: 52px; }
        .top a { color: #e8eef6; text-decoration: none; }
        .brand { font-weight: 700; font-size: 18px; letter-spacing: 0.02em; }
        .logo { color: #fbbf24; }
        .top nav { display: flex; gap: 12px; align-items: center; }
        .top nav a:hover { text-decoration: underline; }
        #nav-station:not(:empty)::before { content: "›"; margin-right: 12px; color: #8fa3bb; }
        .spacer { flex: 1; }
        .live { font-size: 13px; color: #f8d98b; white-space: nowrap; }
        .live.on { color: #8ee59f; }
        .live::before { content: "●"; margin-right: 5px; }
        .token-state { font-size: 13px; color: #c9d3df; white-space: nowrap; }
        .token-state.has-token { color: #8ee59f; }

        /* Buttons and fields */
        button, input, textarea, select { font: inherit; }
        button { min-height: 36px; padding: 6px 14px; border-radius: 6px; border: 1px solid var(--accent);
                 background: var(--accent); color: var(--accent-ink); cursor: pointer; }
        button.secondary { background: #fff; color: var(--accent); }
        .top button.secondary { background: transparent; color: #e8eef6; border-color: #6d84a3; }
        button.danger { background: var(--bad); border-color: var(--bad); }
        button.link { border: 0; background: none; color: var(--accent); padding: 0; min-height: 0; text-decoration: underline; }
        button:disabled { background: #e4e7ec; border-color: #c9ced6; color: #7b8594; cursor: not-allowed; }
        input[type=number], input[type=text], input[type=password], textarea {
          border: 1px solid #b9c1cc; border-radius: 6px; padding: 7px 9px; min-height: 36px; background: #fff; color: var(--ink); }
        input:disabled, textarea:disabled { background: #eef0f3; color: #7b8594; }
        input.out-of-range { border-color: var(--warn); background: var(--warn-bg); }
        textarea { width: 100%; font-family: var(--mono); font-size: 13px; resize: vertical; }
        @media (pointer: coarse) { button, input[type=number], input[type=text], input[type=password] { min-height: 44px; } }

        main { padding: 16px 20px 32px; max-width: 1600px; margin: 0 auto; }
        .page-head { margin-bottom: 12px; }
        .overview-head { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; }
        .overview-head p { margin: 0; }
        .title-row { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; }
        .kind { color: var(--muted); font-size: 15px; }

        /* Simulated: impossible to miss */
        .sim-banner { padding: 9px 20px; font-weight: 700; color: var(--sim-ink); text-align: center; letter-spacing: 0.01em;
                      background: repeating-linear-gradient(135deg, #f7c948 0 18px, #f2b705 18px 36px);
                      border-bottom: 2px solid #9a7400; }
        .badge { display: inline-block; padding: 2px 9px; border-radius: 4px; font-size: 12px; font-weight: 700;
                 letter-spacing: 0.06em; white-space: nowrap; }
        .badge-mode[data-mode=simulated] { color: var(--sim-ink); border: 2px solid #9a7400;
                 background: repeating-linear-gradient(135deg, #f7c948 0 8px, #f2b705 8px 16px); }
        .badge-mode[data-mode=real] { color: var(--ok); background: var(--ok-bg); border: 2px solid var(--ok); }
        .pill { display: inline-block; padding: 2px 8px; border-radius: 999px; font-size: 12px; background: #eceff3;
                color: var(--ink); white-space: nowrap; max-width: 100%; overflow: hidden; text-overflow: ellipsis; }
        .pill.ok { background: var(--ok-bg); color: var(--ok); }
        .pill.warn { background: var(--warn-bg); color: var(--warn); }
        .pill.bad { background: var(--bad-bg); color: var(--bad); font-weight: 600; }
        .pill.run { background: #e4edfb; color: #1b4f9c; }
        .status-row { display: flex; flex-wrap: wrap; gap: 4px 6px; margin-top: 6px; }
        .station-card .status-row { margin-top: 0; }
        .problem { background: var(--bad-bg); color: var(--bad); border: 1px solid #f3b4ae; padding: 8px 12px; border-radius: 6px; }

        /* Cards */
        .card { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); padding: 14px 16px;
                margin-bottom: 14px; box-shadow: 0 1px 2px rgba(16, 24, 40, 0.04); }
        .card-head { display: flex; align-items: center; justify-content: space-between; gap: 10px; margin-bottom: 10px; flex-wrap: wrap; }
        .card-head .buttons { display: flex; gap: 8px; flex-wrap: wrap; }

        /* Overview */
        .station-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(285px, 1fr)); gap: 14px; }
        .station-card { margin: 0; display: flex; flex-direction: column; gap: 6px; border-top: 5px solid #8fa3bb; padding: 10px 14px; }
        .station-card.mode-simulated { border-top-color: var(--sim); }
        .station-card.mode-real { border-top-color: var(--ok); }
        .station-card.has-trip { border-color: #f3b4ae; box-shadow: 0 0 0 2px var(--bad-bg); }
        .station-card header { display: flex; align-items: center; justify-content: space-between; gap: 8px; }
        .station-card h2 { font-size: 17px; }
        .station-card h2 a { color: var(--ink); text-decoration: none; }
        .station-card h2 a:hover { text-decoration: underline; }
        .station-card .meta { font-size: 12px; color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        .key-values { display: grid; grid-template-columns: 1fr 1fr; gap: 6px 12px; margin: 2px 0 0; }
        .key-values div { min-width: 0; }
        .key-values dt { font-size: 11px; color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        .key-values dd { margin: 0; font-size: 18px; font-weight: 600; font-variant-numeric: tabular-nums; white-space: nowrap; }
        .key-values .unit { font-size: 12px; font-weight: 400; color: var(--muted); }
        .station-card footer { margin-top: auto; font-size: 12px; color: var(--muted); border-top: 1px solid #eef0f3; padding-top: 5px;
                               display: flex; justify-content: space-between; }
        .alarm-codes { font-size: 12px; color: var(--bad); }

        /* Station page */
        .station-layout { display: grid; grid-template-columns: minmax(0, 1fr) 390px; gap: 14px; align-items: start; }
        .segmented { display: inline-flex; border: 1px solid var(--accent); border-radius: 6px; overflow: hidden; }
        .segmented button { border: 0; border-radius: 0; background: #fff; color: var(--accent); min-height: 32px; padding: 4px 12px; }
        .segmented button + button { border-left: 1px solid var(--accent); }
        .segmented button.active { background: var(--accent); color: #fff; }
        .charts { display: grid; grid-template-columns: 1fr; gap: 10px; }
        .charts.two { grid-template-columns: 1fr 1fr; }
        .chart-box { position: relative; height: 230px; }
        .charts.two .chart-box { height: 200px; }
        .chart-missing { padding: 16px; background: var(--warn-bg); color: var(--warn); border-radius: 6px; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #eef0f3; vertical-align: top; }
        th { font-size: 12px; color: var(--muted); font-weight: 600; }
        th.num, td.num { text-align: right; }
        .values-table td.num { font-size: 15px; font-weight: 600; }
        .values-table .plot-col { width: 50px; text-align: center; }
        .values-table td.plot-col input { width: 18px; height: 18px; }
        .values-table td.changed { background: #eef5ff; transition: background 0.6s; }
        .table-scroll { overflow-x: auto; }
        .history-table td { font-size: 13px; }
        .history-table .results-cell { font-family: var(--mono); font-size: 12px; max-width: 380px; }
        .history-table summary { cursor: pointer; }
        .results-all { margin-top: 4px; overflow-wrap: anywhere; }
        .setting { padding: 10px 0; border-bottom: 1px solid #eef0f3; }
        .setting:last-child { border-bottom: 0; }
        .setting-head { display: flex; justify-content: space-between; gap: 8px; align-items: baseline; }
        .setting-head label { font-weight: 600; font-family: var(--mono); }
        .limits { font-size: 12px; color: var(--muted); white-space: nowrap; }
        .setting-current { font-size: 13px; margin: 2px 0 6px; }
        .setting-current b { font-size: 16px; font-variant-numeric: tabular-nums; }
        .setting-current b.not-reported { font-size: 13px; font-weight: 400; color: var(--muted); font-style: italic; }
        .setting-input { display: flex; gap: 8px; }
        .setting-input input { flex: 1; min-width: 0; }
        .message { margin: 6px 0 0; font-size: 13px; min-height: 0; }
        .message:empty { display: none; }
        .message.ok { color: var(--ok); }
        .message.error { color: var(--bad); font-weight: 600; }
        .readonly-note { background: #eef3fb; border: 1px solid #c9d8ef; border-radius: 6px; padding: 6px 10px; font-size: 13px; margin: 0 0 8px; }
        .run-state { font-size: 14px; margin-bottom: 8px; }
        .run-form label { display: block; font-size: 12px; color: var(--muted); margin: 8px 0 3px; }
        .run-form input[type=text] { width: 100%; }
        .run-buttons { display: flex; gap: 8px; margin-top: 10px; flex-wrap: wrap; }
        .alarm { border-left: 4px solid var(--warn); background: #fffaf0; padding: 6px 10px; margin-bottom: 8px; border-radius: 4px; }
        .alarm.sev-alarm, .alarm.sev-trip { border-left-color: var(--bad); background: #fff6f5; }
        .alarm .alarm-head { display: flex; justify-content: space-between; gap: 8px; align-items: center; }
        .alarm code { font-weight: 700; }
        .alarm .ack { margin-top: 6px; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
        .recent-alarm { padding: 3px 0; border-bottom: 1px dashed #e6e9ee; }
        .results { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 3px 12px; margin: 0; font-size: 13px; }
        .results dt { color: var(--muted); font-family: var(--mono); font-size: 12px; }
        .results dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }

        /* Token dialog */
        dialog { border: 0; border-radius: 10px; padding: 0; width: min(480px, calc(100vw - 32px));
                 box-shadow: 0 20px 50px rgba(0, 0, 0, 0.35); }
        dialog::backdrop { background: rgba(10, 20, 35, 0.55); }
        dialog form { padding: 18px 20px; }
        dialog p { font-size: 13px; color: var(--muted); }
        dialog label { display: block; font-weight: 600; margin: 10px 0 4px; }
        dialog input { width: 100%; }
        .dialog-actions { display: flex; justify-content: flex-end; gap: 8px; margin-top: 16px; }

        /* Tablets and narrow windows */
        @media (max-width: 1000px) {
          /* One column; the controls come right after the plots. */
          .station-layout { display: flex; flex-direction: column; gap: 0; }
          .column-main, .column-side { display: contents; }
          #plots-card { order: 1; } #setpoints-card { order: 2; } #run-card { order: 3; } #alarms-card { order: 4; }
          #values-card { order: 5; } #results-card { order: 6; } #history-card { order: 7; }
          .charts.two { grid-template-columns: 1fr; }
          main { padding: 12px; }
          .top { padding: 8px 12px; gap: 10px; flex-wrap: wrap; }
        }
        @media (max-width: 560px) {
          .token-state { display: none; }
          .key-values dd { font-size: 17px; }
        }
        """#
}
