/// One extraction run's settings, validated against docs/register-contract.md §A's limits: out of range is rejected,
/// never clamped.
public struct ExtractionRecipe: Sendable, Equatable {
    public var name = "default"
    /// Circulation time, s (the paper's runs: 6 h).
    public var circulationS = 21_600.0
    /// Nozzle height above the material surface, mm.
    public var heightMM = 200.0
    /// Push-cylinder stroke, mm.
    public var strokeMM = 150.0
    public var flowLPM = 10.0
    public var boxTempC = 32.5
    /// Hold the nozzle where it was positioned instead of tracking the surface (the paper's comparison).
    public var fixedNozzle = false
    /// Residue is returned to the vessel every interval for the given time (0: never).
    public var residueIntervalS = 1800.0
    public var residueDurationS = 300.0

    public init() {}

    /// Names, units and limits of the parameters, as configuration and recipe files spell them.
    public static let specs: [SettingSpec] = [
        SettingSpec("circulation_s", unit: "s", limits: 60...604_800),
        SettingSpec("height_mm", unit: "mm", limits: 100...500),
        SettingSpec("stroke_mm", unit: "mm", limits: 0...300),
        SettingSpec("flow_lpm", unit: "L/min", limits: 2...20),
        // Below the 35 °C alarm, which must stay a fault, not an operating point.
        SettingSpec("box_temp_c", unit: "°C", limits: 20...34),
        SettingSpec("fixed_nozzle", unit: "(0 or 1)", limits: 0...1),
        SettingSpec("residue_interval_s", unit: "s", limits: 0...86_400),
        SettingSpec("residue_duration_s", unit: "s", limits: 0...3600),
    ]

    /// Applies `recipe`'s parameters over `base`; unknown names and out-of-range values are rejected.
    public static func make(_ recipe: RunRecipe, base: ExtractionRecipe) throws(CommandRejection) -> ExtractionRecipe {
        var r = base
        r.name = recipe.name
        for (key, value) in recipe.parameters.sorted(by: { $0.key < $1.key }) {
            guard let spec = specs.first(where: { $0.name == key }) else {
                throw CommandRejection("unknown recipe parameter \(key) (parameters: "
                                       + specs.map(\.name).joined(separator: ", ") + ")")
            }
            try spec.validate(value)
            switch key {
            case "circulation_s": r.circulationS = value
            case "height_mm": r.heightMM = value
            case "stroke_mm": r.strokeMM = value
            case "flow_lpm": r.flowLPM = value
            case "box_temp_c": r.boxTempC = value
            case "fixed_nozzle":
                guard value == 0 || value == 1 else { throw CommandRejection("fixed_nozzle must be 0 or 1") }
                r.fixedNozzle = value == 1
            case "residue_interval_s": r.residueIntervalS = value
            case "residue_duration_s": r.residueDurationS = value
            default: break
            }
        }
        if r.residueIntervalS > 0 && r.residueDurationS >= r.residueIntervalS {
            throw CommandRejection("residue_duration_s must be shorter than residue_interval_s")
        }
        return r
    }

    public var parameters: [String: Double] {
        ["circulation_s": circulationS, "height_mm": heightMM, "stroke_mm": strokeMM, "flow_lpm": flowLPM,
         "box_temp_c": boxTempC, "fixed_nozzle": fixedNozzle ? 1 : 0, "residue_interval_s": residueIntervalS,
         "residue_duration_s": residueDurationS]
    }
}
