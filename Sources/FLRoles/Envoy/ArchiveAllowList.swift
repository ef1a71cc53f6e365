import Foundation
import FLCore
import FLPKI

/// A site's list of approved archives: one SHA-256 (64 hex digits) per line, optionally followed
/// by a comment; `#` lines and blank lines are ignored. The site's administrator maintains it with
/// `fx envoy approve SHA256`; the Envoy reads it afresh for every decision, so an approval needs no restart.
///
/// ```
/// # approved archives of hospital_c
/// 3f2a…c9  # approved 2025-03-01T10:12:00Z
/// ```
public struct ArchiveAllowList: Sendable, Hashable {
    public let path: String
    /// The approved digests, lowercase.
    public let digests: Set<String>

    /// Reads the list; a missing file is an empty list. Malformed lines are errors naming the line.
    public static func load(_ path: String) throws -> ArchiveAllowList {
        guard FileManager.default.fileExists(atPath: path) else { return ArchiveAllowList(path: path, digests: []) }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var digests: Set<String> = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let word = content.trimmingCharacters(in: .whitespaces)
            if word.isEmpty { continue }
            guard let digest = normalized(word) else {
                throw EnvoyError("\(path):\(i + 1): expected a SHA-256 (64 hex digits), found '\(word)'")
            }
            digests.insert(digest)
        }
        return ArchiveAllowList(path: path, digests: digests)
    }

    public func contains(_ sha256: String) -> Bool { digests.contains(sha256.lowercased()) }

    /// The digest in lowercase, or nil when it is not 64 hex digits.
    public static func normalized(_ text: String) -> String? {
        let lower = text.lowercased()
        guard lower.utf8.count == 64, lower.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        return lower
    }

    /// Adds `sha256` to the list at `path` (created if missing), with a comment; atomic, so the
    /// Envoy reading the file never sees half of it. Returns false when it was already approved.
    @discardableResult
    public static func approve(_ sha256: String, in path: String, comment: String = "", now: Date = Date()) throws -> Bool {
        guard let digest = normalized(sha256) else { throw EnvoyError("'\(sha256)' is not a SHA-256 (64 hex digits)") }
        let current = try load(path)
        if current.digests.contains(digest) { return false }
        var text = FileManager.default.fileExists(atPath: path) ? try String(contentsOfFile: path, encoding: .utf8) : "# Archives this site runs (fx envoy approve SHA256)\n"
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        let stamp = ISO8601DateFormatter().string(from: now)
        text += "\(digest)  # approved \(stamp)\(comment.isEmpty ? "" : ": \(comment)")\n"
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        try AtomicFile.write(string: text, to: path)
        return true
    }
}
