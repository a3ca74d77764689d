// libFuzzer target: the simulator's Modbus PDU decoder (`ModbusRequest.decode`) and a fresh simulated device of
// every kind answering what it decodes. The input: a kind byte, a fault byte (E-stop, a channel fault), then PDUs,
// each a length byte, a time step byte and the PDU (function code first). Every PDU must decode to a request or an
// exception code, and every request must get a well-formed answer (the values asked for, `written`, or an
// exception) — never a crash, never silence from a device that is online.
import Daemon
import Stations
import SimServe
import DeviceTransports
import Devices
import Sim

func checkDecoded(_ request: ModbusRequest, pdu: [UInt8]) {
    switch request {
    case .readCoils(let address, let count), .readDiscreteInputs(let address, let count):
        fuzzCheck((0...0xFFFF).contains(address) && (1...2000).contains(count), "bit read \(address)+\(count)")
    case .readHoldingRegisters(let address, let count), .readInputRegisters(let address, let count):
        fuzzCheck((0...0xFFFF).contains(address) && (1...125).contains(count), "register read \(address)+\(count)")
    case .writeCoil(let address, _), .writeRegister(let address, _):
        fuzzCheck((0...0xFFFF).contains(address), "single write at \(address)")
    case .writeCoils(let address, let values):
        fuzzCheck((0...0xFFFF).contains(address) && (1...1968).contains(values.count), "coils \(values.count)")
        fuzzCheck(pdu.count >= 6 + (values.count + 7) / 8, "coils past the PDU")
    case .writeRegisters(let address, let values):
        fuzzCheck((0...0xFFFF).contains(address) && (1...123).contains(values.count), "registers \(values.count)")
        fuzzCheck(pdu.count >= 6 + 2 * values.count, "registers past the PDU")
    case .writeAndReadRegisters(let writeAddress, let values, let readAddress, let readCount):
        fuzzCheck((0...0xFFFF).contains(writeAddress) && (1...121).contains(values.count), "FC 23 write \(values.count)")
        fuzzCheck((0...0xFFFF).contains(readAddress) && (1...125).contains(readCount), "FC 23 read \(readCount)")
        fuzzCheck(pdu.count >= 10 + 2 * values.count, "FC 23 values past the PDU")
    }
}

/// The answer must be what a server can frame: the values asked for, inside the 65 536-entry reply mapping.
func checkResponse(_ response: ModbusResponse?, to request: ModbusRequest) {
    guard let response else { return fuzzCheck(false, "an online device was silent to \(request)") }
    if case .exception = response { return }
    switch request {
    case .readCoils(let address, let count), .readDiscreteInputs(let address, let count):
        guard case .bits(let bits) = response else { return fuzzCheck(false, "\(request) answered \(response)") }
        fuzzCheck(bits.count == count && address + count <= 65536, "\(request) answered \(bits.count) bits")
    case .readHoldingRegisters(let address, let count), .readInputRegisters(let address, let count),
         .writeAndReadRegisters(_, _, let address, let count):
        guard case .registers(let r) = response else { return fuzzCheck(false, "\(request) answered \(response)") }
        fuzzCheck(r.count == count && address + count <= 65536, "\(request) answered \(r.count) registers")
    case .writeCoil, .writeRegister, .writeCoils, .writeRegisters:
        guard case .written = response else { return fuzzCheck(false, "\(request) answered \(response)") }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let kind = KindRegistry.builtIn.kinds[Int(input.byte()) % KindRegistry.builtIn.kinds.count].kind
    let faults = input.byte()
    let device: any ModbusDevice
    do {
        device = try KindRegistry.builtIn.simulatedDevice(kind, seed: 1)
    } catch {
        fatalError("no simulator for \(kind): \(error)")
    }
    if let injectable = device as? any FaultInjectable {
        if faults & 1 != 0 { (device as? any EstopButton)?.press() }
        if faults & 2 != 0 {
            let channel = Int(faults >> 4)
            let fault: ChannelFault = switch (faults >> 2) & 3 {
            case 0: .lost
            case 1: .stuck(input.float())
            case 2: .offset(input.float())
            default: .drift(perHour: input.float())
            }
            injectable.setChannelFault(fault, channel: channel)
        }
    }
    var now = 0.0
    while !input.isEmpty {
        let length = Int(input.byte())
        now += Double(input.byte() % 32) / 1000
        let pdu = input.bytes(length)
        switch ModbusRequest.decode(pdu: pdu) {
        case .failure(let code):
            fuzzCheck([.illegalFunction, .illegalDataValue].contains(code), "decode failed with \(code)")
            if !pdu.isEmpty, ![1, 2, 3, 4, 5, 6, 15, 16, 23].contains(pdu[0]) {
                fuzzCheck(code == .illegalFunction, "function \(pdu[0]) gave \(code)")
            }
        case .success(let request):
            checkDecoded(request, pdu: pdu)
            // The same bytes in a slice that does not start at 0 (as the servers pass them) decode the same.
            let framed = [0x11, 0x22] + pdu + [0x33]
            fuzzCheck(ModbusRequest.decode(pdu: framed[2..<(2 + pdu.count)]) == .success(request), "slice decode")
            checkResponse(device.handle(request, now: now), to: request)
        }
    }
    return 0
}

/// Devices whose E-stop the fuzzer can press (every simulated device has one).
protocol EstopButton { func press() }
extension SimulatedDevice: EstopButton {
    func press() { setEstop(pressed: true) }
}
