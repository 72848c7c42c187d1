// libFuzzer entry point: any bytes as pingjia.toml must give a config or TOMLProblems, never a crash.
import PingjiaConfig

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? KioskConfig.parse(text: text, file: "pingjia.toml")
    return 0
}
