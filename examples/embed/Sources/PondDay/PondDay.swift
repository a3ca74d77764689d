import Devices
import Sim

/// A simulated day of a 1 ha pond, stepped by hand: the aerators follow the same hysteresis rigd's aquaculture
/// controller uses by default (on below 4.0 mg/L, off above 5.5 mg/L), and the day's DO range is printed.
@main
enum PondDay {
    static func main() {
        guard let parameters = PondPlant.Parameters.preset(named: "pond") else {
            fatalError("PondPlant has no \"pond\" preset")
        }
        var pond = PondPlant(parameters: parameters, seed: 1, startHourOfDay: 6)
        var aerators = 0
        var lowest = (mgL: Double.infinity, hour: 0.0)
        var highest = (mgL: -Double.infinity, hour: 0.0)
        var aeratedMinutes = 0
        let dt = 10.0
        for _ in 0..<Int(86_400 / dt) {
            if pond.doMgL < 4.0 { aerators = parameters.aerators }
            if pond.doMgL > 5.5 { aerators = 0 }
            if aerators > 0 { aeratedMinutes += 1 }
            pond.step(dt: dt, inputs: PondPlant.Inputs(aeratorsOn: aerators))
            if pond.doMgL < lowest.mgL { lowest = (pond.doMgL, pond.hourOfDay) }
            if pond.doMgL > highest.mgL { highest = (pond.doMgL, pond.hourOfDay) }
        }
        print("\(DeviceKind.aquaSonde): one simulated day of a \(parameters.volumeM3) m³ pond")
        print("DO lowest \(rounded(lowest.mgL)) mg/L at \(rounded(lowest.hour)) h, "
              + "highest \(rounded(highest.mgL)) mg/L at \(rounded(highest.hour)) h")
        print("aerators ran \(aeratedMinutes / 6) min; \(rounded(pond.aeratorEnergyKWh)) kWh")
    }

    static func rounded(_ value: Double) -> Double { (value * 100).rounded() / 100 }
}
