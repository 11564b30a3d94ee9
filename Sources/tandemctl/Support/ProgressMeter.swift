import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A progress bar on stderr with throughput and ETA, drawn only when stderr is a terminal.
final class ProgressMeter: Sendable {
    private let done = Atomic<Int>(0)
    private let total: Int?
    private let label: String

    init(label: String, total: Int?) {
        self.label = label
        self.total = total
    }

    /// Adds bytes processed; safe from any task.
    func add(_ count: Int) { done.add(count, ordering: .relaxed) }

    /// Runs `body`, redrawing the bar every 200 ms while it runs, and clears it afterwards.
    static func run<T: Sendable>(label: String, total: Int?, _ body: @Sendable @escaping (ProgressMeter) async throws -> T) async throws -> T {
        let meter = ProgressMeter(label: label, total: total)
        guard isatty(2) == 1 else { return try await body(meter) }
        let start = Date()
        let drawer = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(200))
                meter.draw(elapsed: Date().timeIntervalSince(start))
            }
        }
        defer {
            drawer.cancel()
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        }
        return try await body(meter)
    }

    private func draw(elapsed: Double) {
        let bytes = done.load(ordering: .relaxed)
        let rate = elapsed > 0 ? Double(bytes) / elapsed : 0
        var line = "\(label) \(Human.bytes(Int64(bytes)))"
        if let total, total > 0 {
            let fraction = min(Double(bytes) / Double(total), 1)
            let width = 24
            let filled = Int(fraction * Double(width))
            let eta = rate > 0 ? Double(total - bytes) / rate : 0
            line = "\(label) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] "
                + String(format: "%3.0f%% ", fraction * 100) + "\(Human.bytes(Int64(bytes)))/\(Human.bytes(Int64(total)))"
                + String(format: " ETA %.0fs", max(eta, 0))
        }
        line += "  " + Human.rate(Int64(bytes), elapsed)
        FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
    }
}
