// swift-tools-version:5.9
import PackageDescription

// No package dependencies, by design: the queue uses only the Swift toolchain and Glibc.

/// This manifest's directory, so the linker finds the order file whatever directory builds it.
let packageDir = String(#filePath.dropLast("Package.swift".count))

/// Generic metadata is reached through direct accessor calls instead of mangled type names that
/// the runtime demangles at first use: every CLI invocation is a fresh process, and that first
/// use cost ~0.1 ms of an enqueue (ARCHITECTURE.md, "Start-up").
let metadataAccessors: SwiftSetting = .unsafeFlags([
    "-Xfrontend", "-disable-concrete-type-metadata-mangled-name-accessors",
])
/// Each function in its own section (release), so the linker can place the start-up path together.
let functionSections: SwiftSetting = .unsafeFlags(["-Xfrontend", "-function-sections"], .when(configuration: .release))

let package = Package(
    name: "queuectl",
    products: [
        .executable(name: "queuectl", targets: ["queuectl"]),
        .library(name: "QueueCore", targets: ["QueueCore"]),
    ],
    targets: [
        // The queue's logic: store, model, scheduling, execution, workers, dashboard.
        .target(name: "QueueCore", swiftSettings: [metadataAccessors, functionSections]),
        // Thin CLI: argument declarations and output.
        .executableTarget(
            name: "queuectl",
            dependencies: ["QueueCore"],
            exclude: ["startup.order"],
            swiftSettings: [metadataAccessors, functionSections],
            // A fully static release binary starts in well under a millisecond. lld lays out the
            // functions a command runs (startup.order, from Tests/bench/startup-order.sh) side by
            // side, so a start touches fewer pages of the binary; a name the file lacks or no
            // longer matches only loses that placement.
            linkerSettings: [.unsafeFlags([
                "-static-executable", "-use-ld=lld",
                "-Xlinker", "--symbol-ordering-file=\(packageDir)Sources/queuectl/startup.order",
                "-Xlinker", "--no-warn-symbol-ordering",
            ], .when(configuration: .release))]
        ),
        .testTarget(name: "QueueCoreTests", dependencies: ["QueueCore"], swiftSettings: [metadataAccessors]),
    ]
)
