import Foundation
import RigdTestKit
import Sparkplug
import Testing

/// The Sparkplug B topic namespace, sequence numbers and payload values, and the payloads read back by an independent
/// decoder (pysparkplug from PyPI, not rigd's generated code).
@Suite struct SparkplugTests {
    @Test func topicsParseAndPrintAsTheSpecificationWritesThem() {
        let cases: [(String, SparkplugTopic)] = [
            ("spBv1.0/farm-north/NBIRTH/host-1", .node(.birth, group: "farm-north", node: "host-1")),
            ("spBv1.0/farm-north/NCMD/host-1", .node(.command, group: "farm-north", node: "host-1")),
            ("spBv1.0/farm-north/DDATA/host-1/pond-3", .device(.data, group: "farm-north", node: "host-1",
                                                                device: "pond-3")),
            ("spBv1.0/farm-north/DDEATH/host-1/pond-3", .device(.death, group: "farm-north", node: "host-1",
                                                                 device: "pond-3")),
            ("spBv1.0/STATE/scada-1", .state(host: "scada-1")),
        ]
        for (text, topic) in cases {
            #expect(SparkplugTopic(text) == topic, "\(text)")
            #expect(topic.description == text)
        }
    }

    @Test(arguments: [
        "spAv1.0/g/NBIRTH/n",            // another namespace
        "spBv1.0/g/NBIRTH",              // no node
        "spBv1.0/g/NBIRTH/n/d",          // a node message with a device
        "spBv1.0/g/DDATA/n",             // a device message without a device
        "spBv1.0/g/DDATA/n/d/extra",     // an element too many
        "spBv1.0/g/NFOO/n",              // an unknown message type
        "spBv1.0//NDATA/n",              // an empty group
        "spBv1.0/STATE/h/extra",
        "spBv1.0/STATE",
        "",
    ])
    func whatIsNotASparkplugTopicIsRefused(_ text: String) {
        #expect(SparkplugTopic(text) == nil)
    }

    @Test func idsWithMQTTSeparatorsOrWildcardsAreRefusedWithTheCharacter() {
        #expect(SparkplugTopic.problem(withID: "pond-3") == nil)
        #expect(SparkplugTopic.problem(withID: "Teich Süd") == nil)
        #expect(SparkplugTopic.problem(withID: "")?.contains("empty") == true)
        #expect(SparkplugTopic.problem(withID: "a/b")?.contains("\"/\"") == true)
        #expect(SparkplugTopic.problem(withID: "a+b")?.contains("\"+\"") == true)
        #expect(SparkplugTopic.problem(withID: "a#")?.contains("\"#\"") == true)
        #expect(SparkplugTopic.problem(withID: "a\u{7}b")?.contains("control") == true)
    }

    @Test func theSequenceCountsFromZeroAndWrapsAfter255() {
        var seq = SparkplugSequence()
        let taken = (0..<258).map { _ in seq.take() }
        #expect(Array(taken.prefix(3)) == [0, 1, 2])
        #expect(Array(taken[254...]) == [254, 255, 0, 1])
        #expect(SparkplugSequence.follows(0, after: 255))
        #expect(SparkplugSequence.follows(8, after: 7))
        #expect(!SparkplugSequence.follows(9, after: 7))
        seq.reset()
        #expect(seq.take() == 0)
    }

    @Test func everyValueKindSurvivesTheWireWithItsDatatype() throws {
        let values: [SparkplugValue] = [
            .int32(-5), .int32(Int32.max), .int64(-1), .int64(Int64.min), .uint32(UInt32.max),
            .uint64(UInt64.max), .float(-0.5), .double(7.25), .double(-1e-300), .boolean(true), .boolean(false),
            .string("6.8 mg/L — Teich Süd"), .dateTime(1_796_565_528_123), .null(.double),
        ]
        var payload = SpBPayload()
        payload.timestamp = 1_796_565_528_000
        payload.seq = 4
        payload.metrics = values.enumerated().map { i, value in
            SpBPayload.Metric(name: "m\(i)", alias: UInt64(i), timestamp: 1_796_565_528_000 + UInt64(i), value,
                              historical: i % 2 == 1)
        }
        let decoded = try SpBPayload.decoded(try payload.encoded())
        #expect(decoded.seq == 4)
        #expect(decoded.metrics.map(\.sparkplugValue) == values)
        #expect(decoded.metrics.map(\.isHistorical) == values.indices.map { $0 % 2 == 1 })
        #expect(decoded.metrics.map(\.name) == values.indices.map { "m\($0)" })
        // Negative integers travel as two's complement in the unsigned fields, as the specification says.
        #expect(decoded.metrics[0].value == .intValue(UInt32(bitPattern: -5)))
        #expect(decoded.metrics[2].value == .longValue(UInt64.max))
    }

