import Control
import Devices
import Foundation
import Testing
@testable import Sim

/// Issue 18 item 7: the extraction itself is modelled in the plant, from the true nozzle position relative to the
/// true surface and the circulation achieved: dA/dt = −φ(k_e·η + k_d(T))·A, dE/dt = φ·k_e·η·A
/// (docs/devices/extraction.md).
@Suite struct ExtractionYieldModelTests {
    typealias Plant = ExtractionPlant
    typealias Inputs = ExtractionPlant.Inputs

    /// Quiet temperatures, a filter that never fouls (60 % pump speed is exactly 10 L/min) and no batch variation,
    /// so the extraction follows its equations exactly.
    static func exactPlant(seed: UInt64 = 1) -> Plant {
        var p = ExtractionPlantTests.quiet()
        p.batchVariation = 0
        var plant = Plant(parameters: p, seed: seed)
        plant.faults.foulingMultiplier = 0
        return plant
    }

    /// Holds the nozzle `heightOffset` mm off its optimum height above the true surface and the push at `stroke`, by
    /// their true positions, for `seconds`, with the pump, fan and backflush valve as given.
    static func circulate(_ plant: inout Plant, seconds: Double, heightOffset: Double = 0, stroke: Double = 150,
                          pump: Double = 0.6, fan: Double = 0.5, backflush: Bool = false) {
        let positioner = FrictionCompensatedPositioner()
        let height = plant.parameters.optimumHeightMM + heightOffset
        for _ in 0..<Int((seconds / 0.01).rounded()) {
            let lift = positioner.output(error: plant.levelMM + height - plant.liftMM) / 100
            let push = positioner.output(error: stroke - plant.pushMM) / 100
            plant.step(dt: 0.01, inputs: Inputs(liftValve: lift, pushValve: push, pumpSpeed: pump, fanSpeed: fan,
                                                backflush: backflush))
        }
    }

    /// E(t) of the model for constant efficiency, circulation share and loss rate (t in hours).
    static func expected(_ p: Plant.Parameters, hours: Double, efficiency: Double = 1, circulation: Double = 1,
                         loss: Double? = nil) -> Double {
        let ke = p.extractionRatePerHour * efficiency
        let k = ke + (loss ?? p.extractionLossPerHour)
        return ke / k * (1 - exp(-k * circulation * hours))
    }

