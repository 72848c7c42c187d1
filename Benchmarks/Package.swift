// swift-tools-version: 6.1
// Pingjia's benchmarks, a package of their own so the main build never pulls in the benchmark
// framework. Run them with `make bench` (Benchmarks/run.py), which also runs the C baselines and
// writes Benchmarks/results/<UTC time>.md with each result as a ratio to its baseline.
import PackageDescription

let package = Package(
    name: "PingjiaBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Pingjia", path: ".."),
        // Malloc counting through the interposer instead of jemalloc: nothing extra to install.
        .package(url: "https://github.com/ordo-one/package-benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
    ],
    targets: [
        .executableTarget(
            name: "PingjiaBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "PingjiaCore", package: "Pingjia"),
                .product(name: "PingjiaStore", package: "Pingjia"),
                .product(name: "PingjiaQR", package: "Pingjia"),
                .product(name: "PingjiaConfig", package: "Pingjia"),
                .product(name: "PingjiaSyncProtocol", package: "Pingjia"),
                .product(name: "PingjiaSync", package: "Pingjia"),
                .product(name: "PingjiaHub", package: "Pingjia"),
                .product(name: "PingjiaKiosk", package: "Pingjia"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/PingjiaBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
