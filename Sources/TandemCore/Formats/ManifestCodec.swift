import Foundation
import TandemCodecs

/// Seals and opens snapshot manifests, format version 1:
///
/// ```
/// header  16 B   "TNDMSNAP" | version u16le | suite u8 (CryptoSuite.manifestCode) | 5 zero bytes
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
        writer.uint8(suite.manifestCode)
        writer.append([0, 0, 0, 0, 0])
        return writer.bytes
    }

    /// The stored bytes of `manifest`. Its JSON (5.6 MB for a 20,000-file tree) is written twice
    /// in pieces, once to count it and once into the compressor, never whole; the sealed body is
    /// written behind the header in the same buffer.
    public func seal(_ manifest: SnapshotManifest) throws -> [UInt8] {
        var size = 0
        try Self.writeJSON(manifest) { size += $0.count }
        let compressed = try zstd.compress(pledgedSize: size) { feed in
            try Self.writeJSON(manifest) { piece in try piece.withUnsafeBytes { try feed($0) } }
        }
        let head = header()
        return try compressed.withUnsafeBytes { try cipher.seal($0, associatedData: head + Array(tenant.utf8), after: head) }
    }

    /// The manifest's JSON (sorted keys, dates in milliseconds), byte for byte what `JSONEncoder`
    /// writes for the whole manifest, handed to `emit` in pieces of about `piece` bytes: the shell
    /// (everything but the tree's entries) from `JSONEncoder`, the entries from
    /// ``TreeEntryJSONWriter``.
    static func writeJSON(_ manifest: SnapshotManifest, piece: Int = 256 << 10, into emit: ([UInt8]) throws -> Void) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        var shell = manifest
        shell.tree = manifest.tree.map { _ in [] }
        let outer = Array(try encoder.encode(shell))
        // Quotes inside JSON strings are escaped, so this names the tree's key and nothing else.
        guard let tree = manifest.tree, !tree.isEmpty, let at = outer.firstRange(of: Array(#""tree":[]"#.utf8)) else {
            try emit(outer)
            return
        }
        var out = Array(outer[..<(at.upperBound - 1)])
        for (index, entry) in tree.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            if !TreeEntryJSONWriter.append(entry, to: &out) { out += try encoder.encode(entry) }
            if out.count >= piece {
                try emit(out)
                out.removeAll(keepingCapacity: true)
            }
        }
        out += outer[(at.upperBound - 1)...]
        try emit(out)
    }

    /// ``writeJSON(_:piece:into:)`` in one piece.
    static func json(_ manifest: SnapshotManifest, piece: Int = 256 << 10) throws -> Data {
        var json = Data()
        try writeJSON(manifest, piece: piece) { json.append(contentsOf: $0) }
        return json
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
