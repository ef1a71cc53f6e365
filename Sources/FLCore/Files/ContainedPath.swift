#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A path that must stay inside a folder it is relative to: a workspace for the paths a plan names,
/// a site's data folder for its shard. Such paths come from people other than the machine's owner
/// (a submitted plan is written by a data scientist, read by the Director and every site), so
/// "inside" is checked twice: the text when the plan is read (relative, no `..`), and the file
/// system when the file is opened (no component may be a symbolic link), so neither a crafted
/// path nor a link planted beside it can reach the Director's keys or a site's other files.
public enum ContainedPath {
    /// Why `path` cannot name something inside its folder, or nil when it can: it must be
    /// non-empty, relative, free of `..` components and of control characters.
    public static func problem(_ path: String) -> String? {
        if path.isEmpty { return "the path is empty" }
        if path.hasPrefix("/") { return "'\(path)' is absolute; expected a path relative to the workspace, such as save/best.safetensors" }
        if path.hasPrefix("~") { return "'\(path)' starts with '~'; expected a path relative to the workspace" }
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { return "'\(path)' contains a control character" }
        if path.split(separator: "/", omittingEmptySubsequences: true).contains("..") {
            return "'\(path)' contains '..', which would leave the workspace"
        }
        if path.split(separator: "/", omittingEmptySubsequences: true).allSatisfy({ $0 == "." }) {
            return "'\(path)' names the workspace itself, not a file in it"
        }
        return nil
    }

    /// The components of `path` once checked, without empty and `.` components.
    static func components(_ path: String) throws -> [String] {
        if let problem = problem(path) { throw ContainedPathError(root: nil, path: path, reason: problem) }
        return path.split(separator: "/").map(String.init).filter { $0 != "." }
    }

    /// Opens the regular file `path` inside `root` for reading, refusing to follow a symbolic link
    /// at any component (`openat` with `O_NOFOLLOW`, one component at a time). The caller closes
    /// the returned descriptor.
    public static func openForReading(_ path: String, inside root: String) throws -> Int32 {
        let parts = try components(path)
        var directory = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw ContainedPathError(root: root, path: path, reason: "cannot open the folder: \(String(cString: strerror(errno)))") }
        for (i, part) in parts.enumerated() {
            let last = i == parts.count - 1
            let flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (last ? 0 : O_DIRECTORY)
            let next = openat(directory, part, flags)
            let code = errno
            close(directory)
            guard next >= 0 else {
                let reason = code == ELOOP || code == ENOTDIR
                    ? "'\(parts[0...i].joined(separator: "/"))' is a symbolic link or not a folder; links are never followed here"
                    : String(cString: strerror(code))
                throw ContainedPathError(root: root, path: path, reason: reason)
            }
            directory = next
        }
        var st = stat()
        guard fstat(directory, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(directory)
            throw ContainedPathError(root: root, path: path, reason: "not a regular file")
        }
        return directory
    }

    /// Whether `path` inside `root` exists as a regular file reached without links.
    public static func isFile(_ path: String, inside root: String) -> Bool {
        guard let fd = try? openForReading(path, inside: root) else { return false }
        close(fd)
        return true
    }
}

/// A path that leaves its folder, or a file that cannot be reached inside it without a link.
public struct ContainedPathError: Error, Sendable, CustomStringConvertible {
    /// The folder the path must stay in, when known.
    public var root: String?
    public var path: String
    public var reason: String

    public init(root: String?, path: String, reason: String) {
        self.root = root
        self.path = path
        self.reason = reason
    }

    public var description: String {
        root.map { "\($0)/\(path): \(reason)" } ?? reason
    }
}
