/// The path rules archives must follow, shared by the writer (so it never writes an archive the
/// extractor would refuse) and the extractor. Paths are handled as bytes: Linux file names are
/// bytes, and Swift string equality (canonical equivalence) would call two different names equal.
enum ArchivePath {
    /// Longest path accepted (Linux PATH_MAX, less its terminating NUL).
    static let maximumLength = 4095
    /// Longest path component accepted (Linux NAME_MAX).
    static let maximumComponentLength = 255

    struct Violation: Error {
        var rule: ArchiveError.Rule
        init(_ rule: ArchiveError.Rule) { self.rule = rule }
    }

    private static let slash = UInt8(ascii: "/")
    private static let dot = UInt8(ascii: ".")

    /// The components of a relative archive path, with empty and `.` components dropped (so
    /// `./a//b/` is `a`, `b`). An empty result means the path names the archive's root.
    /// Refuses NUL bytes, absolute paths, `..` components and over-long paths or components.
    static func components(of path: [UInt8]) throws(Violation) -> [[UInt8]] {
        if path.isEmpty { throw Violation(.emptyPath) }
        for byte in path where byte == 0 { throw Violation(.nulInPath) }
        if path[0] == slash { throw Violation(.absolutePath) }
        if path.count > maximumLength { throw Violation(.pathTooLong(length: path.count, limit: maximumLength)) }
        var components: [[UInt8]] = []
        for component in path.split(separator: slash, omittingEmptySubsequences: true) {
            if component.count == 1 && component.first == dot { continue }
            if component.count == 2 && component.first == dot && component.last == dot { throw Violation(.parentComponent) }
            if component.count > maximumComponentLength {
                throw Violation(.pathTooLong(length: component.count, limit: maximumComponentLength))
            }
            components.append(Array(component))
        }
        return components
    }

    /// Checks a symbolic link's target, relative to the directory holding the link (`linkDepth`
    /// components below the root). The target may start with `..` components that stay within the
    /// destination, followed by names; `..` after a name is refused because the name may itself be
    /// a symbolic link (say to `.`), which would make the `..` climb one level more than it appears to.
    /// Every link extracted this way resolves inside the destination, whatever the other links are.
    static func checkSymlinkTarget(_ target: [UInt8], linkDepth: Int) throws(Violation) {
        let text = String(decoding: target, as: UTF8.self)
        if target.isEmpty { throw Violation(.emptyLinkTarget) }
        for byte in target where byte == 0 { throw Violation(.nulInPath) }
        if target[0] == slash { throw Violation(.absoluteLinkTarget(text)) }
        if target.count > maximumLength { throw Violation(.pathTooLong(length: target.count, limit: maximumLength)) }
        var climbs = 0
        var sawName = false
        for component in target.split(separator: slash, omittingEmptySubsequences: true) {
            if component.count == 1 && component.first == dot { continue }
            if component.count == 2 && component.first == dot && component.last == dot {
                if sawName { throw Violation(.linkEscapes(text)) }
                climbs += 1
                if climbs > linkDepth { throw Violation(.linkEscapes(text)) }
            } else {
                if component.count > maximumComponentLength {
                    throw Violation(.pathTooLong(length: component.count, limit: maximumComponentLength))
                }
                sawName = true
            }
        }
    }

    /// Joins components with '/'.
    static func join(_ components: some Collection<[UInt8]>) -> [UInt8] {
        var out: [UInt8] = []
        for (i, component) in components.enumerated() {
            if i > 0 { out.append(slash) }
            out += component
        }
        return out
    }
}
