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
