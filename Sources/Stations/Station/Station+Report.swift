import Control
import Devices

extension Station {
    package func report(includeLateness: Bool) -> [String: ReportValue] {
        var channels: [String: ReportValue] = [:]
        for stats in publisher.channelStats { channels[stats.spec.name] = .object(stats.summary) }
        var loopEntries: [String: ReportValue] = [:]
        for statistics in loopStatistics {
            let s = statistics.snapshot()
            var entry: [String: ReportValue] = [
                "period_s": .number(s.period), "ticks": .number(Double(s.ticks)),
                "overruns": .number(Double(s.overruns)),
            ]
            if includeLateness {
                entry["lateness_p50_s"] = .number(s.lateness(atPercentile: 50))
                entry["lateness_p99_s"] = .number(s.lateness(atPercentile: 99))
                entry["lateness_max_s"] = .number(s.maxLateness)
                entry["missed_deadlines"] = .number(Double(s.missedDeadlines))
            }
            loopEntries[s.name] = .object(entry)
        }
        let alarms: [ReportValue] = controller.alarms.history.map { a in
            .object(["code": .string(a.code), "severity": .string(a.severity.rawValue), "message": .string(a.message),
                     "raised_s": .number(a.raisedAt), "cleared_s": ReportValue(a.clearedAt)])
        }
        let link = counters.withLock { $0 }
        return [
            "name": .string(name), "kind": .string(kind.rawValue), "mode": .string(mode.rawValue),
            "address": .string(endpoint), "channels": .object(channels), "loops": .object(loopEntries),
            "alarms": .array(alarms), "alarms_dropped": .number(Double(controller.alarms.dropped)),
            "runs": .array(controller.runs.map(\.report)),
            "results": .object(controller.results()),
            "ring": ringReader.map { r in
                .object(["received": .number(Double(r.received)), "lost": .number(Double(r.lost)),
                         "gaps": .number(Double(r.gapCount)),
                         "first_gaps": .array(r.gaps.prefix(20).map {
                             .object(["first": .number(Double($0.first)), "count": .number(Double($0.count))])
                         })])
            } ?? .null,
            "link": .object(["transactions": .number(Double(transactions.count)),
                             "link_errors": .number(Double(link.linkErrors)),
                             "transaction_errors": .number(Double(link.transactionErrors)),
                             "reconnects": .number(Double(link.reconnects))]),
        ]
    }
}
