/// A value that is not `Sendable` (a zstd-backed group builder or reader), moved between tasks
/// by one actor that lends it to a single task at a time: ``GroupBuilderPool`` in a backup,
/// ``GroupReaderCache`` in a restore. That one-borrower rule, kept by the lending actor, is what
/// makes the unchecked `Sendable` sound; nothing else may hold on to a `Lent` it gave back.
final class Lent<Value>: @unchecked Sendable {
    let value: Value

    init(_ value: Value) { self.value = value }
}
