// swift-tools-version:5.9
import PackageDescription

// No package dependencies, by design: the queue uses only the Swift toolchain and Glibc.
let package = Package(
    name: "queuectl",
    products: [
        .executable(name: "queuectl", targets: ["queuectl"]),
        .library(name: "QueueCore", targets: ["QueueCore"]),
    ],
    targets: [
        // The queue's logic: store, model, scheduling, execution, workers, dashboard.
        .target(name: "QueueCore"),
        // Thin CLI: argument declarations and output.
        .executableTarget(
            name: "queuectl",
            dependencies: ["QueueCore"],
            // A fully static release binary starts in well under a millisecond.
            linkerSettings: [.unsafeFlags(["-static-executable"], .when(configuration: .release))]
        ),
        .testTarget(name: "QueueCoreTests", dependencies: ["QueueCore"]),
    ]
)
