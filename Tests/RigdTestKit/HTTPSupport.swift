import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP exchange with a running rigd, for tests.
public struct HTTPReply {
    public let status: Int
    public let body: Data
    public var text: String { String(decoding: body, as: UTF8.self) }
    public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
}

public func http(_ method: String, _ url: String, body: String? = nil, token: String? = nil) async throws -> HTTPReply {
    guard let u = URL(string: url) else { throw TestFailure("bad URL \(url)") }
    var request = URLRequest(url: u, timeoutInterval: 10)
    request.httpMethod = method
    if let body {
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    }
    if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
    let (data, response) = try await URLSession.shared.data(for: request)
    return HTTPReply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
}

/// `promtool check metrics` on `text`: (exit status, output).
public func promtoolCheck(_ text: String) throws -> (status: Int32, output: String) {
    guard let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first(where: {
        FileManager.default.isExecutableFile(atPath: $0)
    }) else {
        throw TestFailure("promtool not found: install Debian's prometheus package (scripts/test does)")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: promtool)
    process.arguments = ["check", "metrics"]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = output
    try process.run()
    input.fileHandleForWriting.write(Data(text.utf8))
    try input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
