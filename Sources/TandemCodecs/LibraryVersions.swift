import CLZ4
import CLibCrypto
import CZstd

/// Run-time versions of the C libraries this module is linked against.
public enum LibraryVersions {
    /// OpenSSL version string, e.g. `"OpenSSL 3.0.22 ..."`.
    public static var openssl: String {
        String(cString: OpenSSL_version(OPENSSL_VERSION))
    }

    /// zstd version string, e.g. `"1.5.4"`.
    public static var zstd: String {
        String(cString: ZSTD_versionString())
    }

    /// LZ4 version string, e.g. `"1.9.4"`.
    public static var lz4: String {
        String(cString: LZ4_versionString())
    }
}
