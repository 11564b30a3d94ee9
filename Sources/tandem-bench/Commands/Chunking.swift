import ArgumentParser
import Foundation
import TandemCore

/// `tandem-bench chunking --image v1 --image2 v2`: for several chunker settings, v1's chunk count
/// and the new bytes v2 adds after dedup. Pure computation (TandemCore's Chunker and SHA-256),
/// no repository: the data behind the default chunk size.
struct Chunking: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chunk counts and dedup of image-v2 against image-v1 for several chunker settings.")

    static let defaultSets = ["cdc:16K/64K/256K", "cdc:32K/128K/512K", "cdc:64K/256K/1M", "cdc:256K/1M/4M",
                              "cdc:512K/2M/8M", "fixed:4M"]

    @Option(help: "The first image (image-v1.raw).") var image: String
    @Option(help: "The second image (image-v2.raw).") var image2: String
    @Option(name: .customLong("chunker"), help: "A chunker setting (repeatable); default: \(defaultSets.joined(separator: ", ")).")
    var chunkers: [String] = []
    @Option(help: "Settings measured concurrently (default: all cores).") var threads: Int?
    @Flag(help: "Print one JSON document instead of a table.") var json = false

    /// `--json` document.
    struct Output: Encodable {
        let machine: Machine
        let image: String
        let image2: String
        let imageBytes: Int64
        let image2Bytes: Int64
        let changedBytes: Int64?
        let results: [ChunkingResult]
    }

    func run() throws {
        let machine = Machine.current()
        let sets = try (chunkers.isEmpty ? Self.defaultSets : chunkers).map { text in
            do { return try ChunkerParameters(parsing: text) } catch { throw ValidationError("--chunker: \(error)") }
        }
        guard let size1 = Files.size(image), let size2 = Files.size(image2) else { throw BenchError("cannot stat the images") }
        let changed = Self.changedBytes(near: image2)
        let gear = GearTable(seed: Array(repeating: 0x42, count: 32))
        let slots = Slots<Result<ChunkingResult, BenchError>>(count: sets.count)
        let workers = max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, sets.count))
        Log.info("chunking \(image) and \(image2) with \(sets.count) settings on \(workers) thread(s)")
        let next = Slots<Int>(count: 1)
        next.set(0, 0)
        let (image, image2) = (self.image, self.image2)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let index = next.takeTicket(limit: sets.count) {
                do {
                    let result = try ChunkingResult.measure(sets[index], image: image, image2: image2, gear: gear, changedBytes: changed)
                    Log.info("  \(result.chunker): \(result.v1Chunks) chunks, \(result.v2NewBytes) new bytes (\(Units.fixed(result.seconds, 1)) s)")
                    slots.set(index, .success(result))
                } catch {
                    slots.set(index, .failure(BenchError("\(sets[index]): \(error)")))
                }
            }
        }
        let results = try slots.values.map { try $0!.get() }
        if json {
            try JSONOutput.print(Output(machine: machine, image: image, image2: image2, imageBytes: size1,
                                        image2Bytes: size2, changedBytes: changed, results: results))
            return
        }
        print(Self.table(results, size1: size1, size2: size2, changed: changed).text())
    }

    static func table(_ results: [ChunkingResult], size1: Int64, size2: Int64, changed: Int64?) -> Table {
        var table = Table(["chunker", "v1 chunks", "mean KiB", "v2 new chunks", "v2 new MiB", "new/changed"])
        for r in results {
            table.add([r.chunker, "\(r.v1Chunks)", Units.fixed(r.v1MeanChunkBytes / 1024, 1), "\(r.v2NewChunks)",
                       Units.fixed(Units.mib(r.v2NewBytes), 2), r.amplification.map { Units.fixed($0, 2) + "x" } ?? "-"])
        }
        var header = "image-v1 \(Units.fixed(Units.mib(size1), 0)) MiB, image-v2 \(Units.fixed(Units.mib(size2), 0)) MiB"
        if let changed { header += "; bytes changed by the generator: \(Units.fixed(Units.mib(changed), 2)) MiB" }
        print(header + "; new = uncompressed bytes of v2 chunks absent from v1\n")
        return table
    }

    /// `image_v2.changed_bytes` from the generator's manifest.json next to the image, if any.
    static func changedBytes(near image: String) -> Int64? {
        let manifest = URL(fileURLWithPath: image).deletingLastPathComponent().appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: manifest),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let v2 = object["image_v2"] as? [String: Any], let changed = v2["changed_bytes"] as? NSNumber else { return nil }
        return changed.int64Value
    }
}
