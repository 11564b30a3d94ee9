import ArgumentParser
import Foundation
import TandemCodecs
import TandemCore
import TandemMount
import TandemS3
import TandemStore

/// Maps every error to one line on stderr and a distinct exit status (listed in `tandemctl --help`).
enum Failure {
    static func exitCode(for error: any Error) -> Int32 {
        switch error {
        case let error as RepositoryError:
            switch error {
            case .damaged: 3
            case .notARepository, .unknownTenant, .snapshotNotFound, .sourceUnreadable, .keySlotNotFound: 5
            case .alreadyInitialized, .tenantExists, .targetExists, .targetNotAFile, .lastKeySlot, .ambiguousSnapshot, .notAStream, .notAnImage, .notATree: 9
            case .invalidTenantName, .invalidExclude: 64
            case .targetUnwritable, .permissionDenied: 7
            }
        case let error as FormatError:
            if case .unsupportedVersion = error { 6 } else { 3 }
        case is BlobError, is IndexCorruption: 3
        case is CryptoSuiteUnavailable: 6
        case let error as MountError:
            if case .badMountPoint = error { 9 } else { 7 }
        case let error as KeySlotError:
            error == .wrongKey ? 4 : 9
        case let error as BackendError:
            switch error {
            case .notFound: 5
            case .locked: 8
            case .alreadyExists: 9
            case .shortRead: 3
            case .noSpace, .permissionDenied, .io: 7
            }
        case is ChunkerParameterError, is CompressionParseError, is RetentionError, is ValidationError, is S3AddressError: 64
        case is CancellationError: 130
        case let error as DaemonCallError:
            switch error {
            case .unreachable, .ended: 10
            case .malformed: 1
            case .refused(_, let answer):
                switch answer.code {
                case .forbidden?, .refused?: 11
                case .notFound?: 5
                case .quotaExceeded?: 12
                case .busy?: 8
                case .badRequest?: 64
                case .invalidConfig?: 2
                case .conflict?: 9
                case .failed?, nil: 1
                }
            }
        default: 1
        }
    }

    /// Runs a command body; on error prints `tandemctl: MESSAGE` and exits with its status.
    /// A damaged index (a cache) is moved aside and the command run once more, which rebuilds it
    /// from packs and manifests; the user is told on stderr.
    static func guarded(_ body: () async throws -> Void) async throws {
        do {
            do {
                try await body()
            } catch let corruption as IndexCorruption {
                let aside = IndexDatabase.moveAside(corruption.path)
                FileHandle.standardError.write(Data("tandemctl: \(corruption); moved to \(aside), rebuilding it from packs and manifests\n".utf8))
                try await body()
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            FileHandle.standardError.write(Data("tandemctl: \(message(error))\n".utf8))
            throw ExitCode(exitCode(for: error))
        }
    }

    static func message(_ error: any Error) -> String {
        String(describing: error)
    }
}
