// swift-tools-version: 6.2
import PackageDescription

/// Warnings are errors for rigd's own code. A warning-control setting, not unsafeFlags: SwiftPM ignores it when rigd is
/// built as another package's dependency, so rigd stays usable as one (examples/embed).
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "rigd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rigd", targets: ["rigd"]),
        .executable(name: "rigd-bench", targets: ["RigdBench"]),
        // Libraries. RigdDevices (register contract, profiles, the ModbusClient protocol) and RigdSim (plants,
        // firmware, in-memory client) need no Debian C library; the transports and servers that do are apart.
        .library(name: "RigdDevices", targets: ["Devices"]),
        .library(name: "RigdSim", targets: ["Sim"]),
        .library(name: "RigdControl", targets: ["Control"]),
        .library(name: "RigdTransports", targets: ["DeviceTransports", "SimServe"]),
        .library(name: "RigdStations", targets: ["Stations"]),
        // The daemon-level tests' support: rigd child processes, socat ptys and proxies, a fake systemd notify
        // socket, HTTP calls, one simulated station on the virtual clock, Mosquitto brokers and a Sparkplug subscriber
        // (Tests/RigdTestKit).
        .library(name: "RigdTestKit", targets: ["RigdTestKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // Histogram's own dependency, named so test targets that import Control can see its C shim module.
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        // The loop runner's deadline queue (HeapModule); already in the graph through SwiftNIO.
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.0"),
        // Sparkplug B payloads (Sources/Sparkplug/sparkplug_b.pb.swift, generated once by scripts/generate-protobuf).
        // Exact: the generated code is made for this version's runtime.
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        // `rigd historian`: the fleet's central store in PostgreSQL.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
        // SHA-256 of the API's named tokens (the tokens file keeps hashes only); already in the graph through
        // postgres-nio, which names it with .git and this range.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.9.0" ..< "5.0.0"),
        // `rigd backup`'s archive (ZIP; zlib from Debian's zlib1g-dev).
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        // Alarm notifications' webhooks (already in the graph through Hummingbird).
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.21.0"),
        // Tests only: an independent CSV parser for the export round trip.
        .package(url: "https://github.com/swiftcsv/SwiftCSV", from: "0.10.0"),
    ],
    targets: [
        // System libraries from Debian (apt providers are listed for `swift build` hints).
        .systemLibrary(name: "CModbus", pkgConfig: "libmodbus", providers: [.apt(["libmodbus-dev"])]),
        .systemLibrary(name: "CGPIOD", pkgConfig: "libgpiod", providers: [.apt(["libgpiod-dev"])]),
        .systemLibrary(name: "CSerialPort", pkgConfig: "libserialport", providers: [.apt(["libserialport-dev"])]),
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        // Tiny C wrappers for what Swift cannot call directly (variadic prctl, macros).
        .target(name: "CShims"),

        // pthread-mutex lock (ThreadSanitizer sees it; Synchronization.Mutex it does not, on Linux).
        .target(name: "Locking", dependencies: ["CShims"], swiftSettings: strict),
        // The device contract: registers, profiles, the ModbusClient and GPIO protocols. No C library.
        .target(name: "Devices", dependencies: ["Locking"], swiftSettings: strict),
        // What talks to a wire: libmodbus TCP and RTU clients, libgpiod, libserialport.
        .target(
            name: "DeviceTransports",
            dependencies: ["Devices", "Locking", "CModbus", "CGPIOD", "CSerialPort", "CShims"],
            swiftSettings: strict
        ),
        // Simulated devices: plants, firmware, the in-memory client, a simulated GPIO chip. No C library.
        .target(name: "Sim", dependencies: ["Devices", "Locking"], swiftSettings: strict),
        // The simulator on real Modbus: libmodbus TCP and RTU servers.
        .target(
            name: "SimServe",
            dependencies: ["Sim", "Devices", "DeviceTransports", "Locking", "CModbus", "CShims"],
            swiftSettings: strict
        ),
        // The fleet: Sparkplug B topics and payloads (protobuf through swift-protobuf) ...
        .target(
            name: "Sparkplug",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: strict
        ),
        // ... and an MQTT client on libmosquitto, on a thread of its own.
        .target(
            name: "MQTT",
            dependencies: ["CMosquitto", "Locking", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "Control",
            dependencies: [
                "Devices", "Locking", "CShims",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),
        // The station runtime: device kinds and their registry, stations, wiring, configuration, run report.
        .target(
            name: "Stations",
            dependencies: [
                "Devices", "DeviceTransports", "Sim", "Control", "Locking",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strict
        ),
        // The daemon: CLI commands, HTTP API, dashboard, data log, metrics, systemd.
        .target(
            name: "Daemon",
            dependencies: [
                "Devices", "DeviceTransports", "Sim", "SimServe", "Control", "Stations", "Locking", "MQTT", "Sparkplug",
                "CShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CSV", package: "CSV.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            // The dashboard's documents and the OpenAPI document, compiled into the binary (`PackageResources`).
            resources: [
                .embedInCode("Resources/dashboard.html"), .embedInCode("Resources/dashboard-overview.html"),
                .embedInCode("Resources/dashboard-station.html"), .embedInCode("Resources/dashboard-missing.html"),
                .embedInCode("Resources/dashboard.css"), .embedInCode("Resources/dashboard.js"),
                .embedInCode("Resources/favicon.svg"), .embedInCode("Resources/openapi.json"),
                .embedInCode("Resources/recording.html"), .embedInCode("Resources/recording.js"),
            ],
            swiftSettings: strict
        ),
        // `rigd historian`: a Sparkplug B host application that subscribes to the fleet's broker and writes what the
        // edge nodes publish into PostgreSQL (postgres-nio), and serves the fleet overview page. Above Daemon, not in
        // it, so that what builds Daemon alone (the fuzz targets) does not build postgres-nio.
        .target(
            name: "Historian",
            dependencies: [
                "Daemon", "MQTT", "Sparkplug", "Locking", "Stations",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // Daemon's modules, named so Historian sees what Daemon's interface brings (GRDB's SQLite module).
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        // The rigd executable: the command line's entry point (Daemon's commands and `rigd historian`), nothing else.
        .executableTarget(name: "rigd", dependencies: ["Daemon", "Historian"], swiftSettings: strict),
        // bench/run's probes: rigd's loop and Modbus client, measured with rigd's own code.
        .executableTarget(
            name: "RigdBench",
            dependencies: [
                "Control", "Devices", "DeviceTransports",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "bench/Sources/RigdBench",
            swiftSettings: strict
        ),

        .testTarget(name: "DevicesTests", dependencies: ["Devices", "DeviceTransports", "Sim", "SimServe", "Locking"]),
        .testTarget(name: "SimTests", dependencies: [
            "Sim", "SimServe", "Devices", "DeviceTransports", "Control", "Locking", .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "Numerics", package: "swift-numerics"),
        ]),
        .testTarget(name: "ControlTests", dependencies: [
            "Control", "Devices", "DeviceTransports", "Sim", "Locking",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "Numerics", package: "swift-numerics"),
        ]),
        // Support for the daemon-level test targets below; no XCTest or Testing in it (it throws TestFailure).
        .target(
            name: "RigdTestKit",
            dependencies: [
                "Control", "Devices", "Sim", "Stations", "Daemon", "MQTT", "Sparkplug", "Locking",
                .product(name: "Logging", package: "swift-log"), .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Tests/RigdTestKit",
            swiftSettings: strict
        ),
        // Daemon-level tests, one target per tier. Fast and in-process: loaders, wiring, the test-only kind
        // (TestKind/), link supervisor, systemd notifier and unit, metrics, data log recorder, dashboard documents,
        // fuzz regressions.
        .testTarget(name: "StationsUnitTests", dependencies: [
            "RigdTestKit", "Daemon", "Stations", "Sim", "SimServe", "Devices", "Control", "Locking",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        // Scenarios per kind on the virtual clock, in-process and `rigd run --virtual` (the long runs on the release
        // build: days to years of plant time), and fault injection.
        .testTarget(name: "ScenarioTests", dependencies: [
            "RigdTestKit", "Daemon", "Stations", "Sim", "Devices", "DeviceTransports", "Control",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // rigd processes on the real clock: Modbus TCP and RTU (socat ptys), the HTTP API, data log, systemd notify,
        // crash durability, secure defaults, many stations. Not named EndToEndTests: it holds a suite of that name.
        .testTarget(name: "EndToEndTier", dependencies: [
            "RigdTestKit", "Daemon", "Stations", "Sim", "SimServe", "Devices", "DeviceTransports", "Control", "Locking",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "SwiftCSV", package: "SwiftCSV"),
        ]),
        // rigd driven by Python or a browser: the OpenAPI and dashboard checkers next to the tests, hil/run, hil/soak.
        .testTarget(
            name: "ToolTests",
            dependencies: ["RigdTestKit", "Daemon", "Stations"],
            exclude: ["openapi_check.py", "dashboard_check.py", "recording_check.py"]
        ),
        // Sparkplug payloads read back by pysparkplug (PyPI), the MQTT client against Mosquitto brokers of the tests'
        // own.
        .testTarget(
            name: "FleetTests",
            dependencies: [
                "RigdTestKit", "Sparkplug", "MQTT", "Locking", "Daemon", "Historian",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            exclude: ["sparkplug_decode.py"]
        ),
        // Too long for scripts/test: skipped unless RIGD_DEEP_TESTS=1 (scripts/test-deep).
        .testTarget(name: "DeepTierTests", dependencies: ["RigdTestKit"]),
    ]
)
