/// A set of small integers (0-63) as a bit mask: the values one cron field selects.
struct CronBits: Hashable, Sendable {
    var raw: UInt64 = 0

    func contains(_ value: Int) -> Bool {
        value >= 0 && value < 64 && raw & (1 << UInt64(value)) != 0
    }

    mutating func insert(_ value: Int) {
        raw |= 1 << UInt64(value)
    }

    /// The smallest member that is at least `value`, if any.
    func next(atOrAfter value: Int) -> Int? {
        guard value < 64 else { return nil }
        let remaining = value <= 0 ? raw : raw & ~((1 << UInt64(value)) - 1)
        return remaining == 0 ? nil : remaining.trailingZeroBitCount
    }

    var values: [Int] { (0..<64).filter(contains) }
}

/// Parses one cron field: `*`, numbers, names, lists `a,b`, ranges `a-b` and steps `*/n`,
/// `a-b/n` and `a/n` (from `a` to the end of the field's range).
enum CronFieldParser {
    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let weekdayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// The selected values; day-of-week 7 is stored as 0 (both are Sunday).
    static func parse(_ text: Substring, as field: CronField) throws(CronError) -> CronBits {
        var bits = CronBits()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw .emptyListItem(field: field, text: String(text)) }
            for value in try values(of: item, in: field) {
                bits.insert(field == .dayOfWeek && value == 7 ? 0 : value)
            }
        }
        return bits
    }

    /// The values of one list item.
    static func values(of item: Substring, in field: CronField) throws(CronError) -> StrideThrough<Int> {
        let parts = item.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw .invalidStep(field: field, text: String(item)) }
        var step = 1
        if parts.count == 2 {
            guard let parsed = number(parts[1]) else { throw .invalidStep(field: field, text: String(item)) }
            guard parsed > 0 else { throw .zeroStep(field: field, text: String(item)) }
            step = parsed
        }
        let base = parts[0]
        // '*' covers the field; for day-of-week that is 0-6 (7 would only repeat Sunday).
        let upper = field == .dayOfWeek ? 6 : field.bounds.upperBound
        if base == "*" { return stride(from: field.bounds.lowerBound, through: upper, by: step) }
        let ends = base.split(separator: "-", omittingEmptySubsequences: false)
        guard !ends.contains(where: { $0.isEmpty || $0 == "*" }) else {
            throw .notANumber(field: field, text: String(item))
        }
        switch ends.count {
        case 1:
            let start = try value(ends[0], in: field)
            return stride(from: start, through: parts.count == 2 ? max(start, upper) : start, by: step)
        case 2:
            let start = try value(ends[0], in: field)
            var end = try value(ends[1], in: field)
            // 'mon-sun' reads naturally as Monday through Sunday: a named Sunday ends the week.
            if field == .dayOfWeek, end == 0, start > 0, ends[1].lowercased() == "sun" { end = 7 }
            guard start <= end else { throw .reversedRange(field: field, text: String(base)) }
            return stride(from: start, through: end, by: step)
        default:
            throw .notANumber(field: field, text: String(base))
        }
    }

    /// One number or name, checked against the field's range.
    static func value(_ text: Substring, in field: CronField) throws(CronError) -> Int {
        if text.allSatisfy({ $0.isASCII && $0.isLetter }) {
            let lower = text.lowercased()
            let names = field == .month ? monthNames : field == .dayOfWeek ? weekdayNames : []
            guard let index = names.firstIndex(of: lower) else { throw .unknownName(field: field, text: String(text)) }
            return field == .month ? index + 1 : index
        }
        guard text.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw .notANumber(field: field, text: String(text))
        }
        guard let parsed = number(text), field.bounds.contains(parsed) else {
            throw .outOfRange(field: field, text: String(text))
        }
        return parsed
    }

    /// A non-negative decimal number of at most 6 digits (longer ones are out of any range).
    static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 6, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }
}
