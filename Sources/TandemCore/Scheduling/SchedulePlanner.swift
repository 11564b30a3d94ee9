import Foundation

/// Decides when each schedule of one tenant is next due, as a pure function of its triggers,
/// its backup window, what was last handled, and the time now.
///
/// Rules (the daemon's scheduler and `policy simulate` both follow them):
/// - A cron schedule is due at its next fire time after the last slot it handled. After any
///   amount of downtime the missed slots collapse into **one** run, started at once; the
///   handled mark then moves to that moment, not to each missed slot.
/// - An interval schedule is due `interval` after its previous run started; one that never ran
///   is due at once.
/// - A due run outside the backup window waits for the window to open (and still runs once).
/// - A schedule never seen before (new policy) starts counting from when it was first seen, so
///   adding a cron schedule does not trigger a catch-up run.
public struct SchedulePlanner: Sendable {
    /// One schedule as the planner sees it.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var trigger: ScheduleTrigger
        public var sources: [String]

        public init(name: String, trigger: ScheduleTrigger, sources: [String]) {
            self.name = name
            self.trigger = trigger
            self.sources = sources
        }
    }

    /// What is remembered per schedule between runs (and across restarts).
    public struct Mark: Sendable, Equatable, Codable {
        /// Up to when this schedule's slots have been handled (a run started at this moment).
        public var handledUntil: Date
        /// Whether a run was ever started (interval schedules run at once when never run).
        public var everRan: Bool

        public init(handledUntil: Date, everRan: Bool) {
            self.handledUntil = handledUntil
            self.everRan = everRan
        }
    }

    public let entries: [Entry]
    public let window: TimeWindow?
    public let windowZone: TimeZone

    public init(entries: [Entry], window: TimeWindow?, windowZone: TimeZone) {
        self.entries = entries
        self.window = window
        self.windowZone = windowZone
    }

    /// The first mark of a schedule first seen at `now`.
    public static func initialMark(at now: Date) -> Mark { Mark(handledUntil: now, everRan: false) }

    /// When `entry` is next due (before the window is applied); nil if it never fires again.
    public func due(_ entry: Entry, mark: Mark) -> Date? {
        switch entry.trigger {
        case .every where !mark.everRan: mark.handledUntil
        default: entry.trigger.slot(after: mark.handledUntil)
        }
    }

    /// When a run due at `due` may start: `due` itself, or the next opening of the window.
    public func start(forDue due: Date) -> Date {
        guard let window else { return due }
        return window.nextOpening(atOrAfter: due, in: windowZone)
    }

    /// When `entry` next starts; nil if it never fires again.
    public func nextStart(_ entry: Entry, mark: Mark) -> Date? {
        due(entry, mark: mark).map(start(forDue:))
    }

    /// The schedules that should start at `now` (their start time has come).
    public func startsDue(marks: [String: Mark], now: Date) -> [Entry] {
        entries.filter { entry in
            let mark = marks[entry.name] ?? Self.initialMark(at: now)
            guard let start = nextStart(entry, mark: mark) else { return false }
            return start <= now
        }
    }

    /// The earliest moment any schedule next starts after the given marks.
    public func nextWake(marks: [String: Mark], now: Date) -> Date? {
        entries.compactMap { nextStart($0, mark: marks[$0.name] ?? Self.initialMark(at: now)) }.min()
    }

    /// The mark after starting `entry` at `now`: every slot up to now is handled.
    public static func markStarted(at now: Date) -> Mark { Mark(handledUntil: now, everRan: true) }

    /// Every run from `start` (exclusive of earlier slots) up to `end`, assuming runs take no
    /// time and that the marks begin as given (missing ones as first seen at `start`).
    public func plan(from start: Date, until end: Date, marks initial: [String: Mark] = [:]) -> [PlannedRun] {
        var marks = initial
        for entry in entries where marks[entry.name] == nil { marks[entry.name] = Self.initialMark(at: start) }
        var runs: [PlannedRun] = []
        var now = start
        while let next = nextWake(marks: marks, now: now), next <= end {
            now = max(now, next)
            for entry in startsDue(marks: marks, now: now) {
                runs.append(PlannedRun(time: now, schedule: entry.name, sources: entry.sources))
                marks[entry.name] = Self.markStarted(at: now)
            }
            if runs.count > 1_000_000 { break }
        }
        return runs
    }
}

/// One run in a plan: when, which schedule, which sources.
public struct PlannedRun: Sendable, Equatable, Codable {
    public let time: Date
    public let schedule: String
    public let sources: [String]

    public init(time: Date, schedule: String, sources: [String]) {
        self.time = time
        self.schedule = schedule
        self.sources = sources
    }
}