    @Test func atTheOptimumTheYieldFollowsTheCalibratedCurve() {
        var plant = Self.exactPlant()
        Self.circulate(&plant, seconds: 1800)
        let expected = Self.expected(plant.parameters, hours: 0.5)
        #expect(abs(plant.extractedFraction - expected) < 0.003, "\(plant.extractedFraction) vs \(expected)")
        #expect(plant.extractedFraction + plant.extractablePool <= 1)
        // The calibration: at the paper's settings 6 h reach 0.857 (k_e + k_d = 1/h, the sheet's τ_E).
        #expect(abs(Self.expected(.standard, hours: 6) - 0.857) < 0.0005)
        #expect(abs(Plant.Parameters.standard.extractionRatePerHour + Plant.Parameters.standard.extractionLossPerHour
                    - 1) < 1e-12)
    }

    @Test(arguments: [40.0, -40.0, 100.0])
    func aNozzleOffItsOptimumExtractsLessAsItsEfficiencySays(offset: Double) {
        var plant = Self.exactPlant()
        Self.circulate(&plant, seconds: 1800, heightOffset: offset)
        let sigma = plant.parameters.placementSigmaHeightMM
        let efficiency = exp(-0.5 * offset * offset / (sigma * sigma))
        let expected = Self.expected(plant.parameters, hours: 0.5, efficiency: efficiency)
        #expect(abs(plant.extractedFraction - expected) < 0.003, "\(plant.extractedFraction) vs \(expected)")
        #expect(plant.extractedFraction < Self.expected(plant.parameters, hours: 0.5) - 0.05)
    }

    @Test func aShortStrokeExtractsLess() {
        var plant = Self.exactPlant()
        Self.circulate(&plant, seconds: 1800, stroke: 75)
        let sigma = plant.parameters.placementSigmaStrokeMM
        let expected = Self.expected(plant.parameters, hours: 0.5, efficiency: exp(-0.5 * 75 * 75 / (sigma * sigma)))
        #expect(abs(plant.extractedFraction - expected) < 0.003, "\(plant.extractedFraction) vs \(expected)")
    }

    @Test func nothingIsExtractedOrLostWithThePumpOff() {
        var plant = Self.exactPlant()
        Self.circulate(&plant, seconds: 600, pump: 0)
        #expect(plant.extractedFraction == 0)
        #expect(plant.extractablePool == 1)
    }

    @Test func nothingIsExtractedWhileBackflushing() {
        var plant = Self.exactPlant()
        Self.circulate(&plant, seconds: 600)
        #expect(plant.extractedFraction > 0.1)
        // The forward flow stops with the pump's 0.5 s lag; from then on nothing passes the nozzle's filter.
        Self.circulate(&plant, seconds: 5, backflush: true)
        let before = plant.extractedFraction
        Self.circulate(&plant, seconds: 15, backflush: true)
        #expect(abs(plant.extractedFraction - before) < 1e-7)
    }

    @Test func halfTheFlowExtractsAtHalfTheRate() {
        var plant = Self.exactPlant()
        Self.circulate(&plant, seconds: 1800, pump: 0.3)
        #expect(abs(plant.flowLPM - 5) < 1e-6)
        let expected = Self.expected(plant.parameters, hours: 0.5, circulation: 0.5)
        #expect(abs(plant.extractedFraction - expected) < 0.003, "\(plant.extractedFraction) vs \(expected)")
    }

    @Test func aHotBoxDegradesTheAminoAcids() {
        var cool = Self.exactPlant()
        var hot = Self.exactPlant()
        Self.circulate(&cool, seconds: 1800)
        Self.circulate(&hot, seconds: 1800, fan: 0)  // the box heads for 43.6 °C
        #expect(hot.boxTempC > 40)
        let lostCool = 1 - cool.extractedFraction - cool.extractablePool
        let lostHot = 1 - hot.extractedFraction - hot.extractablePool
        #expect(lostHot > 2 * lostCool, "lost \(lostHot) hot, \(lostCool) at 32.5 °C")
        #expect(hot.extractedFraction < cool.extractedFraction - 0.005)
    }

    @Test func eachSeedHoldsItsOwnBatch() {
        let factors = (1...5).map { Plant(parameters: .standard, seed: UInt64($0)).batchRateFactor }
        #expect(Set(factors).count == 5)
        for f in factors { #expect(abs(f - 1) < 4 * Plant.Parameters.standard.batchVariation) }
        #expect(Plant(parameters: .standard, seed: 3).batchRateFactor == factors[2])
        #expect(Self.exactPlant().batchRateFactor == 1)
    }

    @Test func theBatchDrawLeavesTheOtherRandomSequencesAlone() {
        var with = Plant(parameters: .standard, seed: 7)
        var p = Plant.Parameters.standard
        p.batchVariation = 0
        var without = Plant(parameters: p, seed: 7)
        ExtractionPlantTests.drive(&with, steps: 2000)
        ExtractionPlantTests.drive(&without, steps: 2000)
        var a = with.measured, b = without.measured
        #expect(a.extractedFraction != b.extractedFraction)
        a.extractedFraction = 0
        b.extractedFraction = 0
        #expect(a == b)
    }
}

/// The simulated device serves the plant's extracted fraction as channel 11, `yield_true`: the lab assay a real device
/// does not have (docs/register-contract.md §A).
@Suite struct ExtractionAssayChannelTests {
    @Test func channelElevenIsThePlantsExtractedFraction() throws {
        let device = SimulatedDevice(model: ExtractionFirmware(plant: ExtractionPlant(parameters: .standard, seed: 1)),
                                     serial: 1)
        device.advance(to: 0)
        #expect(device.handle(.writeRegister(address: 3, value: 0), now: 0) == .written)  // watchdog off
        #expect(device.handle(.writeRegisters(address: 104, values: RegisterCodec.encode(Float(60), order: .abcd)),
                              now: 0) == .written)
        #expect(device.handle(.writeCoils(address: 0, values: [true, true, true]), now: 0) == .written)
        device.advance(to: 600)
        guard case .registers(let words)? = device.handle(.readInputRegisters(address: 100, count: 48), now: 600) else {
            Issue.record("no channel blocks")
            return
        }
        let readings = ChannelBlock.decode(words, count: 12, order: .abcd)
        let extracted = device.withModel { $0.plant.extractedFraction }
        #expect(extracted > 0)
        #expect(readings[11] == .ok(Float(extracted)))
        #expect(ExtractionProfile.channels[11].name == "yield_true")
        #expect(ExtractionProfile.simulatorOnlyChannelCount == 1)
    }
}
