// libFuzzer entry point: any bytes as a roster CSV must give a roster or file:line problems, never a crash.
import Foundation
import PingjiaRoster

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = RosterCSV.parse(data: Data(bytes: data, count: size), file: "roster.csv")
    return 0
}
