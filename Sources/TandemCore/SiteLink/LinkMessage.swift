import Foundation

/// What travels in a site link frame's header. JSON, snake_case; fields are only added.
public enum LinkMessage: Sendable, Equatable {
    case hello(LinkHello)
    case welcome(LinkWelcome)
    case refuse(LinkRefusal)
    case heartbeat(LinkHeartbeat)
    case request(LinkRequest)
    case response(LinkResponse)

    public var kind: LinkFrame.Kind {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .refuse: .refuse
        case .heartbeat: .heartbeat
        case .request: .request
        case .response: .response
        }
    }

    /// The frame carrying this message and `body`.
    public func frame(body: [UInt8] = []) throws(LinkFrameError) -> LinkFrame {
        let encoder = ControlJSON.encoder()
        do {
            let header: Data
            switch self {
            case .hello(let m): header = try encoder.encode(m)
            case .welcome(let m): header = try encoder.encode(m)
            case .refuse(let m): header = try encoder.encode(m)
            case .heartbeat(let m): header = try encoder.encode(m)
            case .request(let m): header = try encoder.encode(m)
            case .response(let m): header = try encoder.encode(m)
            }
            return LinkFrame(kind: kind, header: Array(header), body: body)
        } catch {
            throw .malformedMessage("cannot encode a \(kind) header: \(error)")
        }
    }

    /// Decodes a frame's header; a header that is not the message its kind names is refused.
    public static func decode(_ frame: LinkFrame) throws(LinkFrameError) -> LinkMessage {
        let decoder = ControlJSON.decoder()
        let data = Data(frame.header)
        do {
            switch frame.kind {
            case .hello: return .hello(try decoder.decode(LinkHello.self, from: data))
            case .welcome: return .welcome(try decoder.decode(LinkWelcome.self, from: data))
            case .refuse: return .refuse(try decoder.decode(LinkRefusal.self, from: data))
            case .heartbeat: return .heartbeat(try decoder.decode(LinkHeartbeat.self, from: data))
            case .request: return .request(try decoder.decode(LinkRequest.self, from: data))
            case .response: return .response(try decoder.decode(LinkResponse.self, from: data))
            }
        } catch let error as LinkFrameError {
            throw error
        } catch {
            throw .malformedMessage("\(frame.kind) header: \(error)")
        }
    }
}

/// The first message on a connection, from the side that connected.
public struct LinkHello: Codable, Sendable, Equatable {
    public var site: String
    public var role: String
    /// Protocol versions this site speaks (inclusive).
    public var protocolMin: Int
    public var protocolMax: Int
    public var features: [String]
    /// `control` (heartbeats) or `bulk` (packs and manifests).
    public var channel: String
    /// Heartbeat/lease timing as `interval_ms/failover_after/lease_ms/drift_ms`: near sites must agree.
    public var safety: String

    public init(site: String, role: String, protocolMin: Int, protocolMax: Int, features: [String], channel: String, safety: String) {
        self.site = site
        self.role = role
        self.protocolMin = protocolMin
        self.protocolMax = protocolMax
        self.features = features
        self.channel = channel
        self.safety = safety
    }
}

/// The answer to an acceptable hello.
public struct LinkWelcome: Codable, Sendable, Equatable {
    public var site: String
    public var protocolVersion: Int
    public var features: [String]

    public init(site: String, protocolVersion: Int, features: [String]) {
        self.site = site
        self.protocolVersion = protocolVersion
        self.features = features
    }
}

/// Why a hello (or anything later) was refused; the connection closes after it.
public struct LinkRefusal: Codable, Sendable, Equatable, Error, CustomStringConvertible {
    /// `version`, `site_name`, `safety_settings`, `role`, `protocol`.
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// A heartbeat on the control connection.
public struct LinkHeartbeat: Codable, Sendable, Equatable {
    public var site: String
    public var sequence: UInt64

    public init(site: String, sequence: UInt64) {
        self.site = site
        self.sequence = sequence
    }
}

/// Name rules shared by both ends of a link.
public enum LinkNames {
    static let hex = Set("0123456789abcdef")

    public static func isHash(_ text: String) -> Bool { text.count == 64 && text.allSatisfy(hex.contains) }

    public static func isTenant(_ text: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        return (1...64).contains(text.count) && text.allSatisfy(allowed.contains) && !text.hasPrefix(".")
    }

    /// A site name as configs allow it: 1-64 of letters, digits, '.', '_' and '-'.
    public static func isSite(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    /// `tenant.json`, `keys/SLOT` or `snapshots/ID`, relative to the tenant's folder.
    public static func isTenantObject(_ path: String) -> Bool {
        if path == "tenant.json" { return true }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return false }
        switch parts[0] {
        case "snapshots": return isHash(parts[1])
        case "keys": return (1...64).contains(parts[1].count) && parts[1].allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" } && parts[1].allSatisfy(\.isASCII)
        default: return false
        }
    }
}
