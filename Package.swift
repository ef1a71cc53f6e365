// swift-tools-version:6.0
// SwiftFL: federated learning in Swift. No Swift package dependencies: Foundation, Dispatch,
// the toolchain's test libraries, and OpenSSL (Debian's libssl-dev) as a system library.
import PackageDescription

let package = Package(
    name: "SwiftFL",
    products: [
        .executable(name: "fx", targets: ["fx"]),
        .executable(name: "fx-aggregator", targets: ["fx-aggregator"]),
        .executable(name: "fx-collaborator", targets: ["fx-collaborator"]),
        .executable(name: "fx-bench", targets: ["fx-bench"]),
        .executable(name: "fx-fuzz", targets: ["fx-fuzz"]),
        .library(name: "FLCore", targets: ["FLCore"]),
        .library(name: "FLTraining", targets: ["FLTraining"]),
        .library(name: "FLWire", targets: ["FLWire"]),
        .library(name: "FLRoles", targets: ["FLRoles"]),
    ],
    targets: [
        // OpenSSL 3 headers and libraries; `shim.h` wraps the macros Swift cannot import.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // Linux calls Swift's Glibc module hides (accept4, pipe2, spawn close-from).
        .target(name: "CShims"),
        // The commit a build was made from (`make` writes it; see scripts/build-info.sh).
        .target(name: "CBuildInfo"),
        // Tensors, models, safetensors, the plan format, metrics, atomic files, logging, child processes.
        .target(name: "FLCore", dependencies: ["CShims"]),
        // Layers, losses, optimizers, CSV shards and splits, task runners.
        .target(name: "FLTraining", dependencies: ["FLCore"]),
        // Frames, messages, mutual TLS, PKI, archives.
        .target(name: "FLWire", dependencies: ["FLCore", "COpenSSL", "CShims"]),
        // Aggregator, Collaborator, Director, Envoy.
        .target(name: "FLRoles", dependencies: ["FLCore", "FLTraining", "FLWire"]),
        // The `fx` command tree: argument parsing and commands, kept out of the executables so it is testable.
        .target(name: "FLCLI", dependencies: ["FLCore", "FLTraining", "FLWire", "FLRoles", "CBuildInfo"]),
        // Helpers shared by tests and benchmarks: temporary directories, PKI fixtures, child processes.
        .target(name: "FLTesting", dependencies: ["FLCore", "FLWire"]),
        .executableTarget(name: "fx", dependencies: ["FLCLI"]),
        .executableTarget(name: "fx-aggregator", dependencies: ["FLCLI"]),
        .executableTarget(name: "fx-collaborator", dependencies: ["FLCLI"]),
        .executableTarget(name: "fx-bench", dependencies: ["FLCore", "FLTraining", "FLWire", "FLRoles", "FLTesting"]),
        // libFuzzer driver for the decoders (`make fuzz`); a plain build makes a replay-only tool.
        .executableTarget(name: "fx-fuzz", dependencies: ["FLCore", "FLWire"]),
        .testTarget(name: "FLCoreTests", dependencies: ["FLCore", "FLTesting"]),
        .testTarget(name: "FLTrainingTests", dependencies: ["FLTraining", "FLTesting"]),
        .testTarget(name: "FLWireTests", dependencies: ["FLWire", "FLTesting"]),
        .testTarget(name: "FLRolesTests", dependencies: ["FLRoles", "FLTesting"]),
        .testTarget(name: "FLCLITests", dependencies: ["FLCLI", "FLTesting"]),
    ]
)
