import Foundation
import TandemPolicy
#if canImport(Glibc)
import Glibc
#endif

/// Who a control request comes from, decided by the peer's uid: root, the configured
/// operator uids and members of the operators group may do everything; a uid mapped to
/// tenants (by uid or group in their policies) sees and acts on those tenants only; anyone
/// else is refused.
public struct Caller: Sendable, Equatable {
    public enum Role: Sendable, Equatable {
        case operator_
        case tenant(Set<String>)
        case nobody
    }

    public let uid: UInt32
    public let name: String?
    public let role: Role

    /// `uid:1001(alice)`, for logs and the audit log.
    public var actor: String { "uid:\(uid)" + (name.map { "(\($0))" } ?? "") }

    public var roleName: String {
        switch role {
        case .operator_: "operator"
        case .tenant: "tenant"
        case .nobody: "none"
        }
    }

    public func may(actOn tenant: String) -> Bool {
        switch role {
        case .operator_: true
        case .tenant(let names): names.contains(tenant)
        case .nobody: false
        }
    }

    public var isOperator: Bool { role == .operator_ }

    /// Resolves a peer's role against the configuration.
    public static func resolve(peer: PeerCredentials, policies: PolicySet) -> Caller {
        let uid = peer.uid
        let user = UserDatabase.name(of: uid)
        let groups = UserDatabase.groups(of: uid, user: user, primary: peer.gid)
        if uid == 0 || policies.site.operatorUIDs.contains(uid) || policies.site.operatorsGroup.map(groups.contains) == true {
            return Caller(uid: uid, name: user, role: .operator_)
        }
        let tenants = policies.tenants.filter { policy in
            policy.access.uids.contains(uid) || policy.access.groups.contains(where: groups.contains)
        }.map(\.tenant)
        return Caller(uid: uid, name: user, role: tenants.isEmpty ? .nobody : .tenant(Set(tenants)))
    }
}

/// Looks users and groups up in the system databases (NSS).
enum UserDatabase {
    static func name(of uid: UInt32) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name else { return nil }
        return String(cString: name)
    }

    /// Names of the groups `uid` belongs to (its primary group and supplementary ones).
    static func groups(of uid: UInt32, user: String?, primary: UInt32) -> Set<String> {
        var gids: [gid_t] = [primary]
        if let user {
            var count: Int32 = 64
            var list = [gid_t](repeating: 0, count: Int(count))
            if getgrouplist(user, primary, &list, &count) == -1 {
                list = [gid_t](repeating: 0, count: Int(count))
                _ = getgrouplist(user, primary, &list, &count)
            }
            gids += list.prefix(Int(max(0, count)))
        }
        return Set(gids.compactMap(groupName))
    }

    static func groupName(_ gid: gid_t) -> String? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getgrgid_r(gid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.gr_name else { return nil }
        return String(cString: name)
    }
}
