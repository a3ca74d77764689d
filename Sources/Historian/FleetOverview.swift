import Daemon
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// The historian's read-only fleet overview: every site (Sparkplug group), edge node and device with its mode, link,
/// active alarms and last values, read from PostgreSQL (what the page shows is what the store holds). Plain HTML,
/// refreshed every 5 s; `/api/status` gives the historian's counters as JSON.
package enum FleetOverview {
    package static func router(database: PostgresClient, historian: Historian, logger: Logger) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/") { _, _ -> Response in
            do {
                let html = try await page(database: database, status: historian.status, logger: logger)
                return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(string: html)))
            } catch {
                let text = "The fleet overview cannot read PostgreSQL: \(HistorianError.describe(error))\n"
                return Response(status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(string: text)))
            }
        }
        router.get("/api/status") { _, _ -> Response in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            let data = (try? encoder.encode(historian.status)) ?? Data("{}".utf8)
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        return router
    }

    struct DeviceRow {
        var id: Int64
        var name: String
        var online: Bool
        var kind: String?
        var mode: String?
        var linkUp: Bool?
        var alarms: String
        var unacknowledged: Int32?
        var status: String?
        var values: [(name: String, text: String, quality: Int32?, t: Date)] = []
    }

    struct NodeRow {
        var group: String
        var name: String
        var online: Bool
        var lastMessage: Date?
        var software: String?
        var devices: [DeviceRow] = []
    }

    static func page(database: PostgresClient, status: HistorianStatus, logger: Logger) async throws -> String {
        var nodes: [NodeRow] = []
        let rows = try await database.query("""
            SELECT n.group_id, n.node_id, n.online, n.last_message_at, n.software, d.id, d.device_id, d.online, d.kind,
                   d.mode, d.link_up, d.active_alarms, d.unacknowledged_alarms, d.device_status
            FROM nodes n LEFT JOIN devices d ON d.node = n.id
            ORDER BY n.group_id, n.node_id, d.device_id
            """, logger: logger)
        var deviceIndex: [Int64: (Int, Int)] = [:]
        for try await (group, node, nodeOnline, lastMessage, software, deviceID, device, online, kind, mode, linkUp,
                       alarms, unacknowledged, deviceStatus)
            in rows.decode((String, String, Bool, Date?, String?, Int64?, String?, Bool?, String?, String?, Bool?,
                            String?, Int32?, String?).self) {
            if nodes.last?.group != group || nodes.last?.name != node {
                nodes.append(NodeRow(group: group, name: node, online: nodeOnline, lastMessage: lastMessage,
                                     software: software))
            }
            if let deviceID, let device {
                nodes[nodes.count - 1].devices.append(DeviceRow(
                    id: deviceID, name: device, online: nodeOnline && (online ?? false), kind: kind, mode: mode,
                    linkUp: linkUp, alarms: alarms ?? "", unacknowledged: unacknowledged, status: deviceStatus))
                deviceIndex[deviceID] = (nodes.count - 1, nodes[nodes.count - 1].devices.count - 1)
            }
        }
        // The last value of each channel (rigd stations) or of every metric (other publishers' devices), through the
        // samples' (device, metric, t) key: one index probe per metric.
        let values = try await database.query("""
            SELECT m.device, m.name, m.unit, s.value, s.text_value, s.quality, s.t
            FROM metrics m JOIN devices d ON d.id = m.device
            CROSS JOIN LATERAL (
                SELECT value, text_value, quality, t FROM samples
                WHERE device = m.device AND metric = m.id ORDER BY t DESC LIMIT 1
            ) s
            WHERE m.name LIKE 'Channels/%' OR d.kind IS NULL
            ORDER BY m.device, m.name
            """, logger: logger)
        for try await (device, name, unit, value, text, quality, t)
            in values.decode((Int64, String, String?, Double?, String?, Int32?, Date).self) {
            guard let (n, d) = deviceIndex[device] else { continue }
            let shown = text ?? value.map { format($0) + (unit.map { $0.isEmpty ? "" : " \($0)" } ?? "") } ?? "—"
            let label = name.hasPrefix("Channels/") ? String(name.dropFirst("Channels/".count)) : name
            nodes[n].devices[d].values.append((label, shown, quality, t))
        }
        return render(nodes, status: status, now: Date())
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e9 { return String(Int64(value)) }
        return String(format: "%.4g", value)
    }

    static func age(_ date: Date?, now: Date) -> String {
        guard let date else { return "never" }
        let s = max(0, now.timeIntervalSince(date))
        if s < 90 { return "\(Int(s)) s ago" }
        if s < 5400 { return "\(Int(s / 60)) min ago" }
        if s < 172_800 { return "\(Int(s / 3600)) h ago" }
        return "\(Int(s / 86400)) d ago"
    }

    static func escape(_ text: String) -> String { HTMLTemplate.escape(text) }

    static func render(_ nodes: [NodeRow], status: HistorianStatus, now: Date) -> String {
        let devices = nodes.flatMap(\.devices)
        let groups = Dictionary(grouping: nodes, by: \.group).sorted { $0.key < $1.key }
        let alarmCount = devices.filter(\.online).map { $0.alarms.split(separator: ",").count }.reduce(0, +)
        var html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>rigd fleet</title>
            <style>
            body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f4f6f8; }
            header { background: #1d2430; color: #fff; padding: 12px 24px; }
            header h1 { margin: 0; font-size: 20px; } header p { margin: 4px 0 0; color: #c9d1dc; }
            main { padding: 12px 24px; }
            section.site > h2 { font-size: 17px; margin: 18px 0 8px; }
            article.node { background: #fff; border: 1px solid #d8dde4; border-radius: 6px; margin: 0 0 14px; }
            article.node > h3 { margin: 0; padding: 8px 12px; font-size: 15px; border-bottom: 1px solid #e6e9ee; }
            .meta { color: #5b6675; font-weight: normal; font-size: 12px; margin-left: 8px; }
            table { border-collapse: collapse; width: 100%; }
            th, td { text-align: left; padding: 6px 12px; border-bottom: 1px solid #eef0f3; vertical-align: top; }
            th { font-size: 12px; color: #5b6675; font-weight: 600; }
            .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
            .ok { background: #dff3e4; color: #176c2e; } .bad { background: #fbe0e0; color: #a11d1d; }
            .warn { background: #fff1d0; color: #7a5200; } .off { background: #e6e9ee; color: #5b6675; }
            tr.offline td { color: #8a94a3; } td:first-child { white-space: nowrap; }
            .values span { display: inline-block; margin: 0 14px 2px 0; white-space: nowrap; }
            .values b { font-weight: 600; } .poor { color: #a11d1d; }
            footer { padding: 8px 24px 24px; color: #5b6675; font-size: 12px; }
            .empty { background: #fff; border: 1px dashed #b8c0cc; border-radius: 6px; padding: 16px; }
            </style></head><body>
            <header><h1>rigd fleet</h1>
            <p id="summary">\(groups.count) site\(groups.count == 1 ? "" : "s") · \(nodes.count) edge node\(nodes.count == 1 ? "" : "s") \
            (\(nodes.filter(\.online).count) online) · \(devices.count) device\(devices.count == 1 ? "" : "s") \
            (\(devices.filter(\.online).count) online) · \(alarmCount) active alarm\(alarmCount == 1 ? "" : "s")</p></header>
            <main>

            """
        if nodes.isEmpty {
            html += """
                <p class="empty">No edge node has been heard yet. The historian is subscribed to \
                <code>\(escape(status.subscription))</code> on \(escape(status.broker)); an edge node appears here \
                with its NBIRTH (a rigd with an <code>[mqtt]</code> table, see docs/fleet.md).</p>

                """
        }
        for (group, groupNodes) in groups {
            html += "<section class=\"site\" data-group=\"\(escape(group))\"><h2>Site \(escape(group))</h2>\n"
            for node in groupNodes {
                let badge = node.online ? "<span class=\"badge ok\">online</span>" : "<span class=\"badge off\">offline</span>"
                html += """
                    <article class="node" data-node="\(escape(node.group))/\(escape(node.name))">
                    <h3>\(escape(node.name)) \(badge)<span class="meta">last message \(age(node.lastMessage, now: now))\
                    \(node.software.map { " · " + escape($0) } ?? "") · \(node.devices.count) device\(node.devices.count == 1 ? "" : "s")</span></h3>
                    <table><thead><tr><th>Device</th><th>State</th><th>Kind</th><th>Mode</th><th>Link</th>\
                    <th>Active alarms</th><th>Last values</th></tr></thead><tbody>

                    """
                for device in node.devices {
                    let state = device.online ? "<span class=\"badge ok\">online</span>"
                        : "<span class=\"badge off\">offline</span>"
                    let link = device.linkUp.map { $0 ? "<span class=\"badge ok\">up</span>" : "<span class=\"badge bad\">down</span>" } ?? "—"
                    let alarms = device.alarms.isEmpty ? "none"
                        : device.alarms.split(separator: ",").map { "<span class=\"badge warn\">\(escape(String($0)))</span>" }
                            .joined(separator: " ")
                    let values = device.values.map { v -> String in
                        let poor = v.quality.map { $0 != 192 } ?? false
                        return "<span\(poor ? " class=\"poor\" title=\"quality \(v.quality ?? 0)\"" : "")>\(escape(v.name)) " +
                            "<b>\(escape(v.text))</b></span>"
                    }.joined()
                    let newest = device.values.map(\.t).max()
                    html += """
                        <tr class="\(device.online ? "online" : "offline")" \
                        data-device="\(escape(node.group))/\(escape(node.name))/\(escape(device.name))">\
                        <td><b>\(escape(device.name))</b></td><td>\(state)</td><td>\(escape(device.kind ?? "—"))</td>\
                        <td>\(escape(device.mode ?? "—"))</td><td>\(link)</td><td class="alarms">\(alarms)</td>\
                        <td class="values">\(values.isEmpty ? "—" : values)\
                        <span class="meta">\(newest == nil ? "" : age(newest, now: now))</span></td></tr>

                        """
                }
                html += "</tbody></table></article>\n"
            }
            html += "</section>\n"
        }
        let c = status.counters
        html += """
            </main>
            <footer id="historian">Historian: \(status.connected ? "connected to" : "<b>not connected</b> to") \
            \(escape(status.broker)) (\(escape(status.subscription))), writing to \(escape(status.database)). \
            \(c.messages) messages, \(status.samplesWritten) samples written (\(status.duplicateSamples) duplicates \
            skipped), \(status.queued) queued; \(c.sequenceGaps) sequence gaps, \(c.rebirthRequests) rebirths asked, \
            \(c.malformed) malformed, \(c.oversized) oversized, \(c.unknownMetrics) unknown metrics, \
            \(c.withoutBirth) without a birth, \(status.rejectedMessages) refused by PostgreSQL.\
            \(status.writeError.map { " <b>PostgreSQL writes failing: \(escape($0))</b>" } ?? "")</footer>
            </body></html>

            """
        return html
    }
}
