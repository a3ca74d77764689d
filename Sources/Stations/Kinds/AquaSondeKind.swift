import Control
import Devices
import DeviceTransports
import Sim

/// An aquaculture sonde (docs/register-contract.md §B) with its pond's or tank's relays on the host's GPIO: aerators,
/// water
/// exchange, feeder. No runs: the station controls continuously.
package enum AquaSondeKind: StationKind {
    package typealias Controller = AquacultureController

    package static let summary = "aquaculture sonde (DO, pH, temperature, salinity, ammonia, chlorophyll) with aerator, "
        + "exchange and feeder relays (and heater, light where heater_setpoint_c, light_on/light_off are set)"
    package static let reportPlots = [
        ReportPlot("Dissolved oxygen (mg/L), aerators on shaded", channels: ["do_mgl"],
                   lines: [.init("3 mg/L", 3)], shadeRelay: "aerator-"),
        ReportPlot("Water temperature (°C)", channels: ["water_temp_c"]),
        ReportPlot("pH", channels: ["ph"]),
        ReportPlot("Un-ionised ammonia (mg/L)", channels: ["nh3_mgl"]),
    ]
    package static let lossAlarm = "sonde_lost"
    /// The channels the controller checks and controls on (`AquacultureController.checkedChannels`): one that never
    /// reads would hold its fault alarm for ever.
    package static let safetyChannels: KeyValuePairs<String, String> = [
        "do_mgl": "aeration (aerators on below aerator_on_below_mgl, the critical-DO alarm)",
        "water_temp_c": "the DO saturation and drift checks",
        "salinity_ppt": "the DO saturation and drift checks",
        "ph": "the sensor checks of the ammonia chemistry",
        "tan_mgl": "the sensor checks of the ammonia chemistry",
        "nh3_mgl": "the water exchange on un-ionised ammonia (nh3_max_mgl)",
    ]
    package static var presets: [String] { PondPlant.Parameters.presetNames }
    package static let simulatesProbeErrors = true

    /// A pond's or tank's control keys (docs/register-contract.md §B).
    /// The table's keys (`AquacultureControlConfig.keys`), then the feeding times and the two bands.
    package static func readControl(_ t: TableReader?) -> AquacultureControlConfig {
        var c = AquacultureControlConfig()
        guard let t else { return c }
        t.read(AquacultureControlConfig.keys, into: &c)
        if t.has("feed_times") {
            c.feedTimes = t.stringArray("feed_times")?.compactMap { timeOfDay(t, "feed_times", $0) } ?? c.feedTimes
        }
        let feedLow = t.double("feed_temp_min_c", default: c.feedTempC.lowerBound, range: 0...40)
        let feedHigh = t.double("feed_temp_max_c", default: c.feedTempC.upperBound, range: 0...40)
        if feedLow < feedHigh { c.feedTempC = feedLow...feedHigh } else {
            t.fail("feed_temp_max_c", "must be above feed_temp_min_c (\(feedLow))")
        }
        let salinityLow = t.double("salinity_min_ppt", default: c.salinityPpt.lowerBound, range: 0...45)
        let salinityHigh = t.double("salinity_max_ppt", default: c.salinityPpt.upperBound, range: 0...45)
        if salinityLow < salinityHigh { c.salinityPpt = salinityLow...salinityHigh } else {
            t.fail("salinity_max_ppt", "must be above salinity_min_ppt (\(salinityLow))")
        }
        // A nursery tank's heater and grow lamp: only where their keys are set (a pond has neither).
        if t.isSet("heater_setpoint_c") {
            c.heaterSetpointC = t.double("heater_setpoint_c", default: 26, range: 5...40)
            c.heaterBandC = t.double("heater_band_c", default: c.heaterBandC, range: 0.05...5)
            c.heaterMaxOn = t.double("heater_max_on_min", default: c.heaterMaxOn / 60, range: 1...1440) * 60
            c.heaterRest = t.double("heater_rest_min", default: c.heaterRest / 60, range: 1...1440) * 60
        }
        if t.isSet("light_on") || t.isSet("light_off") {
            let on = t.string("light_on", required: true).flatMap { timeOfDay(t, "light_on", $0) }
            let off = t.string("light_off", required: true).flatMap { timeOfDay(t, "light_off", $0) }
            if let on, let off {
                if on == off { t.fail("light_off", "must differ from light_on") } else { c.photoperiod = .init(on, off) }
            }
        }
        if t.isSet("sensors"), let sensors = t.table("sensors") {
            let checked = AquacultureController.checkedChannels.map { ($0, AquaSondeProfile.channels[$0.rawValue].name) }
            for key in sensors.table.keys.sorted() {
                guard let channel = checked.first(where: { $0.1 == key })?.0 else {
                    sensors.fail(key, "is not a checked channel; the stuck rule applies to "
                                 + checked.map(\.1).joined(separator: ", "))
                    sensors.markRead(key)
                    continue
                }
                guard let table = sensors.table(key) else { continue }
                c.flatlines[channel.rawValue] = SensorCheck.Flatline(
                    resolution: table.double("resolution", default: 0, range: 0...100),
                    updatePeriod: table.double("update_period_s", default: 0, range: 0...86_400))
                table.finish()
            }
        }
        for problem in c.problems() { t.fail(problem.key, problem.message) }
        return c
    }

    /// "HH:MM" as hours of the day, or nil (and an issue on `key`).
    private static func timeOfDay(_ t: TableReader, _ key: String, _ text: String) -> Double? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
              (0..<24).contains(h), (0..<60).contains(m) else {
            t.fail(key, "\"\(text)\" is not a time of day HH:MM")
            return nil
        }
        return Double(h) + Double(m) / 60
    }

    package static func makeController(_ control: AquacultureControlConfig,
                                      context: StationContext) -> AquacultureController {
        var control = control
        control.startHourOfDay = context.startHourOfDay
        return AquacultureController(config: control)
    }

    /// The sonde's water: its plant hears the aerators, exchange and feeder relays of the station.
    package static func simulatedDevice(_ control: AquacultureControlConfig, seed: UInt64, preset: String, unit: UInt8,
                                       host: SimulatedHost) throws -> any ModbusDevice {
        guard let parameters = PondPlant.Parameters.preset(named: preset) else {
            throw UnknownPreset(kind: kind, preset: preset, presets: presets)
        }
        let plant = PondPlant(parameters: parameters, seed: seed, startHourOfDay: host.context.startHourOfDay)
        let aerators = (1...max(1, control.aerators)).map { "aerator-\($0)" }
        let relayOn = host.relayOn
        let inputs: @Sendable () -> PondPlant.Inputs = {
            PondPlant.Inputs(aeratorsOn: aerators.filter(relayOn).count, exchange: relayOn("exchange"),
                             feeding: relayOn("feeder"), heater: relayOn("heater"), light: relayOn("light"))
        }
        return SimulatedDevice(model: AquaSondeFirmware(plant: plant, seed: seed, probeErrors: host.probeErrors,
                                                        relays: inputs),
                               serial: SimulatorCatalog.serial(seed: seed), unitId: UInt16(unit))
    }

    package static let recipes: RecipeFormat? = nil

    /// Up to eight aerators, the exchange, the feeder, and a nursery's heater and lamp.
    package static var possibleRelays: [String] {
        (1...8).map { "aerator-\($0)" } + ["exchange", "feeder", "heater", "light"]
    }

    /// `[station.relays]`: `aerators = [{ chip, line }, …]` (one per aerator), `exchange = { … }`, `feeder = { … }`,
    /// and `heater`/`light` where the control has a heater setpoint or a photoperiod.
    package static func readRelays(_ station: TableReader,
                           control: AquacultureControlConfig) -> [String: GPIOLineAddress]? {
        guard let t = station.table("relays") else { return [:] }
        let aerators = control.aerators
        var out: [String: GPIOLineAddress] = [:]
        if let list = t.arrayOfTables("aerators") {
            if list.count != aerators {
                t.fail("aerators", "lists \(list.count) line(s) but control.aerators is \(aerators)")
            }
            for (i, line) in list.enumerated() {
                line.context = t.context
                if let address = ConfigLoader.readLine(line) { out["aerator-\(i + 1)"] = address }
            }
        }
        for name in ["exchange", "feeder"] + (control.heaterSetpointC != nil ? ["heater"] : [])
            + (control.photoperiod != nil ? ["light"] : []) {
            if let address = t.table(name).flatMap(ConfigLoader.readLine) { out[name] = address }
        }
        t.finish()
        return out
    }
}
