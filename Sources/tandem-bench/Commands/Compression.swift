import ArgumentParser
import Foundation
import TandemCore

/// `tandem-bench compression --image image-v1.raw`: what decides the stored size of an image —
/// zstd's level, the chunk size (how much context each independent frame has) and a raw-content
/// dictionary shared by every chunk. Pure computation on one thread, no repository: the data
/// behind the repository-size figures in the repository format article.
struct CompressionStudy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compression",
        abstract: "Stored bytes of an image's chunks under zstd levels, chunk sizes and a sampled dictionary.")

    static let defaultChunkings = ["cdc:16K/64K/256K", "fixed:1M"]

    @Option(help: "The image (image-v1.raw).") var image: String
    @Option(name: .customLong("chunker"), help: "A chunker setting (repeatable); default: \(defaultChunkings.joined(separator: ", ")).")
    var chunkers: [String] = []
    @Option(name: .customLong("level"), help: "A zstd level (repeatable); default: 1 and 3.") var levels: [Int32] = []
    @Option(name: .customLong("dictionary-kib"), help: "Dictionary size in KiB, sampled from the image (0: no dictionary rows).")
    var dictionaryKiB = 1024
    @Flag(help: "Print one JSON document instead of a table.") var json = false

    /// `--json` document.
    struct Output: Encodable {
        let machine: Machine
        let image: String
        let imageBytes: Int
        let dictionaryBytes: Int
        let results: [CompressionResult]
    }

    func run() throws {
        let machine = Machine.current()
        let sets = try (chunkers.isEmpty ? Self.defaultChunkings : chunkers).map { text in
            do { return try ChunkerParameters(parsing: text) } catch { throw ValidationError("--chunker: \(error)") }
        }
        let levels = self.levels.isEmpty ? [1, 3] : self.levels
        guard dictionaryKiB >= 0 else { throw ValidationError("--dictionary-kib must be 0 or more") }
        guard let data = FileManager.default.contents(atPath: image) else { throw BenchError("cannot read \(image)") }
        let bytes = [UInt8](data)
        Log.info("compression study of \(image) (\(Units.fixed(Units.mib(Int64(bytes.count)), 0)) MiB)")
        let dictionary = bytes.withUnsafeBytes { ContextStudy.sampleDictionary($0, size: dictionaryKiB << 10) }
        let gear = GearTable(seed: Array(repeating: 0x42, count: 32))
        var results: [CompressionResult] = []
        for parameters in sets {
            let chunks = bytes.withUnsafeBytes { ContextStudy.cut($0, parameters, gear: gear) }
            for level in levels {
                for dictionary in dictionary.isEmpty ? [[]] : [[], dictionary] {
                    let result = try bytes.withUnsafeBytes {
                        try ContextStudy.measure($0, chunks: chunks, chunker: parameters.description, level: level, dictionary: dictionary)
                    }
                    Log.info("  \(result.chunker) zstd:\(level) dictionary \(result.dictionaryBytes >> 10) KiB: "
                             + "\(Units.fixed(Units.mib(result.storedBytes), 1)) MiB in \(Units.fixed(result.seconds, 2)) s")
                    results.append(result)
                }
            }
        }
        if json {
            try JSONOutput.print(Output(machine: machine, image: image, imageBytes: bytes.count,
                                        dictionaryBytes: dictionary.count, results: results))
            return
        }
        print("\(image): \(Units.fixed(Units.mib(Int64(bytes.count)), 0)) MiB; stored = each chunk that is not all zeros, "
              + "compressed on its own (or kept raw when that is smaller), not deduplicated; one thread\n")
        var table = Table(["chunker", "zstd level", "dictionary KiB", "chunks", "stored MiB", "compress s"])
        for r in results {
            table.add([r.chunker, "\(r.level)", "\(r.dictionaryBytes >> 10)", "\(r.chunks)",
                       Units.fixed(Units.mib(r.storedBytes), 1), Units.fixed(r.seconds, 2)])
        }
        print(table.text())
    }
}
