import Foundation

/// What tandemd serves for an ``ExportRequest``.
public enum ExportKind: String, Codable, Sendable, CaseIterable {
    /// One image snapshot over NBD (`tandemctl serve`).
    case nbd
    /// Every snapshot of the tenant to `tandemctl mount`, which mounts them through FUSE as the
    /// caller (``MountWire`` frames).
    case mount
}

/// `POST /v1/tenants/T/exports`: serve T's snapshots from tandemd on a Unix socket that admits
/// only the caller's uid (and root), for as long as the control connection that asked stays open.
public struct ExportRequest: Codable, Sendable, Equatable {
    /// Absent: `nbd` (older clients).
    public var kind: ExportKind?
    /// For `nbd`: a snapshot ID, a unique prefix, or `latest`. A mount takes none.
    public var snapshot: String?

    public init(kind: ExportKind = .nbd, snapshot: String? = nil) {
        self.kind = kind
        self.snapshot = snapshot
    }
}

/// One export tandemd serves: the answer to ``ExportRequest`` and an item of
/// ``StatusResponse/exports``.
public struct ExportInfo: Codable, Sendable, Equatable {
    /// Names the export in status and in the audit log (12 hex digits).
    public var id: String
    public var kind: ExportKind
    public var tenant: String
    /// The snapshot an `nbd` export serves.
    public var snapshotId: String?
    /// The image's size in bytes (`nbd`).
    public var size: Int64?
    /// The Unix socket clients connect to; tandemd admits only ``ownerUid`` and root on it
    /// (by the connecting process's uid, as on the control socket).
    public var socket: String
    /// The NBD URI clients take (`nbdinfo`, `nbdcopy`, `qemu-img`), for an `nbd` export.
    public var uri: String?
    /// The uid that asked and alone (with root) may connect.
    public var ownerUid: UInt32
    /// Who asked, as the audit log names them (`uid:1001(alice)`).
    public var actor: String
    public var startedAt: Date

    public init(id: String, kind: ExportKind, tenant: String, snapshotId: String?, size: Int64?, socket: String, uri: String?,
                ownerUid: UInt32, actor: String, startedAt: Date) {
        self.id = id
        self.kind = kind
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
