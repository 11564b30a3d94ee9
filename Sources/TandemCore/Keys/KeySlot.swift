import Foundation
import TandemCodecs

/// What unlocks a key slot.
public enum KeySlotKind: String, Sendable, Codable {
    /// A passphrase stretched with the slot's ``KeySlot/kdf`` (scrypt, or PBKDF2-HMAC-SM3).
    case passphrase
    /// The contents of a key file (at least 32 bytes), through HKDF.
    case keyFile = "key-file"
}

/// One way to unlock a tenant's master key: the master key sealed under a key-encryption key
/// (KEK) derived from a passphrase or key file. Adding or removing a slot never touches data.
public struct KeySlot: Sendable, Codable, Equatable {
    public var id: String
    public var kind: KeySlotKind
    /// Hex salt of the KEK derivation.
    public var salt: String
    /// How the passphrase is stretched (passphrase slots); absent means scrypt, as in slots
    /// written before PBKDF2-HMAC-SM3 existed.
    public var kdf: PassphraseKDF?
    /// PBKDF2 iterations (PBKDF2-HMAC-SM3 slots).
    public var iterations: UInt64?
    /// scrypt cost parameters (scrypt slots).
    public var scryptN: UInt64?
    public var scryptR: UInt64?
    public var scryptP: UInt64?
    /// Hex of the sealed master key.
    public var wrappedKey: String
    public var createdAt: Date
    public var comment: String?
}

/// A secret offered to unlock a slot.
public enum KeySecret: Sendable {
    case passphrase([UInt8])
    case keyFile([UInt8])

    var kind: KeySlotKind {
        switch self {
        case .passphrase: .passphrase
        case .keyFile: .keyFile
        }
    }
}

/// Why a key slot could not be made or opened.
public enum KeySlotError: Error, Equatable, CustomStringConvertible {
    case wrongKey
    case keyFileTooShort(Int)
    case emptyPassphrase
    case malformed(String)

    public var description: String {
        switch self {
        case .wrongKey: "no key slot opens with the given passphrase or key file"
        case .keyFileTooShort(let n): "key file has \(n) bytes; at least 32 are required"
        case .emptyPassphrase: "the passphrase is empty"
        case .malformed(let id): "key slot \(id) is malformed"
        }
    }
}

/// Wraps and unwraps master keys in ``KeySlot``s.
public enum KeyWrapping {
    /// scrypt N = 2^15, r = 8, p = 1: 32 MiB and about 0.1 s per unlock on the reference machine.
    public static let scryptN: UInt64 = 1 << 15
    /// PBKDF2-HMAC-SM3 iterations of new SM slots: about 0.15 s per unlock on the reference
    /// machine (libgcrypt, one core). PBKDF2 is not memory-hard as scrypt is; the GM suite
    /// trades that for keys that rest on GM primitives alone, so choose long passphrases.
    public static let pbkdf2Iterations: UInt64 = 300_000
    /// What an opened slot may ask for: below, a typo'd slot; above, minutes per unlock.
    public static let pbkdf2IterationRange: ClosedRange<UInt64> = 10_000...100_000_000
    public static let scryptR: UInt64 = 8
    public static let scryptP: UInt64 = 1

    /// Seals `master` into a new slot for `secret`.
    public static func wrap(master: SecretKey, secret: KeySecret, suite: CryptoSuite, tenant: String,
                            createdAt: Date, comment: String? = nil) throws -> KeySlot {
        let id = Hex.encode(SecureRandom.bytes(4))
        let salt = SecureRandom.bytes(32)
        var slot = KeySlot(id: id, kind: secret.kind, salt: Hex.encode(salt), wrappedKey: "", createdAt: createdAt, comment: comment)
        if case .passphrase = secret {
            switch suite.passphraseKDF {
            case .scrypt:
                slot.scryptN = scryptN
                slot.scryptR = scryptR
                slot.scryptP = scryptP
            case .pbkdf2HMACSM3:
                slot.kdf = .pbkdf2HMACSM3
                slot.iterations = pbkdf2Iterations
            }
        }
        let kek = try keyEncryptionKey(slot: slot, secret: secret, suite: suite)
        let cipher = try suite.makeCipher(key: kek)
        let sealed = try master.withUnsafeBytes { try cipher.seal($0, associatedData: associatedData(tenant: tenant, slotID: id)) }
        slot.wrappedKey = Hex.encode(sealed)
        return slot
    }

    /// The master key in `slot`, if `secret` opens it; ``KeySlotError/wrongKey`` otherwise.
    public static func unwrap(slot: KeySlot, secret: KeySecret, suite: CryptoSuite, tenant: String) throws -> SecretKey {
        guard slot.kind == secret.kind else { throw KeySlotError.wrongKey }
        guard let sealed = Hex.decode(slot.wrappedKey) else { throw KeySlotError.malformed(slot.id) }
        let kek = try keyEncryptionKey(slot: slot, secret: secret, suite: suite)
        let cipher = try suite.makeCipher(key: kek)
        do {
            let master = try cipher.open(sealed, associatedData: associatedData(tenant: tenant, slotID: slot.id))
            guard master.count == 32 else { throw KeySlotError.malformed(slot.id) }
            return SecretKey(bytes: master)
        } catch is KeySlotError {
            throw KeySlotError.malformed(slot.id)
        } catch {
            throw KeySlotError.wrongKey
        }
    }

    static func associatedData(tenant: String, slotID: String) -> [UInt8] {
        Array("TNDMKEY1".utf8) + Array(tenant.utf8) + [0] + Array(slotID.utf8)
    }

    static func keyEncryptionKey(slot: KeySlot, secret: KeySecret, suite: CryptoSuite) throws -> SecretKey {
        guard let salt = Hex.decode(slot.salt) else { throw KeySlotError.malformed(slot.id) }
        switch secret {
        case .passphrase(let bytes):
            guard !bytes.isEmpty else { throw KeySlotError.emptyPassphrase }
            if slot.kdf == .pbkdf2HMACSM3 {
                guard let iterations = slot.iterations, pbkdf2IterationRange.contains(iterations) else {
                    throw KeySlotError.malformed(slot.id)
                }
                return try PBKDF2.derive(algorithm: .sm3, passphrase: bytes, salt: salt, iterations: iterations,
                                         count: suite.cipherKeyLength)
            }
            guard let n = slot.scryptN, let r = slot.scryptR, let p = slot.scryptP,
                  n >= 1 << 10, n <= 1 << 22, n & (n - 1) == 0, (1...32).contains(r), (1...16).contains(p) else {
                throw KeySlotError.malformed(slot.id)
            }
            return try Scrypt.derive(passphrase: bytes, salt: salt, n: n, r: r, p: p, count: suite.cipherKeyLength)
        case .keyFile(let bytes):
            guard bytes.count >= 32 else { throw KeySlotError.keyFileTooShort(bytes.count) }
            return try HKDF.derive(algorithm: suite.digest, inputKey: SecretKey(bytes: bytes), salt: salt,
                                   info: Array("tandem key file".utf8), count: suite.cipherKeyLength)
        }
    }
}
