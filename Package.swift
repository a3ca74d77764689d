// swift-tools-version: 6.0
import PackageDescription

/// Warnings are errors for project code only (dependencies are built by SwiftPM without these flags).
let strict: [SwiftSetting] = [.unsafeFlags(["-warnings-as-errors"])]

let package = Package(
    name: "rigd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rigd", targets: ["Daemon"]),
        .executable(name: "rigd-bench", targets: ["RigdBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // Histogram's own dependency, named so test targets that import Control can see its C shim module.
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.0"),
        // Tests only: an independent CSV parser for the export round trip.
        .package(url: "https://github.com/swiftcsv/SwiftCSV", from: "0.10.0"),
    ],
    targets: [
        // System libraries from Debian (apt providers are listed for `swift build` hints).
        .systemLibrary(name: "CModbus", pkgConfig: "libmodbus", providers: [.apt(["libmodbus-dev"])]),
        .systemLibrary(name: "CGPIOD", pkgConfig: "libgpiod", providers: [.apt(["libgpiod-dev"])]),
        .systemLibrary(name: "CSerialPort", pkgConfig: "libserialport", providers: [.apt(["libserialport-dev"])]),
        // Tiny C wrappers for what Swift cannot call directly (variadic prctl, macros).
        .target(name: "CShims"),

        .target(
            name: "Devices",
            dependencies: ["CModbus", "CGPIOD", "CSerialPort", "CShims"],
            swiftSettings: strict
        ),
        .target(
            name: "Sim",
            dependencies: ["Devices", "CModbus", "CShims"],
            swiftSettings: strict
        ),
        .target(
            name: "Control",
            dependencies: [
                "Devices", "CShims",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "Daemon",
            dependencies: [
                "Devices", "Sim", "Control",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CSV", package: "CSV.swift"),
            ],
            // The dashboard's documents and the OpenAPI document, compiled into the binary (`PackageResources`).
            resources: [
                .embedInCode("Resources/dashboard.html"), .embedInCode("Resources/dashboard-overview.html"),
                .embedInCode("Resources/dashboard-station.html"), .embedInCode("Resources/dashboard-missing.html"),
                .embedInCode("Resources/dashboard.css"), .embedInCode("Resources/dashboard.js"),
                .embedInCode("Resources/favicon.svg"), .embedInCode("Resources/openapi.json"),
            ],
            swiftSettings: strict
        ),
        // bench/run's probes: rigd's loop and Modbus client, measured with rigd's own code.
        .executableTarget(
            name: "RigdBench",
            dependencies: [
                "Control", "Devices",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "bench/Sources/RigdBench",
            swiftSettings: strict
        ),

        .testTarget(name: "DevicesTests", dependencies: ["Devices", "Sim"]),
        .testTarget(name: "SimTests", dependencies: [
            "Sim", "Devices", "Control", .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "Numerics", package: "swift-numerics"),
        ]),
        .testTarget(name: "ControlTests", dependencies: [
            "Control", "Devices", .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "Numerics", package: "swift-numerics"),
        ]),
        // The Python checkers are run by the Swift tests next to them (HTTP API against OpenAPI, browser).
        .testTarget(name: "DaemonTests", dependencies: [
            "Daemon", "Sim", "Devices", "Control", .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "Numerics", package: "swift-numerics"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "SwiftCSV", package: "SwiftCSV"),
        ], exclude: ["openapi_check.py", "dashboard_check.py"]),
    ]
)
