import Foundation
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

/// The append-only, hash-chained audit log (`STATE/audit.log`, one JSON record per line).
/// Each append is written with one `write(2)` and fsynced before the action is reported done.
/// A crash mid-append leaves at most a torn last line, which is reported and never chained to.
public actor AuditLog {
    public let path: String
    private var last: AuditRecord?
    private let descriptor: Int32

    /// What reading the log found.
    public struct Contents: Sendable {
        public var records: [AuditRecord]
        /// Lines that are not records (a torn final line after a crash, or damage), by line number.
        public var unreadableLines: [Int]
    }

    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else {
            throw DaemonError.io("cannot open audit log \(path): \(String(cString: strerror(errno)))")
        }
        last = try Self.read(path: path).records.last
    }

    deinit { close(descriptor) }

    /// Appends one record and makes it durable.
    @discardableResult
    public func append(time: Date, actor: String, role: String, action: String, tenant: String?, detail: String,
                       result: String) throws -> AuditRecord {
        let record = AuditRecord(after: last, time: time, actor: actor, role: role, action: action, tenant: tenant,
                                 detail: detail, result: result)
        var line = try ControlJSON.encoder().encode(record)
        line.append(0x0A)
        let written = line.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count, fsync(descriptor) == 0 else {
            throw DaemonError.io("cannot append to audit log \(path): \(String(cString: strerror(errno)))")
        }
        last = record
        return record
    }

    /// Every record, oldest first.
    public static func read(path: String) throws -> Contents {
        guard let data = FileManager.default.contents(atPath: path) else { return Contents(records: [], unreadableLines: []) }
        let decoder = ControlJSON.decoder()
        var contents = Contents(records: [], unreadableLines: [])
        for (number, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            if let record = try? decoder.decode(AuditRecord.self, from: Data(line)) {
                contents.records.append(record)
            } else {
                contents.unreadableLines.append(number + 1)
            }
        }
        return contents
    }
}
