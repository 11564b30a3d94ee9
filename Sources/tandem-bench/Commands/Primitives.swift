import ArgumentParser
import Foundation

/// `tandem-bench primitives [--size 256M] [--json]`: single-thread throughput of every primitive
/// on the data path, on a deterministic mixed buffer.
struct Primitives: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Throughput of chunkers, hashes, MACs, codecs, ciphers and BlobSealer on a mixed buffer.")

    @Option(help: "Buffer size (K/M/G binary units).") var size: String = "256M"
    @Option(help: "Seed of the buffer's PRNG.") var seed: UInt64 = 42
    @Option(help: "Threads for the parallel BlobSealer line (default: all cores).") var threads: Int?
    @Flag(help: "Print one JSON document instead of a table.") var json = false

    /// `--json` document.
    struct Output: Encodable {
        let machine: Machine
        let bufferBytes: Int
        let composition: String
        let seed: UInt64
        let results: [PrimitiveResult]
    }

    func run() throws {
        guard let bytes = Units.parseSize(size) else { throw ValidationError("--size '\(size)' is not a size like 256M") }
        let machine = Machine.current()
        Log.info("building \(bytes >> 20) MiB mixed buffer (\(MixedBuffer.description)), seed \(seed)")
        let buffer = MixedBuffer.make(size: bytes, seed: seed)
        let suite = PrimitiveSuite(buffer: buffer)
        try suite.runAll(threads: threads ?? machine.cores)
        if json {
            try JSONOutput.print(Output(machine: machine, bufferBytes: bytes, composition: MixedBuffer.description,
                                        seed: seed, results: suite.results))
            return
        }
        var table = Table(["primitive", "MB/s", "out/in", "note"], leftAligned: [0, 3])
        for r in suite.results {
            table.add([r.name, Units.fixed(r.megabytesPerSecond, 1), r.outputRatio.map { Units.fixed($0, 3) } ?? "",
                       r.note ?? ""])
        }
        print("machine: \(machine.summary)")
        print("buffer: \(bytes >> 20) MiB, \(MixedBuffer.description), seed \(seed); MB/s = 10^6 B/s of input\n")
        print(table.text())
    }
}
