import Testing

/// Expects equal bytes; on failure reports sizes and the first differing offset instead of
/// handing megabytes to the test library's diff. Shared by every test target.
public func expectSameBytes<A: Collection<UInt8>, B: Collection<UInt8>>(
    _ a: A?, _ b: B?, sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let a, let b else {
        Issue.record("missing bytes: \(a == nil ? "first" : "second") is nil", sourceLocation: sourceLocation)
        return
    }
    if a.count == b.count && a.elementsEqual(b) { return }
    let first = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
    Issue.record("bytes differ: \(a.count) vs \(b.count) bytes, first difference at \(first)", sourceLocation: sourceLocation)
}
