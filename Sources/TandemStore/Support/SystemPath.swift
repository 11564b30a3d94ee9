import TandemCore

/// Paths handed to the kernel. A name in a tree manifest may carry bytes that are not UTF-8
/// (``FileNameBytes``); Swift's implicit String-to-C-string bridge would send their escapes as
/// UTF-8 instead, naming another file. Every system call on a source or restore path goes
/// through here.
enum SystemPath {
    static func withC<Result>(_ path: String, _ body: (UnsafePointer<CChar>) throws -> Result) rethrows -> Result {
        var bytes = FileNameBytes.bytes(path)
        bytes.append(0)
        return try bytes.withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }
}
