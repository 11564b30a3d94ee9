import Foundation

/// Prints a test's measurement on standard error, not standard output: a test that captures
/// the process's standard output (a restore to stdout) must never receive another test's line.
public func report(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
