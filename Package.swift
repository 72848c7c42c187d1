// swift-tools-version: 6.1
// Pingjia: the on-site agent of the government-service "good/bad review" (好差评) system.
// Layout and dependency direction: see docs/DESIGN.md (executables -> Store/QR/Config -> Core).
import PackageDescription

let package = Package(
    name: "Pingjia",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "pingjiad", targets: ["pingjiad"]),
        .executable(name: "pingjia", targets: ["pingjia"]),
        .executable(name: "pingjia-hub", targets: ["pingjia-hub"]),
        // For the benchmarks (Benchmarks/, a package of its own that depends on this one).
        .library(name: "PingjiaCore", targets: ["PingjiaCore"]),
        .library(name: "PingjiaStore", targets: ["PingjiaStore"]),
        .library(name: "PingjiaQR", targets: ["PingjiaQR"]),
        .library(name: "PingjiaConfig", targets: ["PingjiaConfig"]),
        .library(name: "PingjiaSyncProtocol", targets: ["PingjiaSyncProtocol"]),
        .library(name: "PingjiaSync", targets: ["PingjiaSync"]),
        .library(name: "PingjiaHubCore", targets: ["PingjiaHubCore"]),
        .library(name: "PingjiaHub", targets: ["PingjiaHub"]),
        .library(name: "PingjiaKiosk", targets: ["PingjiaKiosk"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.0"),
        // HTTP servers (the hub; the kiosk's local web and pull endpoints). No traits: skips swift-configuration and the full-Foundation extras.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0", traits: []),
        // The device's HTTP client (push, enrollment): async/await, TLS with custom trust roots.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.30.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        // The hub's phone page reads the client address off the connection (NIOHTTPTypes request parts).
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.34.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        // /metrics: the kiosk counts through swift-metrics, exported in Prometheus text format.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // The hub's PostgreSQL backend (several hub instances on one database).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
    ],
    targets: [
        // System libraries, found through pkg-config; `make deps` installs the -dev packages.
        .systemLibrary(name: "CQRencode", path: "Sources/CQRencode", pkgConfig: "libqrencode",
                       providers: [.apt(["libqrencode-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CLibUSB", path: "Sources/CLibUSB", pkgConfig: "libusb-1.0",
                       providers: [.apt(["libusb-1.0-0-dev"])]),

        .target(name: "PingjiaTOML"),
        .target(name: "PingjiaCore", dependencies: [
            "PingjiaTOML",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "PingjiaQR", dependencies: ["CQRencode", "CPNG"]),
        .target(name: "PingjiaUSB", dependencies: ["CLibUSB"]),
        .target(name: "PingjiaDevices", dependencies: [
            "PingjiaUSB", "PingjiaTOML", "PingjiaCore", "PingjiaConfig",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "PingjiaConfig", dependencies: ["PingjiaCore", "PingjiaTOML", "PingjiaQR"]),
        .target(name: "PingjiaRoster", dependencies: [
            "PingjiaCore",
            .product(name: "CSV", package: "CSV.swift"),
        ]),
        .target(name: "PingjiaStore", dependencies: [
            "PingjiaCore",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .target(name: "PingjiaKiosk", dependencies: [
            "PingjiaCore", "PingjiaConfig", "PingjiaStore",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
        ]),

        // The kiosk's local web on 127.0.0.1: local API (sessions, staff status), window display with
        // server-sent events, the touch rating page, /healthz, /metrics.
        .target(name: "PingjiaWeb", dependencies: [
            "PingjiaCore", "PingjiaConfig", "PingjiaKiosk", "PingjiaQR", "PingjiaSyncProtocol",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // The sync wire format both sides import: batch JSON, signature input bytes, receipts, keys.
        .target(name: "PingjiaSyncProtocol", dependencies: [
            "PingjiaCore",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Device side of sync: enrollment, push loop, backoff, dead-letter state, pull endpoints.
        .target(name: "PingjiaSync", dependencies: [
            "PingjiaCore", "PingjiaSyncProtocol", "PingjiaStore", "PingjiaConfig",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The hub's rules as plain Swift types, without a database or HTTP: ingest judging (more to
        // move here, see docs/DESIGN.md). Tested in PingjiaHubCoreTests with no database.
        .target(name: "PingjiaHubCore", dependencies: ["PingjiaCore", "PingjiaSyncProtocol"]),
        // The central server: HTTP, the storage backends (SQL lives here) and the rules not yet in PingjiaHubCore.
        .target(name: "PingjiaHub", dependencies: [
            "PingjiaHubCore", "PingjiaCore", "PingjiaSyncProtocol", "PingjiaConfig", "PingjiaTOML",
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // The installer's flows over the other modules: self-test checks, guided setup.
        .target(name: "PingjiaInstaller", dependencies: [
            "PingjiaCore", "PingjiaConfig", "PingjiaStore", "PingjiaRoster", "PingjiaKiosk", "PingjiaUSB", "PingjiaDevices",
            "PingjiaSync", "PingjiaSyncProtocol",
            .product(name: "Logging", package: "swift-log"),
        ]),

        .executableTarget(name: "pingjia-hub", dependencies: [
            "PingjiaHub", "PingjiaSyncProtocol", "PingjiaRoster", "PingjiaCore", "PingjiaConfig",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "pingjiad", dependencies: [
            "PingjiaCore", "PingjiaConfig", "PingjiaStore", "PingjiaKiosk", "PingjiaUSB", "PingjiaDevices", "PingjiaSync", "PingjiaWeb",
            "PingjiaSyncProtocol",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "pingjia", dependencies: [
            "PingjiaCore", "PingjiaConfig", "PingjiaStore", "PingjiaRoster", "PingjiaQR", "PingjiaUSB", "PingjiaDevices", "PingjiaKiosk",
            "PingjiaSync", "PingjiaSyncProtocol", "PingjiaInstaller",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // libFuzzer entry points; `make fuzz` builds them with sanitizers in .build-fuzz
        // (scripts/fuzz.sh). In a normal build they are small executables that do nothing.
        .executableTarget(name: "FuzzScale", dependencies: ["PingjiaCore"], path: "Tests/Fuzz/FuzzScale"),
        .executableTarget(name: "FuzzConfig", dependencies: ["PingjiaConfig"], path: "Tests/Fuzz/FuzzConfig"),
        .executableTarget(name: "FuzzRoster", dependencies: ["PingjiaRoster"], path: "Tests/Fuzz/FuzzRoster"),
        .executableTarget(name: "FuzzProfile", dependencies: ["PingjiaDevices"], path: "Tests/Fuzz/FuzzProfile"),
        .executableTarget(name: "FuzzReports", dependencies: ["PingjiaDevices"], path: "Tests/Fuzz/FuzzReports"),
        .executableTarget(name: "FuzzBatch", dependencies: ["PingjiaSyncProtocol", "PingjiaCore"], path: "Tests/Fuzz/FuzzBatch"),
        .executableTarget(name: "FuzzQRToken", dependencies: ["PingjiaSyncProtocol"], path: "Tests/Fuzz/FuzzQRToken"),

        .testTarget(name: "PingjiaKioskTests", dependencies: [
            "PingjiaKiosk", "PingjiaCore", "PingjiaConfig",
        ]),
        // The local web over real HTTP on loopback, with a real store.
        .testTarget(name: "PingjiaWebTests", dependencies: [
            "PingjiaWeb", "PingjiaKiosk", "PingjiaCore", "PingjiaConfig", "PingjiaStore", "PingjiaSyncProtocol",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "PingjiaCoreTests", dependencies: ["PingjiaCore", "PingjiaTOML"]),
        .testTarget(name: "PingjiaQRTests", dependencies: ["PingjiaQR"]),
        .testTarget(name: "PingjiaConfigTests", dependencies: ["PingjiaConfig", "PingjiaCore", "PingjiaTOML", "PingjiaQR"]),
        .testTarget(name: "PingjiaRosterTests", dependencies: ["PingjiaRoster", "PingjiaCore"]),
        .testTarget(name: "PingjiaStoreTests", dependencies: [
            "PingjiaStore", "PingjiaCore",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "PingjiaDevicesTests", dependencies: [
            "PingjiaDevices", "PingjiaUSB", "PingjiaTOML", "PingjiaConfig", "PingjiaCore",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Real libusb against umockdev-emulated devices: the built `pingjia` and `pingjiad` run
        // under the umockdev preload while Tests/Emulator/usb_emulator.py plays the device.
        // The torture campaigns (TortureTests) and the installer's setup and self-test also run
        // a real `pingjia-hub`.
        .testTarget(name: "PingjiaUSBEmulatorTests", dependencies: ["pingjia", "pingjiad", "pingjia-hub"]),
        // The hub's rules without a database.
        .testTarget(name: "PingjiaHubCoreTests", dependencies: ["PingjiaHubCore", "PingjiaCore", "PingjiaSyncProtocol"]),
        .testTarget(name: "PingjiaSyncProtocolTests", dependencies: ["PingjiaSyncProtocol", "PingjiaCore"]),
        // Real HTTP over loopback, real SQLite on both sides (the hub on PostgreSQL too), and a
        // fault-injecting proxy between.
        // The two-instance test runs the built `pingjia-hub` twice on one PostgreSQL.
        .testTarget(name: "PingjiaSyncTests", dependencies: [
            "pingjia-hub", "PingjiaSync", "PingjiaSyncProtocol", "PingjiaHub", "PingjiaStore", "PingjiaCore", "PingjiaConfig",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Runs the built `pingjia`, `pingjiad` and `pingjia-hub` binaries the way an installer would.
        .testTarget(name: "PingjiaCLITests", dependencies: [
            "pingjia", "pingjiad", "pingjia-hub", "PingjiaStore", "PingjiaCore", "PingjiaSyncProtocol",
        ]),
    ],
    swiftLanguageModes: [.v6]
)
