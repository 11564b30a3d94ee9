import Foundation
import TandemCore
import TandemPolicy

/// Fetches a tenant's key from its policy's key source, each time it is needed (a KMS may
/// rotate or revoke it; nothing is cached beyond the open repository handle).
enum KeyLoader {
    /// Why a key could not be had; says which tenant and which source.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func load(_ source: KeySource, tenant: String, timeout: TimeInterval = 60) async throws -> KeySecret {
        switch source {
        case .keyFile(let path):
            return .keyFile(try read(path, tenant: tenant, what: "key file"))
        case .passphraseFile(let path):
            var bytes = try read(path, tenant: tenant, what: "passphrase file")
            while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
            guard !bytes.isEmpty else { throw Failure(description: "tenant \(tenant): passphrase file \(path) is empty") }
            return .passphrase(bytes)
        case .command(let arguments):
            let child: ChildProcess
            do { child = try ChildProcess(arguments, environment: ["TANDEM_TENANT": tenant], output: .capture) } catch {
                throw Failure(description: "tenant \(tenant): key_command: \(error)")
            }
            do {
                try await child.expectSuccess(timeout: timeout)
            } catch let error as ChildProcess.Failure {
                throw Failure(description: "tenant \(tenant): key_command \(error.description.dropFirst(0))")
            }
            let bytes = child.capturedOutput(limit: 64 << 10)
            guard !bytes.isEmpty else { throw Failure(description: "tenant \(tenant): key_command printed nothing") }
            return .keyFile(bytes)
        }
    }

    private static func read(_ path: String, tenant: String, what: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            let why = access(path, F_OK) == 0 ? "not readable by the daemon" : "does not exist"
            throw Failure(description: "tenant \(tenant): \(what) \(path) \(why)")
        }
        return Array(data)
    }
}
