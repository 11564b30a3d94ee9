import Foundation

/// A parsed XML element: name (namespace prefix dropped), text, children. S3's answers are
/// small documents (listings, errors, upload IDs); they are parsed whole by this strict,
/// small parser rather than FoundationXML, whose callbacks trap on some malformed names
/// (found by the fuzz test). Size and depth are capped, DTDs and entities beyond XML's five
/// and numeric references are refused, so a hostile or broken endpoint cannot exhaust memory
/// or crash the process: it gets nil.
struct XMLNode: Sendable, Equatable {
    var name: String
    var text: String = ""
    var children: [XMLNode] = []

    func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }
    func all(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }
    func value(_ name: String) -> String? { child(name)?.text }

    static let maximumBytes = 16 << 20
    static let maximumDepth = 32

    /// Parses a document; nil for anything that is not well-formed XML within the limits.
    static func parse(_ bytes: [UInt8]) -> XMLNode? {
        guard !bytes.isEmpty, bytes.count <= maximumBytes, String(validating: bytes, as: UTF8.self) != nil else { return nil }
        var parser = XMLByteParser(bytes: bytes)
        return parser.document()
    }
}

/// The parser behind ``XMLNode/parse(_:)``: elements, attributes (skipped), text, CDATA,
/// comments, processing instructions; the five predefined entities and `&#N;`/`&#xN;`.
private struct XMLByteParser {
    let bytes: [UInt8]
    var at = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() -> XMLNode? {
        skipMisc()
        guard let root = element(depth: 0) else { return nil }
        skipMisc()
        return at == bytes.count ? root : nil
    }

    private func peek(_ text: String) -> Bool {
        let pattern = Array(text.utf8)
        return at + pattern.count <= bytes.count && Array(bytes[at..<at + pattern.count]) == pattern
    }

    private mutating func skipWhitespace() {
        while at < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[at]) { at += 1 }
    }

    /// Skips `marker ... end`; false if `end` never comes.
    private mutating func skip(past end: String) -> Bool {
        let pattern = Array(end.utf8)
        while at + pattern.count <= bytes.count {
            if Array(bytes[at..<at + pattern.count]) == pattern {
                at += pattern.count
                return true
            }
            at += 1
        }
        return false
    }

    /// Whitespace, comments and processing instructions between elements.
    private mutating func skipMisc() {
        while true {
            skipWhitespace()
            if peek("<?") { if !skip(past: "?>") { return } } else if peek("<!--") { if !skip(past: "-->") { return } } else { return }
        }
    }

    private mutating func name() -> String? {
        let start = at
        while at < bytes.count, !([0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ">"), UInt8(ascii: "/"), UInt8(ascii: "=")].contains(bytes[at])) {
            at += 1
        }
        guard at > start else { return nil }
        let full = String(decoding: bytes[start..<at], as: UTF8.self)
        return full.split(separator: ":").last.map(String.init)
    }

    private mutating func element(depth: Int) -> XMLNode? {
        guard depth < XMLNode.maximumDepth, peek("<"), !peek("<!"), !peek("</") else { return nil }
        at += 1
        guard let tag = name() else { return nil }
        // Attributes: name="value" or name='value', skipped.
        while true {
            skipWhitespace()
            guard at < bytes.count else { return nil }
            if peek("/>") {
                at += 2
                return XMLNode(name: tag)
            }
            if peek(">") {
                at += 1
                break
            }
            guard name() != nil else { return nil }
            skipWhitespace()
            guard peek("=") else { return nil }
            at += 1
            skipWhitespace()
            guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") || bytes[at] == UInt8(ascii: "'") else { return nil }
            let quote = bytes[at]
            at += 1
            while at < bytes.count, bytes[at] != quote { at += 1 }
            guard at < bytes.count else { return nil }
            at += 1
        }
        var node = XMLNode(name: tag)
        var text: [UInt8] = []
        while at < bytes.count {
            if peek("</") {
                at += 2
                guard let closing = name(), closing == tag else { return nil }
                skipWhitespace()
                guard peek(">") else { return nil }
                at += 1
                let decoded = String(decoding: text, as: UTF8.self)
                node.text = node.children.isEmpty ? decoded : decoded.trimmingCharacters(in: .whitespacesAndNewlines)
                return node
            } else if peek("<!--") {
                guard skip(past: "-->") else { return nil }
            } else if peek("<![CDATA[") {
                at += 9
                let start = at
                guard skip(past: "]]>") else { return nil }
                text += bytes[start..<at - 3]
            } else if peek("<?") {
                guard skip(past: "?>") else { return nil }
            } else if peek("<") {
                guard let child = element(depth: depth + 1) else { return nil }
                node.children.append(child)
            } else if bytes[at] == UInt8(ascii: "&") {
                guard let decoded = entity() else { return nil }
                text += decoded
            } else {
                text.append(bytes[at])
                at += 1
            }
        }
        return nil
    }

    private mutating func entity() -> [UInt8]? {
        guard let end = bytes[at...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else { return nil }
        let body = String(decoding: bytes[(at + 1)..<end], as: UTF8.self)
        at = end + 1
        switch body {
        case "amp": return [UInt8(ascii: "&")]
        case "lt": return [UInt8(ascii: "<")]
        case "gt": return [UInt8(ascii: ">")]
        case "quot": return [UInt8(ascii: "\"")]
        case "apos": return [UInt8(ascii: "'")]
        default:
            let value: UInt32?
            if body.hasPrefix("#x") { value = UInt32(body.dropFirst(2), radix: 16) } else if body.hasPrefix("#") { value = UInt32(body.dropFirst()) } else { value = nil }
            guard let value, value > 0, let scalar = Unicode.Scalar(value) else { return nil }
            return Array(String(Character(scalar)).utf8)
        }
    }
}

/// Escapes text for an XML element body.
func xmlEscape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
