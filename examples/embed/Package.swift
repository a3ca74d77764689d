// swift-tools-version: 6.2
// An embedding example: a program that uses rigd's plants and device contract as a library. It depends on the
// RigdSim and RigdDevices products only, so it builds and links without libmodbus, libgpiod or libserialport
// (scripts/test builds it, runs it and checks its links).
import PackageDescription

let package = Package(
    name: "rigd-embed-example",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "rigd", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "PondDay",
            dependencies: [
                .product(name: "RigdSim", package: "rigd"),
                .product(name: "RigdDevices", package: "rigd"),
            ]
        ),
    ]
)
