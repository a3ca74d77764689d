// libFuzzer target: what rigd reads off MQTT (issue 22). The bytes are a message payload as a broker delivers it:
// the Sparkplug B protobuf decoder (swift-protobuf's generated code), every metric's and property's typed value,
// and the primary host's STATE (JSON or ONLINE/OFFLINE). Any bytes must decode or throw, never trap; what decodes
// must encode again, and encoding that again must give the same bytes.
import Daemon
import Sparkplug

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = EdgeNode.primaryState(bytes)
    guard let payload = try? SpBPayload.decoded(bytes) else { return 0 }
    for metric in payload.metrics {
        if let value = metric.sparkplugValue { _ = EdgeNode.show(value) }
        for property in metric.properties.values { _ = property.sparkplugValue }
        for key in metric.properties.keys { _ = metric.properties[key] }
    }
    do {
        let once = try payload.encoded()
        let twice = try SpBPayload.decoded(once).encoded()
        fuzzCheck(once == twice, "a decoded payload re-encodes differently (\(once.count) vs \(twice.count) bytes)")
    } catch {
        fuzzCheck(false, "a decoded payload does not encode again: \(error)")
    }
    return 0
}
