import Foundation

/// `POST /v1/tenants/T/exports`: serve one image snapshot of T over NBD from tandemd, on a
/// Unix socket only the caller may open, for as long as the control connection that asked
/// stays open.
public struct ExportRequest: Codable, Sendable, Equatable {
    /// A snapshot ID, a unique prefix, or `latest`.
    public var snapshot: String

    public init(snapshot: String) {
        self.snapshot = snapshot
    }
}

/// One snapshot tandemd serves: the answer to ``ExportRequest`` and an item of
/// ``StatusResponse/exports``.
public struct ExportInfo: Codable, Sendable, Equatable {
    /// Names the export in status and in the audit log (12 hex digits).
    public var id: String
    public var tenant: String
    public var snapshotId: String
    /// The image's size in bytes.
    public var size: Int64
    /// The Unix socket NBD clients connect to; tandemd admits only ``ownerUid`` and root on it
    /// (by the connecting process's uid, as on the control socket).
    public var socket: String
    /// The NBD URI clients take (`nbdinfo`, `nbdcopy`, `qemu-img`).
    public var uri: String
    /// The uid that asked and alone (with root) may connect.
    public var ownerUid: UInt32
    /// Who asked, as the audit log names them (`uid:1001(alice)`).
    public var actor: String
    public var startedAt: Date

    public init(id: String, tenant: String, snapshotId: String, size: Int64, socket: String, uri: String,
                ownerUid: UInt32, actor: String, startedAt: Date) {
        self.id = id
        self.tenant = tenant
        self.snapshotId = snapshotId
        self.size = size
        self.socket = socket
        self.uri = uri
        self.ownerUid = ownerUid
        self.actor = actor
        self.startedAt = startedAt
    }
}
