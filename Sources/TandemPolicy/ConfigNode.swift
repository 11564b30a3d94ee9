import Foundation
import Yams

/// A YAML node with its place in the file, read strictly: every accessor checks the type and
/// records a located ``ConfigError`` instead of guessing. Mappings track which keys were read,
/// so `finish()` can report unknown keys (a misspelt `keep_dialy` is an error, not a no-op).
final class ConfigNode {
    let node: Node
    let field: String
    let context: ConfigContext

    init(_ node: Node, field: String, context: ConfigContext) {
        self.node = node
        self.field = field
        self.context = context
    }

    var line: Int { (node.mark?.line ?? 0) }
    var column: Int { (node.mark?.column ?? 0) }

    func fail(_ message: String) {
        context.report(ConfigError(file: context.file, line: line, column: column, field: field, message: message))
    }

    private func child(_ key: String) -> String { field.isEmpty ? key : "\(field).\(key)" }

    // MARK: Scalars

    var isNull: Bool {
        if case .scalar(let scalar) = node { return scalar.tag == Tag(.null) || (scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)) }
        return false
    }

    func string() -> String? {
        guard case .scalar(let scalar) = node, !isNull else {
            fail("expected a string, found \(kindName)")
            return nil
        }
        return scalar.string
    }

    func int(in range: ClosedRange<Int>? = nil) -> Int? {
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = Int(scalar.string) else {
            fail("expected a whole number, found \(describeValue)")
            return nil
        }
        if let range, !range.contains(value) {
            fail("\(value) is out of range \(range.lowerBound)-\(range.upperBound)")
            return nil
        }
        return value
    }

    func bool() -> Bool? {
        guard case .scalar(let scalar) = node, scalar.style == .plain else {
            fail("expected true or false, found \(describeValue)")
            return nil
        }
        switch scalar.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            fail("expected true or false, found \(describeValue)")
            return nil
        }
    }

    /// A string converted by `parse`; a thrown error's description becomes the message.
    func parsed<T>(_ parse: (String) throws -> T) -> T? {
        guard let text = string() else { return nil }
        do { return try parse(text) } catch {
            fail("\(error)")
            return nil
        }
    }

    /// One of `choices`, with the choices listed on error.
    func choice(_ choices: [String]) -> String? {
        guard let text = string() else { return nil }
        guard choices.contains(text) else {
            fail("'\(text)' is not one of: \(choices.joined(separator: ", "))")
            return nil
        }
        return text
    }

    // MARK: Collections

    func list() -> [ConfigNode]? {
        guard case .sequence(let sequence) = node else {
            fail("expected a list, found \(kindName)")
            return nil
        }
        return sequence.enumerated().map { ConfigNode($1, field: "\(field)[\($0)]", context: context) }
    }

    /// A string or a list of strings (a list is what most fields accept; one value is allowed).
    func strings() -> [String]? {
        if case .scalar = node { return string().map { [$0] } }
        guard let items = list() else { return nil }
        let values = items.compactMap { $0.string() }
        return values.count == items.count ? values : nil
    }

    func mapping(_ allowed: [String]) -> ConfigMapping? {
        guard case .mapping(let mapping) = node else {
            fail("expected a mapping of keys to values, found \(kindName)")
            return nil
        }
        var entries: [(key: String, node: Node, keyNode: Node)] = []
        var seen = Set<String>()
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                ConfigNode(key, field: field, context: context).fail("keys must be plain strings")
                continue
            }
            if !seen.insert(scalar.string).inserted {
                ConfigNode(key, field: child(scalar.string), context: context).fail("duplicate key '\(scalar.string)'")
                continue
            }
            if !allowed.contains(scalar.string) {
                let hint = nearest(scalar.string, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""
                ConfigNode(key, field: child(scalar.string), context: context)
                    .fail("unknown key '\(scalar.string)'\(hint); expected one of: \(allowed.joined(separator: ", "))")
                continue
            }
            entries.append((scalar.string, value, key))
        }
        return ConfigMapping(owner: self, entries: entries)
    }

    fileprivate func makeChild(_ key: String, _ node: Node) -> ConfigNode { ConfigNode(node, field: child(key), context: context) }

    private var kindName: String {
        switch node {
        case .scalar: isNull ? "nothing" : "a value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    private var describeValue: String {
        if case .scalar(let scalar) = node, !isNull { return "'\(scalar.string)'" }
        return kindName
    }
}

