import Foundation
import Devices
import Prometheus
import Stations
import DeviceTransports
import SimServe
import Locking

/// rigd's Prometheus metrics. Thread-safe.
///
/// Everything lives in one swift-prometheus `PrometheusCollectorRegistry`, which writes the text exposition format
/// (names, `# HELP`/`# TYPE` lines, label value escaping); nothing here formats metrics by hand.
///
/// - Station metrics are brought up to date from `StationStatus` snapshots by `render(_:)`. A series that is no
///   longer in the snapshots (a cleared alarm, a channel whose unit changed, a station that went away) is
///   unregistered, so it disappears from the output instead of lingering with a stale value.
/// - The lateness histograms are fed directly from the loop threads by the closures of `latenessObserver`; they are
///   never removed.
package final class MetricsExporter: Sendable {
    /// The content type of what `render(_:)` returns (text exposition format 0.0.4).
    package static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Upper bounds of the `rigd_loop_lateness_seconds` buckets: 10 µs … 1 s (the library adds `+Inf`).
    package static let latenessBuckets: [Duration] = [
        .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250),
        .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
    ]

    private let registry = PrometheusCollectorRegistry()
    /// Held for a whole `render(_:)`, so two concurrent scrapes never interleave their updates. The loop threads
    /// never take it: their histograms have the library's own lock.
    private let series = Locked(Series())
    /// The Sparkplug edge node's link counters (`[mqtt]`), when there is one.
    private let mqtt = Locked<(@Sendable () -> EdgeNode.Counters)?>(nil)
    /// The notification targets' counters (`[[notify]]`), when there are any.
    private let notify = Locked<(@Sendable () -> [Notifier.TargetStatus])?>(nil)

    package init() {}

    /// Adds the MQTT link's metrics (`rigd_mqtt_*`) to every render from now on.
    package func attachMQTT(_ counters: @escaping @Sendable () -> EdgeNode.Counters) {
        mqtt.withLock { $0 = counters }
    }

    /// Adds the notification targets' counters (`rigd_notify_*`) to every render from now on.
    package func attachNotify(_ counters: @escaping @Sendable () -> [Notifier.TargetStatus]) {
        notify.withLock { $0 = counters }
    }

    /// A closure the station's loop thread calls after every tick with the tick's wake-up lateness in ns (>= 0).
    /// Records into the histogram `rigd_loop_lateness_seconds{station,loop}`. Asking twice for the same station and
    /// loop gives closures that feed the same histogram.
    package func latenessObserver(station: String, loop: String) -> @Sendable (Int64) -> Void {
        let family = Family.loopLateness
        let histogram = registry.makeDurationHistogram(
            descriptor: family.descriptor, labels: family.labels([station, loop]), buckets: Self.latenessBuckets)
        return { nanoseconds in histogram.record(.nanoseconds(max(0, nanoseconds))) }
    }

    /// Brings every metric up to date from `statuses`, then returns the whole registry in the text exposition
    /// format (what GET /metrics serves, with content type `MetricsExporter.contentType`).
    package func render(_ statuses: [StationStatus]) -> String {
        series.withLock { series in
            var pass = Pass(registry: registry, series: series)
            for status in statuses { pass.update(from: status) }
            if let counters = mqtt.withLock({ $0 })?() { pass.update(from: counters) }
            for target in notify.withLock({ $0 })?() ?? [] {
                pass.counter(.notifySent, [target.name], total: UInt64(target.sent))
                pass.counter(.notifyFailed, [target.name], total: UInt64(target.failed))
                pass.counter(.notifyRetried, [target.name], total: UInt64(target.retried))
                pass.counter(.notifyHeld, [target.name], total: UInt64(target.held))
            }
            series = pass.finish()
            return registry.emitToString()
        }
    }
}

// MARK: - Metric families

