/// Cuts every `size` bytes: for block images, whose writes stay aligned to blocks.
public struct FixedSizeChunker: Sendable {
    public let size: Int
    private var position = 0

    public init(size: Int) {
        precondition(size > 0)
        self.size = size
    }

    /// Bytes of the current (unfinished) chunk seen so far.
    public var pendingLength: Int { position }

    /// Returns how many bytes of `buffer` complete the current chunk, or nil if none do.
    public mutating func findBoundary(in buffer: UnsafeRawBufferPointer) -> Int? {
        let need = size - position
        if buffer.count >= need {
            position = 0
            return need
        }
        position += buffer.count
        return nil
    }

    /// Forgets the unfinished chunk.
    public mutating func reset() { position = 0 }
}

/// Either chunker, chosen by ``ChunkerParameters``; an enum rather than an existential so the
/// hot loop is not dispatched through a witness table per call.
public enum Chunker: Sendable {
    case contentDefined(ContentDefinedChunker)
    case fixedSize(FixedSizeChunker)

    /// Builds the chunker `parameters` describe, with the tenant's gear table for CDC.
    public init(_ parameters: ChunkerParameters, gear: GearTable) {
        switch parameters {
        case .cdc(let minimum, let average, let maximum):
            self = .contentDefined(ContentDefinedChunker(minimum: minimum, average: average, maximum: maximum, gear: gear))
        case .fixed(let size):
            self = .fixedSize(FixedSizeChunker(size: size))
        }
    }

    /// See ``ContentDefinedChunker/findBoundary(in:)``.
    public mutating func findBoundary(in buffer: UnsafeRawBufferPointer) -> Int? {
        switch self {
        case .contentDefined(var chunker):
            defer { self = .contentDefined(chunker) }
            return chunker.findBoundary(in: buffer)
        case .fixedSize(var chunker):
            defer { self = .fixedSize(chunker) }
            return chunker.findBoundary(in: buffer)
        }
    }

    /// Forgets the unfinished chunk.
    public mutating func reset() {
        switch self {
        case .contentDefined(var chunker):
            chunker.reset()
            self = .contentDefined(chunker)
        case .fixedSize(var chunker):
            chunker.reset()
            self = .fixedSize(chunker)
        }
    }

    /// Splits a whole buffer into chunk lengths (the last one may be short). For tests and tools.
    public mutating func split(_ bytes: UnsafeRawBufferPointer) -> [Int] {
        var lengths = [Int]()
        var offset = 0
        var pending = 0
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            if let cut = findBoundary(in: rest) {
                lengths.append(pending + cut)
                pending = 0
                offset += cut
            } else {
                pending += rest.count
                offset = bytes.count
            }
        }
        if pending > 0 { lengths.append(pending) }
        reset()
        return lengths
    }
}
