/// A configuration problem, located: the file, the line and column, and the field's path
/// (`schedules[1].cron`). Its description is what `policy validate` prints and what the daemon
/// logs when it refuses a reload.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public let file: String
    /// 1-based; 0 when the problem is about the file as a whole.
    public let line: Int
    public let column: Int
    /// Dotted path of the field, empty for the document itself.
    public let field: String
    public let message: String

    public init(file: String, line: Int, column: Int, field: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.message = message
    }

    public var description: String {
        let place = line > 0 ? "\(file):\(line):\(column)" : file
        return field.isEmpty ? "\(place): \(message)" : "\(place): \(field): \(message)"
    }
}

/// Every problem found in a configuration, in file order; validation reports them all at once
/// rather than stopping at the first.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public let errors: [ConfigError]

    public init(_ errors: [ConfigError]) { self.errors = errors }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