extension MetricsExporter {
    /// One metric name with its help text and label names (in the order every series of it is registered with).
    fileprivate struct Family: Sendable {
        package let name: String
        package let help: String
        package let labelNames: [String]

        package var descriptor: MetricNameDescriptor {
            // The whole name is given as metricName; the empty unit adds nothing to it.
            MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
        }

        package func labels(_ values: [String]) -> [(String, String)] {
            precondition(values.count == labelNames.count, "\(name) takes labels \(labelNames)")
            return Array(zip(labelNames, values))
        }

        package static let loopPeriod = Family(
            name: "rigd_loop_period_seconds", help: "Configured period of the control loop, in seconds.",
            labelNames: ["station", "loop"])
        package static let loopTicks = Family(
            name: "rigd_loop_ticks_total", help: "Ticks the control loop has run.", labelNames: ["station", "loop"])
        package static let loopOverruns = Family(
            name: "rigd_loop_overruns_total", help: "Ticks whose work ran past the next deadline.",
            labelNames: ["station", "loop"])
        package static let loopMissedDeadlines = Family(
            name: "rigd_loop_missed_deadlines_total",
            help: "Deadlines the control loop skipped because a tick ran late.", labelNames: ["station", "loop"])
        package static let loopLateness = Family(
            name: "rigd_loop_lateness_seconds",
            help: "Wake-up lateness of control loop ticks (time from deadline to wake-up), in seconds.",
            labelNames: ["station", "loop"])

        package static let modbusTransactions = Family(
            name: "rigd_modbus_transactions_total", help: "Modbus transactions the station attempted.",
            labelNames: ["station"])
        package static let modbusErrors = Family(
            name: "rigd_modbus_errors_total",
            help: "Modbus link and transaction failures, by kind (timeout, connection, crc, exception_NN, ...).",
            labelNames: ["station", "kind"])
        package static let modbusReconnects = Family(
            name: "rigd_modbus_reconnects_total", help: "Times the station reconnected its Modbus link.",
            labelNames: ["station"])
        package static let linkUp = Family(
            name: "rigd_link_up", help: "1 if the station's device link is up, else 0; mode is real or simulated.",
            labelNames: ["station", "mode"])
        package static let stationInfo = Family(
            name: "rigd_station_info", help: "Always 1; the labels describe the station.",
            labelNames: ["station", "kind", "mode", "address"])

        package static let alarmsActive = Family(
            name: "rigd_alarms_active", help: "Number of active alarms on the station.", labelNames: ["station"])
        package static let alarmActive = Family(
            name: "rigd_alarm_active", help: "1 for each active alarm; the series goes away when the alarm clears.",
            labelNames: ["station", "code", "severity"])

        package static let channelValue = Family(
            name: "rigd_channel_value",
            help: "Latest value of the channel in its unit; NaN on a fault or before the first reading.",
            labelNames: ["station", "channel", "unit"])
        package static let notifySent = Family(
            name: "rigd_notify_sent_total", help: "Notifications delivered to a [[notify]] target (digests included).",
            labelNames: ["target"])
        package static let notifyFailed = Family(
            name: "rigd_notify_failed_total", help: "Notifications given up on after every retry.",
            labelNames: ["target"])
        package static let notifyRetried = Family(
            name: "rigd_notify_retries_total", help: "Delivery attempts that failed and were retried.",
            labelNames: ["target"])
        package static let notifyHeld = Family(
            name: "rigd_notify_held_total",
            help: "Notifications held back by a target's caps (minimum interval, hourly cap), sent in digests.",
            labelNames: ["target"])
        package static let mqttConnected = Family(
            name: "rigd_mqtt_connected", help: "1 while the Sparkplug edge node is connected to its MQTT broker.",
            labelNames: [])
        package static let mqttConnections = Family(
            name: "rigd_mqtt_connections_total", help: "Connections the MQTT broker accepted.", labelNames: [])
        package static let mqttPublished = Family(
            name: "rigd_mqtt_published_total", help: "Sparkplug messages published (births, deaths, data).",
            labelNames: [])
        package static let mqttForwarded = Family(
            name: "rigd_mqtt_forwarded_records_total",
            help: "Historical records (a station's channels at one time) forwarded from the data log after an outage.",
            labelNames: [])
        package static let mqttBacklog = Family(
            name: "rigd_mqtt_backlog_seconds",
            help: "Seconds of recorded samples waiting in the data log to be forwarded, summed over the stations.",
            labelNames: [])
        package static let mqttOldest = Family(
            name: "rigd_mqtt_backlog_oldest_age_seconds",
            help: "Age of the oldest sample waiting to be forwarded; 0 when nothing waits.", labelNames: [])
        package static let mqttRejected = Family(
            name: "rigd_mqtt_rejected_commands_total", help: "Sparkplug commands (NCMD, DCMD) refused or ignored.",
            labelNames: [])
        package static let mqttMalformed = Family(
            name: "rigd_mqtt_malformed_messages_total", help: "Received messages that were not valid Sparkplug B.",
            labelNames: [])
        package static let channelQuality = Family(
            name: "rigd_channel_quality", help: "Quality word of the channel block; 0 is good.",
            labelNames: ["station", "channel"])
    }

    /// Identifies one series: metric name and label values.
    fileprivate struct SeriesKey: Hashable, Sendable {
        package var name: String
        package var values: [String]
    }

    fileprivate struct CounterSeries: Sendable {
        package var counter: Counter
        /// The absolute total of the last status this series was brought up to.
        package var lastTotal: UInt64
    }

