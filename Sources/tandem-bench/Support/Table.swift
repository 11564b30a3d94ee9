import Foundation

/// A table of strings printed with aligned columns on a terminal, or as GitHub Markdown.
struct Table {
    var header: [String]
    var rows: [[String]] = []
    /// Columns (by index) aligned left; the others are right-aligned (numbers).
    var leftAligned: Set<Int> = [0]

    init(_ header: [String], leftAligned: Set<Int> = [0]) {
        self.header = header
        self.leftAligned = leftAligned
    }

    mutating func add(_ row: [String]) { rows.append(row) }

    /// Plain text with columns padded to their widest cell.
    func text() -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: max(0, widths[index] - cell.count))
                return leftAligned.contains(index) ? cell + pad : pad + cell
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }

    /// GitHub-flavoured Markdown, numbers right-aligned.
    func markdown() -> String {
        let align = header.indices.map { leftAligned.contains($0) ? ":---" : "---:" }
        func line(_ cells: [String]) -> String { "| " + cells.joined(separator: " | ") + " |" }
        return ([line(header), line(align)] + rows.map(line)).joined(separator: "\n")
    }
}
