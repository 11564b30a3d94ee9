extension Duration {
    /// How a person reads a duration in a message: `0.5 s`, `6.8 s`, `12 s`, `3 min 20 s`
    /// (never `0.508870946 seconds`).
    public var spoken: String {
        let (whole, attoseconds) = components
        let seconds = Double(whole) + Double(attoseconds) / 1e18
        if seconds < 10 {
            let tenths = Int((max(0, seconds) * 10).rounded())
            return "\(tenths / 10).\(tenths % 10) s"
        }
        let rounded = Int(seconds.rounded())
        if rounded < 120 { return "\(rounded) s" }
        return rounded % 60 == 0 ? "\(rounded / 60) min" : "\(rounded / 60) min \(rounded % 60) s"
    }
}