    /// The series rendered so far, kept between renders.
    fileprivate struct Series: Sendable {
        package var gauges: [SeriesKey: Gauge] = [:]
        package var counters: [SeriesKey: CounterSeries] = [:]
    }

    /// One `render(_:)`: sets every series found in the statuses, then drops those it did not see.
    fileprivate struct Pass {
        package let registry: PrometheusCollectorRegistry
        package var series: Series
        package var seenGauges: Set<SeriesKey> = []
        package var seenCounters: Set<SeriesKey> = []

        package init(registry: PrometheusCollectorRegistry, series: Series) {
            self.registry = registry
            self.series = series
        }

        package mutating func update(from status: StationStatus) {
            let station = status.name
            for loop in status.loops {
                let labels = [station, loop.name]
                gauge(.loopPeriod, labels, loop.periodS)
                counter(.loopTicks, labels, total: loop.ticks)
                counter(.loopOverruns, labels, total: loop.overruns)
                counter(.loopMissedDeadlines, labels, total: loop.missedDeadlines)
            }

            counter(.modbusTransactions, [station], total: status.link.transactions)
            for (kind, total) in status.link.errorsByKind {
                counter(.modbusErrors, [station, kind], total: total)
            }
            counter(.modbusReconnects, [station], total: status.link.reconnects)
            gauge(.linkUp, [station, status.mode], status.link.up ? 1 : 0)
            gauge(.stationInfo, [station, status.kind, status.mode, status.address], 1)

            gauge(.alarmsActive, [station], Double(status.alarms.count))
            for alarm in status.alarms {
                gauge(.alarmActive, [station, alarm.code, alarm.severity], 1)
            }

            for channel in status.channels {
                gauge(.channelValue, [station, channel.name, channel.unit], channel.value ?? .nan)
                gauge(.channelQuality, [station, channel.name], Double(channel.quality))
            }
        }

        package mutating func update(from mqtt: EdgeNode.Counters) {
            gauge(.mqttConnected, [], mqtt.connected ? 1 : 0)
            counter(.mqttConnections, [], total: mqtt.connections)
            counter(.mqttPublished, [], total: mqtt.published)
            counter(.mqttForwarded, [], total: mqtt.forwarded)
            gauge(.mqttBacklog, [], mqtt.backlogSeconds)
            gauge(.mqttOldest, [], mqtt.oldestQueued.map { max(0, Date().timeIntervalSince1970 - $0) } ?? 0)
            counter(.mqttRejected, [], total: mqtt.rejectedCommands)
            counter(.mqttMalformed, [], total: mqtt.malformed)
        }

        /// Sets a gauge series. The first value given for a series in a pass wins.
        package mutating func gauge(_ family: Family, _ values: [String], _ value: Double) {
            let key = SeriesKey(name: family.name, values: values)
            guard seenGauges.insert(key).inserted else { return }
            if let gauge = series.gauges[key] {
                gauge.set(to: value)
            } else {
                let gauge = registry.makeGauge(descriptor: family.descriptor, labels: family.labels(values))
                gauge.set(to: value)
                series.gauges[key] = gauge
            }
        }

        /// Brings a counter series up to an absolute total from a status. Prometheus counters only go up, so the
        /// counter is incremented by the difference from the last total seen. The first total given for a series in
        /// a pass wins.
        package mutating func counter(_ family: Family, _ values: [String], total: UInt64) {
            let key = SeriesKey(name: family.name, values: values)
            guard seenCounters.insert(key).inserted else { return }
            if var entry = series.counters[key] {
                // A total lower than last time means the station restarted and counts from 0 again: all of the new
                // total is new, so the counter goes up by all of it (and never down; what was counted between the
                // last render and the restart is lost).
                let increase = total >= entry.lastTotal ? total - entry.lastTotal : total
                entry.counter.increment(by: Int64(clamping: increase))
                entry.lastTotal = total
                series.counters[key] = entry
            } else {
                let counter = registry.makeCounter(descriptor: family.descriptor, labels: family.labels(values))
                counter.increment(by: Int64(clamping: total))
                series.counters[key] = CounterSeries(counter: counter, lastTotal: total)
            }
        }

        /// Unregisters every series this pass did not see, and returns what is left for the next pass.
        consuming func finish() -> Series {
            for (key, gauge) in series.gauges where !seenGauges.contains(key) {
                registry.unregisterGauge(gauge)
                series.gauges[key] = nil
            }
            for (key, entry) in series.counters where !seenCounters.contains(key) {
                registry.unregisterCounter(entry.counter)
                series.counters[key] = nil
            }
            return series
        }
    }
}
