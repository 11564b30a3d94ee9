import TandemCore

/// Why the daemon could not do something. The control API maps these to HTTP statuses and
/// ``TandemCore/ErrorResponse`` codes; the CLI maps those to exit codes.
public enum DaemonError: Error, Equatable, CustomStringConvertible {
    /// The caller may not do this (wrong tenant, not an operator).
    case forbidden(String)
    case notFound(String)
    case badRequest(String)
    /// The tenant's hard quota is reached; nothing was started.
    case quotaExceeded(String)
    /// Another run of the same source, or a conflicting job, is in progress.
    case busy(String)
    case io(String)
    /// The configuration did not validate.
    case config(String)
    /// Not possible at this site now (not active here, home already, the lease or the
    /// witness says no); nothing was changed.
    case refused(String)

    public var description: String {
        switch self {
        case .forbidden(let m), .notFound(let m), .badRequest(let m), .quotaExceeded(let m), .busy(let m), .io(let m),
             .config(let m), .refused(let m): m
        }
    }

    /// The control API's error code.
    public var code: ControlErrorCode {
        switch self {
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .badRequest: .badRequest
        case .quotaExceeded: .quotaExceeded
        case .busy: .busy
        case .io: .failed
        case .config: .invalidConfig
        case .refused: .refused
        }
    }
}
