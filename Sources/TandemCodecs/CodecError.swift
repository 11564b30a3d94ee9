import CLibCrypto

/// Errors thrown by every codec in this module.
///
/// Cases carry only plain values (no C types), so the error can cross task
/// boundaries and be compared in tests.
public enum CodecError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An AEAD tag or MAC did not verify: the input was tampered with, the
    /// associated data differs, or the wrong key was used.
    case authenticationFailed
    /// A key had the wrong length for the algorithm.
    case invalidKeyLength(expected: Int, got: Int)
    /// The input is too short to contain the required framing.
    case truncatedInput(String)
    /// A compressed input could not be decoded.
    case decompressionFailed(String)
    /// A declared or requested size is above the allowed limit.
    case sizeLimitExceeded(limit: Int)
    /// libcrypto reported a failure; the message is drained from its error queue.
    case libcrypto(String)
    /// A compressor reported a failure.
    case compressionFailed(String)
    /// A parameter is outside the range the algorithm accepts.
    case invalidArgument(String)

    /// A human-readable description of the error.
    public var description: String {
        switch self {
        case .authenticationFailed:
            return "authentication failed"
        case let .invalidKeyLength(expected, got):
            return "invalid key length: expected \(expected) bytes, got \(got)"
        case let .truncatedInput(what):
            return "truncated input: \(what)"
        case let .decompressionFailed(what):
            return "decompression failed: \(what)"
        case let .sizeLimitExceeded(limit):
            return "size limit exceeded (limit \(limit) bytes)"
        case let .libcrypto(message):
            return "libcrypto error: \(message)"
        case let .compressionFailed(what):
            return "compression failed: \(what)"
        case let .invalidArgument(what):
            return "invalid argument: \(what)"
        }
    }

    /// Drains this thread's OpenSSL error queue into a `.libcrypto` error.
    ///
    /// - Parameter context: what was being attempted (prefixed to the message).
    static func libcryptoError(_ context: String) -> CodecError {
        .libcrypto(drainOpenSSLErrors(context))
    }
}

/// Pops every entry from the calling thread's OpenSSL error queue and joins
/// their texts. Returns `context` alone when the queue was empty.
func drainOpenSSLErrors(_ context: String) -> String {
    var messages: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        let text = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buf -> String in
            buf.initialize(repeating: 0)
            ERR_error_string_n(code, buf.baseAddress, buf.count)
            return String(cString: buf.baseAddress!)
        }
        messages.append(text)
    }
    if messages.isEmpty { return context }
    return context + ": " + messages.joined(separator: "; ")
}

/// Traps with the drained OpenSSL error text. Used only for failures that do
/// not depend on the input (allocation, a provider refusing a fixed call).
func libcryptoFatal(_ context: String, file: StaticString = #file, line: UInt = #line) -> Never {
    fatalError(drainOpenSSLErrors(context), file: file, line: line)
}
