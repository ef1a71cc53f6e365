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
        .library(name: "FLArchive", targets: ["FLArchive"]),
        .library(name: "FLPKI", targets: ["FLPKI"]),
        .library(name: "FLPrivacy", targets: ["FLPrivacy"]),
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
        // Workspace archives: tar reading and writing (hashed with FLPKI's SHA-256), extraction within limits.
        .target(name: "FLArchive", dependencies: ["FLCore", "FLPKI"]),
        // Certificates, keys, the CA and its records, revocation lists, SHA-256: what SwiftFL takes from OpenSSL's crypto.
        .target(name: "FLPKI", dependencies: ["FLCore", "COpenSSL"]),
        // Secure aggregation (masks, key agreement, secret sharing) and differential privacy (clipping,
        // noise, the accountant): pure computations, no I/O; the roles run them over the wire.
        .target(name: "FLPrivacy", dependencies: ["FLCore", "FLPKI", "COpenSSL"]),
        // Frames, messages, mutual TLS and the frame server and client.
        .target(name: "FLWire", dependencies: ["FLCore", "FLPKI", "COpenSSL", "CShims"]),
        // Aggregator, Collaborator, Director, Envoy.
        .target(name: "FLRoles", dependencies: ["FLCore", "FLTraining", "FLArchive", "FLPKI", "FLPrivacy", "FLWire"]),
        // The `fx` command tree: argument parsing and commands, kept out of the executables so it is testable.
        .target(name: "FLCLI", dependencies: ["FLCore", "FLTraining", "FLArchive", "FLPKI", "FLWire", "FLRoles", "CBuildInfo"]),
        // Helpers shared by tests and benchmarks: temporary directories, PKI fixtures, child processes.
        .target(name: "FLTesting", dependencies: ["FLCore", "FLArchive", "FLPKI", "FLWire"]),
        .executableTarget(name: "fx", dependencies: ["FLCLI"]),
        .executableTarget(name: "fx-aggregator", dependencies: ["FLCLI"]),
        .executableTarget(name: "fx-collaborator", dependencies: ["FLCLI"]),
        .executableTarget(name: "fx-bench", dependencies: ["FLCore", "FLTraining", "FLArchive", "FLPKI", "FLPrivacy", "FLWire", "FLRoles", "FLTesting"]),
        // libFuzzer driver for the decoders (`make fuzz`); a plain build makes a replay-only tool.
        .executableTarget(name: "fx-fuzz", dependencies: ["FLCore", "FLArchive", "FLWire"]),
        .testTarget(name: "FLCoreTests", dependencies: ["FLCore", "FLTesting"]),
        .testTarget(name: "FLTrainingTests", dependencies: ["FLTraining", "FLTesting"]),
        .testTarget(name: "FLArchiveTests", dependencies: ["FLArchive", "FLPKI", "FLTesting"]),
        .testTarget(name: "FLPKITests", dependencies: ["FLPKI", "FLWire", "FLTesting"]),
        .testTarget(name: "FLPrivacyTests", dependencies: ["FLPrivacy", "FLPKI", "FLTesting"]),
        .testTarget(name: "FLWireTests", dependencies: ["FLWire", "FLArchive", "FLTesting"]),
        .testTarget(name: "FLRolesTests", dependencies: ["FLRoles", "FLTesting"]),
        .testTarget(name: "FLCLITests", dependencies: ["FLCLI", "FLPrivacy", "FLTesting"]),
    ]
)