    @Test func propertiesAreKeyedAndTyped() throws {
        var metric = SpBPayload.Metric(name: "do_mg_l", .double(6.8),
                                       properties: SpBPayload.PropertySet(["engUnit": .string("mg/L"),
                                                                            "Quality": .int32(192)]))
        metric.timestamp = 1
        let bytes: [UInt8] = try metric.serializedBytes()
        let back = try SpBPayload.Metric(serializedBytes: bytes)
        #expect(back.properties["engUnit"] == .string("mg/L"))
        #expect(back.properties["Quality"] == .int32(192))
        #expect(back.properties["missing"] == nil)
    }

    @Test func aMismatchedValueFieldIsNotReadAsAValue() {
        var metric = SpBPayload.Metric()
        metric.datatype = UInt32(SpBDataType.double.rawValue)
        metric.value = .stringValue("not a number")
        #expect(metric.sparkplugValue == nil)
        metric.datatype = 999
        #expect(metric.sparkplugValue == nil)
    }

    @Test(arguments: [[0xFF], [0x0A, 0x05, 0x01], [0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80]]
          as [[UInt8]])
    func malformedBytesThrowInsteadOfDecoding(_ bytes: [UInt8]) {
        #expect(throws: (any Error).self) { try SpBPayload.decoded(bytes) }
    }

    /// An NBIRTH and a DDATA made with rigd's generated code, read by pysparkplug: names, datatypes, values, seq and
    /// the historical flag as written.
    @Test func pysparkplugReadsWhatRigdWrites() throws {
        var birth = SpBPayload()
        birth.timestamp = 1_796_565_528_000
        birth.seq = 0
        birth.metrics = [
            SpBPayload.Metric(name: "bdSeq", .int64(3)),
            SpBPayload.Metric(name: "Node Control/Rebirth", .boolean(false)),
            SpBPayload.Metric(name: "rigd/version", .string("0.9.0")),
        ]
        var data = SpBPayload()
        data.timestamp = 1_796_565_529_000
        data.seq = 255
        data.metrics = [
            SpBPayload.Metric(name: "channels/do_mg_l", alias: 7, timestamp: 1_796_565_528_500, .double(6.75)),
            SpBPayload.Metric(name: "channels/temp_c", timestamp: 1_796_565_528_500, .float(-1.5), historical: true),
            SpBPayload.Metric(name: "relays/aerator_1", .boolean(true)),
            SpBPayload.Metric(name: "channels/ph", .null(.double)),
        ]
        let directory = NSTemporaryDirectory() + "rigd-spb-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let birthFile = directory + "/nbirth.bin", dataFile = directory + "/ddata.bin"
        try Data(try birth.encoded()).write(to: URL(fileURLWithPath: birthFile))
        try Data(try data.encoded()).write(to: URL(fileURLWithPath: dataFile))

        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("sparkplug_decode.py").path
        let readBirth = try runToCompletion("/usr/bin/env", ["python3", script, "NBIRTH", birthFile])
        try #require(readBirth.status == 0, "sparkplug_decode.py: \(readBirth.stderr)")
        let b = try #require(try JSONSerialization.jsonObject(with: Data(readBirth.stdout.utf8)) as? [String: Any])
        #expect(b["seq"] as? Int == 0)
        let birthMetrics = try #require(b["metrics"] as? [[String: Any]])
        #expect(birthMetrics.map { $0["name"] as? String } == ["bdSeq", "Node Control/Rebirth", "rigd/version"])
        #expect(birthMetrics.map { $0["datatype"] as? String } == ["INT64", "BOOLEAN", "STRING"])
        #expect(birthMetrics[0]["value"] as? Int == 3)
        #expect(birthMetrics[1]["value"] as? Bool == false)
        #expect(birthMetrics[2]["value"] as? String == "0.9.0")

        let readData = try runToCompletion("/usr/bin/env", ["python3", script, "DDATA", dataFile])
        try #require(readData.status == 0, "sparkplug_decode.py: \(readData.stderr)")
        let d = try #require(try JSONSerialization.jsonObject(with: Data(readData.stdout.utf8)) as? [String: Any])
        #expect(d["seq"] as? Int == 255)
        let metrics = try #require(d["metrics"] as? [[String: Any]])
        #expect(metrics.map { $0["datatype"] as? String } == ["DOUBLE", "FLOAT", "BOOLEAN", "DOUBLE"])
        #expect(metrics[0]["value"] as? Double == 6.75)
        #expect(metrics[0]["alias"] as? Int == 7)
        #expect(metrics[0]["timestamp"] as? Int == 1_796_565_528_500)
        #expect(metrics[1]["value"] as? Double == -1.5)
        #expect(metrics.map { $0["is_historical"] as? Bool } == [false, true, false, false])
        #expect(metrics[2]["value"] as? Bool == true)
        #expect(metrics[3]["is_null"] as? Bool == true)
    }
}
