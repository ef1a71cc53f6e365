/// Where a value was written: a file and a 1-based line and column (columns count Unicode scalars,
/// not bytes), so an error about a setting can send the reader to the exact character.
public struct TextLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`, the form editors and terminals turn into a link.
    public var description: String { "\(file):\(line):\(column)" }
}

/// The column of a position on a reader's current line, in characters (UTF-8 lead bytes). Readers
/// ask for locations in increasing order, so counting on from the last answer keeps even one very
/// long line (what `json.dumps` writes) linear.
struct ColumnCounter {
    private var line = 0, position = 0, column = 1

    /// The column of offset `p` of `bytes`, on line `line`, which starts at `lineStart`.
    mutating func column(of p: Int, line: Int, lineStart: Int, in bytes: [UInt8]) -> Int {
        var i = lineStart, column = 1
        if self.line == line, position >= lineStart, position <= p {
            i = position
            column = self.column
        }
        let stop = min(p, bytes.count)
        while i < stop {
            if bytes[i] & 0xC0 != 0x80 { column += 1 }
            i += 1
        }
        (self.line, position, self.column) = (line, stop, column)
        return column
    }
}
