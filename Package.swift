// swift-tools-version:5.9
import PackageDescription

// One target per job: shell text (PghaShell), the spec model (load + validate), rendering
// (templates + pcs script), the steps and their catalog (PghaRuntime), the transports (SSH),
// and the CLI that wires them (docs/architecture.md).
let package = Package(
    name: "pgha",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "pgha", targets: ["pgha"]),
        .executable(name: "pgha-bench", targets: ["pgha-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/stencilproject/Stencil", exact: "0.15.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(name: "PghaShell"),
        .target(name: "PghaSpec", dependencies: ["Yams"]),
        .target(name: "PghaRender", dependencies: ["PghaShell", "PghaSpec", "Stencil", "CLibCrypto"]),
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(name: "PghaRuntime", dependencies: ["PghaShell", "PghaSpec", "PghaRender", "CLibCrypto"],
                linkerSettings: [.linkedLibrary("crypt")]),
        .systemLibrary(name: "CLibSSH2", pkgConfig: "libssh2",
                       providers: [.apt(["libssh2-1-dev"])]),
        .target(name: "PghaTransport", dependencies: ["PghaShell", "CLibSSH2"]),
        .target(name: "PghaSession", dependencies: ["PghaShell", "PghaSpec", "PghaRender", "PghaRuntime", "PghaTransport"]),
        .executableTarget(name: "pgha", dependencies: [
            "PghaShell", "PghaSpec", "PghaRender", "PghaRuntime", "PghaTransport", "PghaSession",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "pgha-bench", dependencies: [
            "PghaShell", "PghaSpec", "PghaRender", "PghaRuntime", "PghaTransport",
        ]),
        .testTarget(name: "PghaShellTests", dependencies: ["PghaShell"]),
        .testTarget(name: "PghaSpecTests", dependencies: ["PghaSpec"]),
        .testTarget(name: "PghaRenderTests", dependencies: ["PghaShell", "PghaSpec", "PghaRender"]),
        .testTarget(name: "PghaTransportTests", dependencies: ["PghaShell", "PghaTransport"]),
        .testTarget(name: "PghaSessionTests", dependencies: ["PghaShell", "PghaSpec", "PghaRuntime", "PghaTransport", "PghaSession"]),
        .testTarget(name: "PghaRuntimeTests", dependencies: ["PghaShell", "PghaSpec", "PghaRender", "PghaRuntime"]),
    ]
)
