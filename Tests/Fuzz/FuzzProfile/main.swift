// libFuzzer entry point: any bytes as a device profile must give a profile or file:line problems.
import PingjiaDevices

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? DeviceProfile.parse(text: text, file: "fuzz.toml")
    return 0
}
