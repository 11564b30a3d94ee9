import TandemCodecs

/// The subkeys HKDF derives from a tenant's 256-bit master key.
///
/// Each has one job: the id-key keys chunk IDs (so equal content in two tenants has different
/// IDs), the data-key seals blobs and pack trailers, the manifest-key seals snapshot manifests,
/// and the gear seed makes the tenant's chunk boundaries its own.
public struct TenantKeys: Sendable {
    public let suite: CryptoSuite
    public let idKey: SecretKey
    public let dataKey: SecretKey
    public let manifestKey: SecretKey
    public let gear: GearTable

    /// Derives every subkey from `master` (32 bytes) with the suite's HKDF.
    public init(master: SecretKey, suite: CryptoSuite) throws {
        try suite.checkAvailable()
        self.suite = suite
        func derive(_ label: String, _ count: Int) throws -> SecretKey {
            try HKDF.derive(algorithm: suite.digest, inputKey: master, salt: Array("tandem-v1".utf8),
                            info: Array(label.utf8), count: count)
        }
        idKey = try derive("chunk-id", 32)
        dataKey = try derive("data", suite.cipherKeyLength)
        manifestKey = try derive("manifest", suite.cipherKeyLength)
        let gearSeed = try derive("gear", 32)
        gear = gearSeed.withUnsafeBytes { GearTable(seed: Array($0)) }
    }
}
