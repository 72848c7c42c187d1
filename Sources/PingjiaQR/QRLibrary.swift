import CQRencode

/// Facts about the libqrencode this build links, for `pingjia version`.
public enum QRLibrary {
    public static var version: String {
        var major: Int32 = 0, minor: Int32 = 0, micro: Int32 = 0
        QRcode_APIVersion(&major, &minor, &micro)
        return "\(major).\(minor).\(micro)"
    }
}
