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
        let json = try Self.json(manifest)
        let compressed = try json.withUnsafeBytes { try zstd.compress($0) }
        let head = header()
        return head + (try cipher.seal(compressed, associatedData: head + Array(tenant.utf8)))
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

    /// Decodes a manifest's JSON. A large tree is decoded a slice of entries at a time: the
    /// shell with `"tree":[]`, then the array's elements, split where a top-level comma stands.
    /// Foundation's decoder first builds a map of the whole document, about three times its
    /// size (for a 20,000-file tree the largest transient of a re-backup, which reads its parent);
    /// per slice the map stays small. JSON this does not recognise is decoded whole.
    static func manifest(fromJSON json: [UInt8], slice: Int = 512) throws -> SnapshotManifest {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        guard let (open, close) = treeArray(in: json), close > open + 1 else {
            return try decoder.decode(SnapshotManifest.self, from: Data(json))
        }
        var manifest = try decoder.decode(SnapshotManifest.self, from: Data(json[...open] + json[close...]))
        var entries: [TreeEntry] = []
        var depth = 0, inString = false, escaped = false, count = 0
        var start = open + 1
        func flush(_ end: Int) throws {
            guard end > start else { return }
            entries += try decoder.decode([TreeEntry].self, from: Data([UInt8(ascii: "[")] + json[start..<end] + [UInt8(ascii: "]")]))
        }
        for index in (open + 1)..<close {
            let byte = json[index]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: ",") where depth == 0:
                count += 1
                if count == slice {
                    try flush(index)
                    start = index + 1
                    count = 0
                }
            default: break
            }
        }
        try flush(close)
        manifest.tree = entries
        return manifest
    }

    /// Where the top-level `"tree":[` array opens and closes (the brackets' offsets), or nil.
    static func treeArray(in json: [UInt8]) -> (open: Int, close: Int)? {
        let key = Array(#""tree":["#.utf8)
        var depth = 0, inString = false, escaped = false
        var open: Int?
        var index = 0
        while index < json.count {
            let byte = json[index]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                index += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                if open == nil, depth == 1, json.count - index >= key.count, json[index ..< index + key.count].elementsEqual(key) {
                    open = index + key.count - 1
                    depth += 1
                    index += key.count
                    continue
                }
                inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if let open, depth == 1 { return (open, index) }
            default: break
            }
            index += 1
        }
        return nil
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
            compressed = try cipher.open(Array(bytes[16...]), associatedData: head + Array(tenant.utf8))
        } catch {
            throw .authenticationFailed("snapshot")
        }
        do {
            let json = try compressed.withUnsafeBytes { try zstd.decompress($0, maxSize: Self.maximumPlainSize) }
            let manifest = try Self.manifest(fromJSON: json)
            guard manifest.tenant == tenant else { throw FormatError.corrupt("snapshot", "names tenant \(manifest.tenant)") }
            return manifest
        } catch let error as FormatError {
            throw error
        } catch {
            throw .corrupt("snapshot", "authentic but does not decode: \(error)")
        }
    }
}
