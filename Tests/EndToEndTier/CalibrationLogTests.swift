import Control
import Daemon
import Foundation
import GRDB
import Stations
import Testing

/// The data log's `calibration` table keeps where a calibration went (migration v6): a record written to the device's
/// own registers comes back with them, and a restarted rigd takes it as the device's (never applied on the host).
@Suite struct CalibrationLogTests {
    @Test func aCalibrationWrittenToTheDeviceComesBackWithItsRegisters() throws {
        let directory = NSTemporaryDirectory() + "rigd-calibration-log-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pool = try DataLog.openForWriting(path: DataLog.path(in: directory))
        let fit = CalibrationFit(correction: ChannelCorrection(slope: 1.03, offset: -0.2), slopePct: 97.1, offset: 6.5,
                                 offsetUnit: "mV", failures: [])
        let points = [CalibrationPoint(standard: 7, raw: 7.19, tempC: 25, lot: "L-1"),
                      CalibrationPoint(standard: 4.01, raw: 4.29, tempC: 25, lot: "L-2")]
        let device = CalibrationRecord.DeviceCalibration(
            registers: "holding 400 (slope, float32), holding 402 (offset, float32)", slopeBefore: 1, offsetBefore: 0,
            slope: 1.03, offset: -0.2)
        let inDevice = CalibrationRecord(station: "pond", channel: "ph", method: "ph", at: 1_000, by: "otto",
                                         why: nil, points: points, fit: fit, applied: true, dueAt: 2_000,
                                         device: device)
        let onHost = CalibrationRecord(station: "pond", channel: "salinity_ppt", method: "conductivity", at: 1_100,
                                       by: nil, why: "monthly", points: [points[0]], fit: fit, applied: true,
                                       dueAt: nil)
        try pool.write { db in
            try CalibrationLog.insert(inDevice, db: db)
            try CalibrationLog.insert(onHost, db: db)
        }
        let records = try pool.read { db in try CalibrationLog.records(db, station: "pond") }
        #expect(records == [inDevice, onHost])
        let applied = try pool.read { db in try CalibrationLog.applied(db) }
        #expect(applied.first { $0.channel == "ph" }?.device == device)
        #expect(applied.first { $0.channel == "salinity_ppt" }?.device == nil)
        let migrations = try pool.read { db in try DataLog.migrator.appliedIdentifiers(db) }
        #expect(migrations.contains("v6: calibrations written to the device"))
    }
}
