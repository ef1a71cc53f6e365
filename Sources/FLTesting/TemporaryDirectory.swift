#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// A fresh directory under the system's temporary directory, removed with everything in it when
/// this object goes away (or earlier, with `remove()`).
public final class TemporaryDirectory: Sendable {
    /// Absolute path of the directory.
    public let path: String
    private let removed = Atomic<Bool>(false)

    /// Creates a uniquely named directory (mode 0700) whose name starts with `prefix`.
    public init(prefix: String = "swiftfl") throws {
        let base = FileManager.default.temporaryDirectory.path
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        guard created else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: "\(base)/\(prefix)-XXXXXX",
                                                           NSLocalizedDescriptionKey: String(cString: strerror(errno))])
        }
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { remove() }

    /// `path/name`.
    public func appending(_ name: String) -> String { "\(path)/\(name)" }

    /// Writes `text` to `relative` (creating its folders, with `mode`) and returns the full path.
    @discardableResult
    public func write(_ relative: String, _ text: String, mode: mode_t = 0o644) throws -> String {
        try write(relative, Array(text.utf8), mode: mode)
    }

    /// Writes `bytes` to `relative` (creating its folders, with `mode`) and returns the full path.
    @discardableResult
    public func write(_ relative: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws -> String {
        let full = appending(relative)
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: full))
        chmod(full, mode)
        return full
    }

    /// Creates the folder `relative` (and its parents) and returns its full path.
    @discardableResult
    public func makeDirectory(_ relative: String) throws -> String {
        let full = appending(relative)
        try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        return full
    }

    /// The names in the folder `relative` (the directory itself when empty), sorted; none when it is missing.
    public func list(_ relative: String = "") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: relative.isEmpty ? path : appending(relative))) ?? []).sorted()
    }

    /// Deletes the directory and its contents. Idempotent.
    public func remove() {
        if removed.exchange(true, ordering: .acquiringAndReleasing) { return }
        try? FileManager.default.removeItem(atPath: path)
    }
}
