/// Where an NBD export listens: `unix:PATH` or `tcp:HOST:PORT` (port 0: any free one).
public enum NBDAddress: Sendable, Equatable, CustomStringConvertible {
    case unix(String)
    case tcp(host: String, port: Int)

    /// Parses `unix:PATH` or `tcp:HOST:PORT`; nil with anything else.
    public init?(_ text: String) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty, path.utf8.count < 108 else { return nil }
            self = .unix(path)
        } else if text.hasPrefix("tcp:"), let colon = text.lastIndex(of: ":"), colon > text.index(text.startIndex, offsetBy: 3) {
            let host = String(text[text.index(text.startIndex, offsetBy: 4)..<colon])
            guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
            self = .tcp(host: host.trimmingCharacters(in: ["[", "]"]), port: port)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix:\(path)"
        case .tcp(let host, let port): "tcp:\(host):\(port)"
        }
    }

    /// The NBD URI clients take (`nbdinfo`, `nbdcopy`, `qemu-img`), for the export `name`.
    public func uri(name: String = "") -> String {
        switch self {
        case .unix(let path): "nbd+unix:///\(name)?socket=\(path)"
        case .tcp(let host, let port): "nbd://\(host.contains(":") ? "[\(host)]" : host):\(port)/\(name)"
        }
    }
}
