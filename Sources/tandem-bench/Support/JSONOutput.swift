import Foundation

/// Writes one JSON document to stdout, keys in snake_case like tandemctl's `--json`.
enum JSONOutput {
    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try encoder.encode(value)
    }

    static func print(_ value: some Encodable) throws {
        FileHandle.standardOutput.write(try encode(value) + Data("\n".utf8))
    }
}

/// Progress and warnings go to stderr so that stdout stays one table or one JSON document.
enum Log {
    static func info(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

/// A benchmark that cannot go on; printed as `error: ...` with exit status 1.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
