// libFuzzer entry point: any bytes as a scale file must give a Scale or TOMLProblems, never a crash.
import PingjiaCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? Scale.parse(text: text, file: "fuzz.toml", expectedName: "fuzz")
    return 0
}
