import ArgumentParser
import PingjiaQR
import PingjiaStore
import PingjiaUSB

struct Version: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the versions of Pingjia and the libraries it uses.")

    static let pingjia = "0.1.0"

    func run() async throws {
        print("pingjia \(Self.pingjia)")
        print("libusb \(LibUSB.version) (hotplug \(LibUSB.hasHotplug ? "yes" : "no"))")
        print("libqrencode \(QRLibrary.version)")
        print("sqlite \(KioskStore.sqliteVersion)")
    }
}
