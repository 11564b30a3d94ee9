import Foundation
import TandemCodecs
import TandemStore
#if canImport(Glibc)
import Glibc
#endif

/// A ``TandemStore/BackendUpload`` for S3: pieces go to a local staging file at their
/// offsets (any order), and commit sends the file as one PUT, or in parts above the
/// multipart threshold, read back one part at a time. Memory stays bounded by one part.
final class StagedUpload: BackendUpload, @unchecked Sendable {
    // @unchecked: `fd` and `file` are set once; writes use pwrite, which is safe from many
    // tasks at distinct offsets, and commit/abort are called once by the single owner.
    let backend: S3Backend
    let file: String
    private let fd: Int32

    init(backend: S3Backend) throws {
        self.backend = backend
        let folder = backend.configuration.stagingDirectory
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        file = folder + "/upload-" + UUID().uuidString.lowercased()
        fd = open(file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BackendError.io(file, "cannot create staging file: \(String(cString: strerror(errno)))") }
    }

    deinit {
        close(fd)
        unlink(file)
    }

    func write(_ bytes: [UInt8], at offset: Int) async throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, $0.count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw BackendError.io(file, "staging write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    func commit(as path: String) async throws {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw BackendError.io(file, "cannot stat staging file") }
        let size = Int(info.st_size)
        if size <= backend.configuration.multipartThreshold {
            try await backend.write(path, try read(0, size), overwrite: true)
        } else {
            try await MultipartUpload.send(bytes: { offset, length in try self.read(offset, length) }, size: size,
                                           key: backend.configuration.key(path), path: path, backend: backend)
        }
    }

    func abort() async {}

    private func read(_ offset: Int, _ length: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        var done = 0
        while done < length {
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, length - done, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw BackendError.io(file, "staging read failed") }
            done += n
        }
        return out
    }

    /// Staging files left by a crashed process.
    static func removeStaleStagingFiles(in folder: String, olderThan cutoff: Date) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return 0 }
        var removed = 0
        for name in names where name.hasPrefix("upload-") {
            let path = folder + "/" + name
            if let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
               modified < cutoff, unlink(path) == 0 {
                removed += 1
            }
        }
        return removed
    }
}

/// S3 multipart upload: create, send parts of `partSize` one at a time, complete (checking
/// the error that S3 may put inside a 200 answer), or abort on any failure.
enum MultipartUpload {
    static func send(bytes: (Int, Int) throws -> [UInt8], size: Int, key: String, path: String, backend: S3Backend) async throws {
        let client = backend.client
        let created = try await client.send(.POST, key: key, query: [("uploads", "")], headers: backend.lockHeaders(for: nil),
                                            path: path)
        guard created.status == 200, let id = XMLNode.parse(created.body)?.value("UploadId"), !id.isEmpty else {
            throw S3Error.backendError(created, path: path, operation: "CreateMultipartUpload")
        }
        do {
            var parts: [(Int, String)] = []
            var offset = 0
            var number = 1
            let partSize = backend.configuration.partSize
            while offset < size {
                let piece = try bytes(offset, min(partSize, size - offset))
                var headers: [(String, String)] = []
                if backend.configuration.objectLockDays != nil { headers.append(("content-md5", ContentMD5.header(piece))) }
                let sent = try await client.send(.PUT, key: key, query: [("partNumber", String(number)), ("uploadId", id)],
                                                 headers: headers, body: piece, path: path)
                guard sent.status == 200, let etag = sent.headers.first(name: "etag") else {
                    throw S3Error.backendError(sent, path: path, operation: "UploadPart \(number)")
                }
                parts.append((number, etag))
                offset += piece.count
                number += 1
            }
            let document = "<CompleteMultipartUpload>" + parts.map {
                "<Part><PartNumber>\($0.0)</PartNumber><ETag>\(xmlEscape($0.1))</ETag></Part>"
            }.joined() + "</CompleteMultipartUpload>"
            let completed = try await client.send(.POST, key: key, query: [("uploadId", id)], body: Array(document.utf8), path: path)
            guard completed.status == 200, XMLNode.parse(completed.body)?.name != "Error" else {
                throw S3Error.backendError(completed, path: path, operation: "CompleteMultipartUpload")
            }
        } catch {
            _ = try? await client.send(.DELETE, key: key, query: [("uploadId", id)], path: path)
            throw error
        }
    }
}
