import Control
import Foundation
import GRDB
import Stations

/// The data log's `calibration` table (migrations v5 and v6): every finished probe calibration, accepted or not.
package enum CalibrationLog {
    package static func insert(_ r: CalibrationRecord, db: Database) throws {
        let encoder = StationStatus.encoder()
        let points = String(decoding: try encoder.encode(r.points), as: UTF8.self)
        let failures = String(decoding: try encoder.encode(r.failures), as: UTF8.self)
        let device = try r.device.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        try db.execute(sql: """
            INSERT INTO calibration (t, station, channel, method, actor, why, points, correction_slope,
                                     correction_offset, slope_pct, "offset", offset_unit, accepted, applied, failures,
                                     due_at, device)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [r.at, r.station, r.channel, r.method, r.by, r.why, points, r.correctionSlope,
                             r.correctionOffset, r.slopePct, r.offset, r.offsetUnit, r.accepted, r.applied, failures,
                             r.dueAt, device])
    }

    /// The records of `station` (nil: every station) in [from, to], oldest first.
    package static func records(_ db: Database, station: String?, from: Double = -.infinity,
                                to: Double = .infinity) throws -> [CalibrationRecord] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT * FROM calibration WHERE (?1 IS NULL OR station = ?1) AND t >= ?2 AND t <= ?3 ORDER BY t, id
            """, arguments: [station, from.isFinite ? from : -1e300, to.isFinite ? to : 1e300])
        return try rows.map(record)
    }

    /// The latest applied calibration of each station's channels: what a restarted rigd applies.
    package static func applied(_ db: Database) throws -> [CalibrationRecord] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT c.* FROM calibration c
            WHERE c.applied = 1 AND c.id = (SELECT max(id) FROM calibration d
                                            WHERE d.station = c.station AND d.channel = c.channel AND d.applied = 1)
            ORDER BY c.station, c.channel
            """)
        return try rows.map(record)
    }

    private static func record(_ row: Row) throws -> CalibrationRecord {
        let decoder = StationStatus.decoder()
        let points = try decoder.decode([CalibrationPoint].self, from: Data((row["points"] as String).utf8))
        let failures = try decoder.decode([String].self, from: Data((row["failures"] as String).utf8))
        let fit = CalibrationFit(correction: ChannelCorrection(slope: row["correction_slope"],
                                                               offset: row["correction_offset"]),
                                 slopePct: row["slope_pct"], offset: row["offset"], offsetUnit: row["offset_unit"],
                                 failures: failures)
        let device = try (row["device"] as String?).map {
            try decoder.decode(CalibrationRecord.DeviceCalibration.self, from: Data($0.utf8))
        }
        return CalibrationRecord(station: row["station"], channel: row["channel"], method: row["method"],
                                 at: row["t"], by: row["actor"], why: row["why"], points: points, fit: fit,
                                 applied: row["applied"], dueAt: row["due_at"], device: device)
    }
}
