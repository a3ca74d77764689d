import Devices
import Synchronization

/// A transaction count readable from any thread.
package final class TransactionTally: Sendable {
    private let value = Atomic<UInt64>(0)
    package var count: UInt64 { value.load(ordering: .relaxed) }
    package func add() { value.add(1, ordering: .relaxed) }
}

/// Counts every transaction a station's client attempts, whatever the transport.
package final class CountingClient: ModbusClient {
    private let base: any ModbusClient
    private let tally: TransactionTally

    package init(_ base: any ModbusClient, tally: TransactionTally) {
        self.base = base
        self.tally = tally
    }

    package var endpoint: String { base.endpoint }
    package var isConnected: Bool { base.isConnected }
    package func connect() throws { try base.connect() }
    package func close() { base.close() }
    package func withinProbeTimeout<T>(_ body: () throws -> T) throws -> T { try base.withinProbeTimeout(body) }
    package func addressing<T>(unit: Int?, _ body: () throws -> T) throws -> T {
        try base.addressing(unit: unit, body)
    }
    package func waking<T>(retries: Int, timeout: Duration?, _ body: () throws -> T) throws -> T {
        try base.waking(retries: retries, timeout: timeout, body)
    }

    private func counted<T>(_ body: () throws -> T) rethrows -> T {
        tally.add()
        return try body()
    }

    package func readInputRegisters(at address: Int, count: Int) throws -> [UInt16] {
        try counted { try base.readInputRegisters(at: address, count: count) }
    }
    package func readHoldingRegisters(at address: Int, count: Int) throws -> [UInt16] {
        try counted { try base.readHoldingRegisters(at: address, count: count) }
    }
    package func readCoils(at address: Int, count: Int) throws -> [Bool] {
        try counted { try base.readCoils(at: address, count: count) }
    }
    package func readDiscreteInputs(at address: Int, count: Int) throws -> [Bool] {
        try counted { try base.readDiscreteInputs(at: address, count: count) }
    }
    package func writeRegister(at address: Int, value: UInt16) throws {
        try counted { try base.writeRegister(at: address, value: value) }
    }
    package func writeRegisters(at address: Int, values: [UInt16]) throws {
        try counted { try base.writeRegisters(at: address, values: values) }
    }
    package func writeAndReadRegisters(writeAt writeAddress: Int, values: [UInt16], readAt readAddress: Int,
                                       count: Int) throws -> [UInt16] {
        try counted {
            try base.writeAndReadRegisters(writeAt: writeAddress, values: values, readAt: readAddress, count: count)
        }
    }
    package func writeCoil(at address: Int, value: Bool) throws {
        try counted { try base.writeCoil(at: address, value: value) }
    }
    package func writeCoils(at address: Int, values: [Bool]) throws {
        try counted { try base.writeCoils(at: address, values: values) }
    }
}
