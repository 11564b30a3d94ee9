import Foundation
import TandemCodecs

/// Seals and opens snapshot manifests, format version 1:
///
/// ```
/// header  16 B   "TNDMSNAP" | version u16le | suite u8 | 5 zero bytes
/// body           AEAD(manifest key, AD = header | tenant name) of zstd(JSON manifest)
/// ```
/// The tenant name in the associated data stops a manifest being moved to another tenant.
public final class ManifestCodec {
    public static let version: UInt16 = 1
    public static let supportedVersions = 1...1
    public static let magic = Array("TNDMSNAP".utf8)
    /// A manifest that would decompress to more than this is refused.
    public static let maximumPlainSize = 1 << 30

    private let suite: CryptoSuite
    private let cipher: any AEADCipher
    private let tenant: String
    private let zstd = ZstdCodec(level: 3)

    public init(keys: TenantKeys, tenant: String) throws {
        suite = keys.suite
        cipher = try keys.suite.makeCipher(key: keys.manifestKey)
        self.tenant = tenant
    }

    private func header() -> [UInt8] {
        var writer = ByteWriter(capacity: 16)
        writer.append(Self.magic)
        writer.uint16(Self.version)
        writer.uint8(suite == .aes256gcm ? 1 : 2)
        writer.append([0, 0, 0, 0, 0])
        return writer.bytes
    }

    /// The stored bytes of `manifest`.
    public func seal(_ manifest: SnapshotManifest) throws -> [UInt8] {
        // A 20,000-file tree is 5.6 MB of JSON; it is freed once compressed, and the sealed body
        // is written behind the header in the same buffer.
        let compressed = try Self.json(manifest).withUnsafeBytes { try zstd.compressOnce($0) }
        let head = header()
        return try compressed.withUnsafeBytes { try cipher.seal($0, associatedData: head + Array(tenant.utf8), after: head) }
    }

    /// The manifest's JSON (sorted keys, dates in milliseconds). A tree is encoded a slice of
    /// entries at a time into the bytes of the rest: the same bytes as encoding it whole, but
    /// Foundation's encoder holds only one slice's value tree at once, not 20,000 entries' (the
    /// largest transient of a tree backup).
    static func json(_ manifest: SnapshotManifest, slice: Int = 512) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        guard let tree = manifest.tree, tree.count > slice else { return try encoder.encode(manifest) }
        var shell = manifest
        shell.tree = []
        let outer = try encoder.encode(shell)
        // Quotes inside JSON strings are escaped, so this names the tree's key and nothing else.
        guard let at = outer.firstRange(of: Data(#""tree":[]"#.utf8)) else { return try encoder.encode(manifest) }
        var out = Data(capacity: outer.count + tree.count * 256)
        out.append(outer[..<(at.upperBound - 1)])
        var start = 0
        while start < tree.count {
            let end = min(start + slice, tree.count)
            let part = try encoder.encode(Array(tree[start..<end]))
            if start > 0 { out.append(UInt8(ascii: ",")) }
            out.append(part.dropFirst().dropLast())
            start = end
        }
        out.append(outer[(at.upperBound - 1)...])
        return out
    }

    /// Decodes a manifest's JSON (``ManifestJSONReader`` does it a slice of entries at a time).
    static func manifest(fromJSON json: [UInt8], slice: Int = 512) throws -> SnapshotManifest {
        var reader = ManifestJSONReader(slice: slice)
        try reader.feed(json)
        return try reader.finish()
    }

    /// Opens stored bytes; throws ``FormatError`` for anything not authentic or not well-formed.
    public func open(_ bytes: [UInt8]) throws(FormatError) -> SnapshotManifest {
        var reader = ByteReader(bytes, what: "snapshot")
        guard Array(try reader.take(8)) == Self.magic else { throw .badMagic("snapshot") }
        let found = Int(try reader.uint16())
        guard Self.supportedVersions.contains(found) else {
            throw .unsupportedVersion("snapshot", found: found, supported: Self.supportedVersions)
        }
        guard bytes.count > 16 else { throw .truncated("snapshot") }
        let head = Array(bytes[0..<16])
        let compressed: [UInt8]
        do {
            compressed = try bytes.withUnsafeBytes {
                try cipher.open(UnsafeRawBufferPointer(rebasing: $0[16...]), associatedData: head + Array(tenant.utf8))
            }
        } catch {
            throw .authenticationFailed("snapshot")
        }
        do {
            // The JSON is decoded as it is decompressed: a 20,000-file tree's 5.6 MB of JSON
            // is never held at once.
            var reader = ManifestJSONReader()
            try compressed.withUnsafeBytes { frame in
                try zstd.decompress(frame, maxSize: Self.maximumPlainSize) { try reader.feed($0) }
            }
            let manifest = try reader.finish()
            guard manifest.tenant == tenant else { throw FormatError.corrupt("snapshot", "names tenant \(manifest.tenant)") }
            return manifest
        } catch let error as FormatError {
            throw error
        } catch {
            throw .corrupt("snapshot", "authentic but does not decode: \(error)")
        }
    }
}
