import Control
import Devices
import DeviceTransports
import Foundation
import Sim

/// Where a station sends what it measured and decided besides its log: the data log, and the metrics histograms.
/// Attached once, after wiring and before the station's thread starts.
package struct StationOutputs: Sendable {
    package var recorder: (any StationJournal)?
    /// Unix time of the station clock's zero (Unix time = clock seconds + epoch).
    package var epoch: Double
    /// Seconds of station clock between recorded samples.
    package var recordInterval: Double = 1
    /// Per loop, a lateness observer (metrics); nil for none.
    package var latenessObserver: (@Sendable (_ station: String, _ loop: String) -> @Sendable (Int64) -> Void)?
    /// The longest an output may be held in hand mode, in seconds (`[daemon] hand_max_min`).
    package var handMaxSeconds: Double = 1800
    /// `[calibration]`, and the applied calibrations the data log kept (each station takes its own).
    package var calibration = CalibrationSettings()
    package var calibrations: [CalibrationRecord] = []
    /// Per station, the runs it had before a configuration reload restarted it: its runs go on numbering from there
    /// (the data log keeps one run per station and number in a session).
    package var runsBefore: [String: Int] = [:]

    package init(recorder: (any StationJournal)? = nil, epoch: Double, recordInterval: Double = 1,
                 latenessObserver: (@Sendable (_ station: String, _ loop: String) -> @Sendable (Int64) -> Void)? = nil) {
        self.recorder = recorder
        self.epoch = epoch
        self.recordInterval = recordInterval
        self.latenessObserver = latenessObserver
    }
}

/// For a simulated station: its device and GPIO chips, so tests and the fault injector can reach them. The station's
/// own logic looks at this in one place only: a calibration point puts the simulated probe in its standard
/// (`Station+Calibration.swift`, `simulatedProbes`), the operator's part that a simulation has to play itself.
package struct SimulationHandles: @unchecked Sendable {
    package let device: any ModbusDevice
    /// Simulated chips by name.
    package let gpio: [String: SimulatedGPIOChip]
    /// The configured address of the real device this simulation stands in for (it did not answer at start-up and
    /// the station's fallback is "simulate"); nil for `sim://` stations and virtual runs.
    package let standsInFor: String?
    /// The instrument the station talks to when it has a map: `device` served through that map.
    package let instrument: MappedDevice?

    package init(device: any ModbusDevice, gpio: [String: SimulatedGPIOChip], standsInFor: String? = nil,
                 instrument: MappedDevice? = nil) {
        self.device = device
        self.gpio = gpio
        self.standsInFor = standsInFor
        self.instrument = instrument
    }
}
