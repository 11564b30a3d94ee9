/// The five fields of a cron expression, in order.
public enum CronField: String, Sendable, CaseIterable, CustomStringConvertible {
    case minute
    case hour
    case dayOfMonth = "day-of-month"
    case month
    case dayOfWeek = "day-of-week"

    /// The values a number in this field may take. Day-of-week accepts 7 as another Sunday.
    public var bounds: ClosedRange<Int> {
        switch self {
        case .minute: 0...59
        case .hour: 0...23
        case .dayOfMonth: 1...31
        case .month: 1...12
        case .dayOfWeek: 0...7
        }
    }

    /// The field's name as written in messages ("day-of-month").
    public var description: String { rawValue }
}

/// Why a cron expression was refused. Every case names the field and the text at fault; the
/// ``description`` is written for the person who typed the expression.
public enum CronError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing but whitespace.
    case empty
    /// Not five whitespace-separated fields.
    case wrongFieldCount(found: Int)
    /// An `@` word that is not one of the supported macros.
    case unknownMacro(String)
    /// A list with an empty item, such as `1,,2` or a trailing comma.
    case emptyListItem(field: CronField, text: String)
    /// Something that is neither a number, a name this field accepts, nor `*`.
    case notANumber(field: CronField, text: String)
    /// Letters that are not a month (jan-dec) or weekday (sun-sat) name this field accepts.
    case unknownName(field: CronField, text: String)
    /// A number outside the field's range.
    case outOfRange(field: CronField, text: String)
    /// A range whose start is after its end, such as `5-2`.
    case reversedRange(field: CronField, text: String)
    /// A step of zero, such as `*/0`.
    case zeroStep(field: CronField, text: String)
    /// A step that is not a positive number, such as `*/x` or `1/2/3`.
    case invalidStep(field: CronField, text: String)
    /// Valid fields that select no real date, such as `0 0 30 2 *`: none of the selected days of
    /// the month (`days`) exists in any selected month (`months`, 1-12).
    case neverFires(days: [Int], months: [Int])

    static let fieldList = "minute hour day-of-month month day-of-week"

    public var description: String {
        switch self {
        case .empty:
            "empty cron expression: expected 5 fields (\(Self.fieldList)) or a macro such as @daily"
        case .wrongFieldCount(let found):
            "expected 5 fields (\(Self.fieldList)), found \(found)"
        case .unknownMacro(let text):
            "unknown cron macro '\(text)': use @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually"
        case .emptyListItem(let field, let text):
            "\(field) field '\(text)' has an empty list item"
        case .notANumber(let field, let text):
            "\(field) field '\(text)' is not a number, a range or '*'"
        case .unknownName(let field, let text):
            switch field {
            case .month: "month field '\(text)' is not a month name (jan-dec) or a number 1-12"
            case .dayOfWeek: "day-of-week field '\(text)' is not a weekday name (sun-sat) or a number 0-7"
            default: "\(field) field '\(text)' is not a number (names are only allowed for month and day-of-week)"
            }
        case .outOfRange(let field, let text):
            "\(field) field '\(text)' is out of range \(field.bounds.lowerBound)-\(field.bounds.upperBound)"
        case .reversedRange(let field, let text):
            "\(field) field range '\(text)' is reversed: the start must not be after the end"
        case .zeroStep(let field, let text):
            "\(field) field '\(text)' has a step of 0: a step must be at least 1"
        case .invalidStep(let field, let text):
            "\(field) field '\(text)' has an invalid step: write a range or '*', '/' and a positive number"
        case .neverFires(let days, let months):
            "never fires: day-of-month \(days.map(String.init).joined(separator: ",")) does not occur in "
                + Self.monthList(months)
        }
    }

    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August",
                             "September", "October", "November", "December"]

    /// "February", "April or June", "April, June or September".
    static func monthList(_ months: [Int]) -> String {
        let names = months.map { monthNames[$0 - 1] }
        guard let last = names.last, names.count > 1 else { return names.first ?? "any month" }
        return names.dropLast().joined(separator: ", ") + " or " + last
    }
}
