import Devices
import Testing

/// The map value types in every byte order (issue 19): each decodes what it encodes, and the wire layout is the one
/// manuals mean by ABCD, CDAB, BADC and DCBA.
@Suite struct RegisterValueTests {
    @Test func aFloat32InEachOrderIsLaidOutAsManualsSay() {
        // 123.456f = 0x42F6E979: bytes A=42 B=F6 C=E9 D=79.
        let expected: [ByteOrder: [UInt16]] = [.abcd: [0x42F6, 0xE979], .cdab: [0xE979, 0x42F6],
                                               .badc: [0xF642, 0x79E9], .dcba: [0x79E9, 0xF642]]
        for (order, words) in expected {
            #expect(RegisterCodec.encode(123.456, as: .float32, order: order) == words, "\(order)")
            #expect(Float(RegisterCodec.decode(words, as: .float32, order: order)) == Float(123.456), "\(order)")
        }
        // The contract's HR 2 orders are the first two.
        #expect(RegisterCodec.encode(Float(123.456), order: .cdab) == expected[.cdab])
        #expect(ByteOrder(WordOrder.cdab) == .cdab)
    }

    @Test func everyTypeRoundTripsInEveryOrder() {
        let samples: [RegisterType: [Double]] = [
            .int16: [-32768, -1, 0, 12345, 32767], .uint16: [0, 1, 65535],
            .int32: [-2_147_483_648, -70000, 70000, 2_147_483_647], .uint32: [0, 4_294_967_295],
            .int64: [-9_007_199_254_740_992, -1, 9_007_199_254_740_992], .uint64: [0, 9_007_199_254_740_992],
            .float32: [-1.5, 0, 1_048_576.5, 17_179_869_184], .float64: [-1e300, 0.1, 6.02214076e23], .bool: [0, 1],
        ]
        for (type, values) in samples {
            for value in values {
                for order in ByteOrder.allCases {
                    let words = RegisterCodec.encode(value, as: type, order: order)
                    #expect(words?.count == type.registerCount, "\(type) \(value) \(order)")
                    guard let words else { continue }
                    #expect(RegisterCodec.decode(words, as: type, order: order) == value, "\(type) \(value) \(order)")
                }
            }
        }
        // A float64 in CDAB: the four words reversed.
        let pi = RegisterCodec.encode(Double.pi, as: .float64, order: .abcd)!
        #expect(RegisterCodec.encode(Double.pi, as: .float64, order: .cdab) == Array(pi.reversed()))
        #expect(pi == [0x4009, 0x21FB, 0x5444, 0x2D18])
    }

    @Test func valuesATypeCannotHoldAreRefused() {
        #expect(RegisterCodec.encode(32768, as: .int16, order: .abcd) == nil)
        #expect(RegisterCodec.encode(-1, as: .uint32, order: .abcd) == nil)
        #expect(RegisterCodec.encode(1.5, as: .int32, order: .abcd) == nil)
        #expect(RegisterCodec.encode(.nan, as: .uint16, order: .abcd) == nil)
        #expect(RegisterCodec.encode(9_223_372_036_854_775_808, as: .int64, order: .abcd) == nil)
        #expect(RegisterCodec.encode(2, as: .bool, order: .abcd) == nil)
        #expect(RegisterCodec.encode(1, as: .string, order: .abcd) == nil)
        #expect(RegisterType.int16.integerRange == -32768...32767 && RegisterType.float32.integerRange == nil)
    }

    @Test func bitFieldsAndStrings() {
        // Four 4-bit status fields in one word (a low-cost DO probe's status).
        let word: UInt16 = 0x3A51
        #expect([0, 4, 8, 12].map { RegisterCodec.bits(word, shift: $0, width: 4) } == [0x1, 0x5, 0xA, 0x3])
        #expect(RegisterCodec.bits(word, shift: 15, width: 1) == 0)
        // "SN-1234 " in four registers, then a NUL-padded register.
        let serial: [UInt16] = [0x534E, 0x2D31, 0x3233, 0x3420, 0x0000]
        #expect(RegisterCodec.decodeString(serial, order: .abcd) == "SN-1234")
        #expect(RegisterCodec.decodeString(serial.map(\.byteSwapped), order: .badc) == "SN-1234")
        #expect(RegisterCodec.decodeString([0x41FF], order: .abcd) == "A?")
    }
}
