// libFuzzer entry point: any bytes from a USB device, through the decoder of every shipped
// profile, must give inputs or problems, never a crash. The first byte picks the profile; the
// rest arrives as reports of the lengths the following bytes give, as a device would send them.
import Foundation
import PingjiaDevices

/// A static, so it is initialised on first use: libFuzzer's main runs instead of this file's
/// top-level code, which would leave a top-level global unset.
enum Shipped {
    static let profiles: [DeviceProfile] = {
        // scripts/fuzz.sh runs from the repository root.
        let found = ProfileSet.load(directories: ["devices"]).profiles
        precondition(!found.isEmpty, "FuzzReports: no profiles in ./devices; run it from the repository root")
        return found
    }()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let profiles = Shipped.profiles
    var decoder = makeDecoder(for: profiles[Int(bytes[0]) % profiles.count])
    var rest = bytes.dropFirst()
    while let length = rest.first {
        rest = rest.dropFirst()
        let chunk = Array(rest.prefix(Int(length % 80)))
        rest = rest.dropFirst(chunk.count)
        _ = decoder.decode(chunk)
        if length == 0xFF { decoder.reset() }
    }
    return 0
}