/// The keys of one mapping, read by name.
struct ConfigMapping {
    let owner: ConfigNode
    let entries: [(key: String, node: Node, keyNode: Node)]

    subscript(_ key: String) -> ConfigNode? {
        entries.first { $0.key == key }.map { owner.makeChild(key, $0.node) }
    }

    /// A key that must be present; reported at the mapping when missing.
    func required(_ key: String) -> ConfigNode? {
        guard let node = self[key] else {
            owner.fail("missing required key '\(key)'")
            return nil
        }
        return node
    }

    var keys: [String] { entries.map(\.key) }
}

/// Collects the errors of one file.
final class ConfigContext {
    let file: String
    private(set) var errors: [ConfigError] = []

    init(file: String) { self.file = file }

    func report(_ error: ConfigError) { errors.append(error) }

    /// Parses YAML text into a root node, or records the parser's own located error.
    func root(_ text: String) -> ConfigNode? {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                report(ConfigError(file: file, line: 1, column: 1, field: "", message: "the file is empty"))
                return nil
            }
            return ConfigNode(node, field: "", context: self)
        } catch let error as YamlError {
            report(Self.locate(error, file: file, text: text))
            return nil
        } catch {
            report(ConfigError(file: file, line: 1, column: 1, field: "", message: "not valid YAML: \(error)"))
            return nil
        }
    }

    /// A YAML error at its line and column (libyaml's mark, or found in the text), with
    /// libyaml's words but never the whole file.
    static func locate(_ error: YamlError, file: String, text: String) -> ConfigError {
        func at(_ line: Int, _ column: Int, _ message: String, field: String = "") -> ConfigError {
            ConfigError(file: file, line: max(line, 1), column: max(column, 1), field: field, message: message)
        }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let what = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
            return at(mark.line, mark.column, "not valid YAML: \(what)")
        case .reader(let problem, let offset, _, _):
            let (line, column) = offset.map { position(ofCharacter: $0, in: text) } ?? (1, 1)
            return at(line, column, "not valid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.sorted().first ?? ""
            let (first, second) = duplicateLines(of: key, in: text, mappingAt: context.mark)
            return at(second?.line ?? context.mark.line, second?.column ?? context.mark.column,
                      "duplicate key '\(key)'" + (first.map { " (first at line \($0.line))" } ?? ""), field: key)
        default:
            return at(1, 1, "not valid YAML: \(error)")
        }
    }

    /// Line and column (1-based) of the character `offset` characters into `text`.
    static func position(ofCharacter offset: Int, in text: String) -> (Int, Int) {
        var line = 1
        var column = 1
        for character in text.prefix(offset) {
            if character == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return (line, column)
    }

    /// Where `key` is written as a key at the indentation of the mapping that starts at
    /// `mark`: its first and second places (libyaml names only the mapping).
    static func duplicateLines(of key: String, in text: String, mappingAt mark: Mark) -> (first: (line: Int, column: Int)?, second: (line: Int, column: Int)?) {
        var found: [(line: Int, column: Int)] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where index + 1 >= mark.line {
            var line = Substring(raw)
            var column = 1
            // A mapping that is a list item starts after "- ".
            while let first = line.first, first == " " || first == "-" {
                line = line.dropFirst()
                column += 1
            }
            let quoted = ["\(key):", "\"\(key)\":", "'\(key)':"]
            if column == mark.column, quoted.contains(where: { line.hasPrefix($0) }) {
                found.append((index + 1, column))
                if found.count == 2 { break }
            }
        }
        return (found.first, found.count > 1 ? found[1] : nil)
    }
}

/// The allowed key closest to a misspelt one (edit distance at most 2), for a hint.
func nearest(_ word: String, in candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
    let scored = candidates.map { ($0, distance(Array(word), Array($0))) }.filter { $0.1 <= 2 }
    return scored.min { $0.1 < $1.1 }?.0
}
