import CLibCrypto

/// MD5, only for S3's `Content-MD5` header (required by object-lock PUTs): an integrity
/// check of the request body in transit, never a security boundary in Tandem.
public enum ContentMD5 {
    /// The 16-byte digest of `bytes`.
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 16) { buffer, count in
            var length: UInt32 = 0
            var dummy: UInt8 = 0
            let ok = bytes.withUnsafeBytes { raw in
                withUnsafeMutablePointer(to: &dummy) { d -> Int32 in
                    EVP_Digest(raw.baseAddress ?? UnsafeRawPointer(d), raw.count, buffer.baseAddress, &length, EVP_md5(), nil)
                }
            }
            guard ok == 1, length == 16 else { libcryptoFatal("EVP_Digest(md5)") }
            count = 16
        }
    }

    /// The header's value: the digest in base64.
    public static func header(_ bytes: [UInt8]) -> String {
        Base64.encode(digest(bytes))
    }
}

/// Standard base64 with padding (RFC 4648 §4).
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let n = UInt32(bytes[index]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
