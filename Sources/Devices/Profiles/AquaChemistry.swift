#if canImport(Glibc)
import Glibc
#endif

/// Water-chemistry formulas of docs/register-contract.md §B that the sonde, its simulator and the host controller all
/// use: a sonde
/// derives its % saturation and un-ionised ammonia from them, and the host cross-checks its readings against them.
public enum AquaChemistry {
    /// Dissolved-oxygen saturation at 1 atm, mg/L, by Benson and Krause (1984) as given in APHA Standard Methods 4500-O:
    /// 14.62, 9.09 and 7.56 mg/L at 0, 20 and 30 °C in fresh water; 6.97 mg/L at 25 °C and 30 ppt.
    public static func oxygenSaturationMgL(tempC: Double, salinityPpt: Double) -> Double {
        let t = tempC + 273.15
        let t2 = t * t
        let lnC = -139.34411 + 1.575701e5 / t - 6.642308e7 / t2 + 1.243800e10 / (t2 * t) - 8.621949e11 / (t2 * t2)
            - salinityPpt * (0.017674 - 10.754 / t + 2140.7 / t2)
        return exp(lnC)
    }

    /// pKa of the ammonium/ammonia pair (Emerson et al. 1975): 0.09018 + 2729.92 / T[K].
    public static func ammoniumPKa(tempC: Double) -> Double {
        0.09018 + 2729.92 / (tempC + 273.15)
    }

    /// Un-ionised fraction of total ammonia nitrogen, f = 1 / (1 + 10^(pKa − pH)): 5.4 % at 25 °C and pH 8.
    public static func unionisedAmmoniaFraction(pH: Double, tempC: Double) -> Double {
        1 / (1 + pow(10, ammoniumPKa(tempC: tempC) - pH))
    }
}
