#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FLCore
import FLWire
import FLArchive

/// A workspace: the folder a data scientist works in, laid out as OpenFL's are.
///
/// ```
/// plan/plan.yaml     the plan            plan/cols.yaml   collaborator names
/// plan/data.yaml     collaborator → its local data        plan/defaults/   the plan's defaults files
/// src/               the site code of an external task runner (optional)
/// data/              local data (never exported)          save/   models (never exported)
/// logs/              metrics and logs (never exported)    cert/   certificates and keys (never exported)
/// ```
public struct Workspace: Sendable, Hashable {
    public let root: String

    public init(root: String) { self.root = root }

    public var planDirectory: String { "\(root)/plan" }
    public var planPath: String { "\(root)/plan/plan.yaml" }
    public var collaboratorsPath: String { "\(root)/plan/cols.yaml" }
    public var dataPath: String { "\(root)/plan/data.yaml" }
    public var saveDirectory: String { "\(root)/save" }
    public var logsDirectory: String { "\(root)/logs" }
    public var certificateDirectory: String { "\(root)/cert" }

    /// `path` resolved against the workspace root (absolute paths are kept).
    public func resolve(_ path: String) -> String { path.hasPrefix("/") ? path : "\(root)/\(path)" }

    /// Folders and file kinds `export` leaves out: data, models, logs, certificates and keys.
    public static let excludedDirectories: Set<String> = ["data", "save", "logs", "cert"]
    public static let excludedExtensions: Set<String> = ["key", "pem", "crt", "csr", "p12", "safetensors", "csv", "npy", "npz", "pt", "pth", "ckpt", "pyc"]

    /// Whether `export` keeps the entry at `relativePath`. A model under `plan/` is kept: it is the
    /// initial model a plan with `initialize: file` ships (made on the data scientist's machine).
    public static func isExported(_ relativePath: String, isDirectory: Bool) -> Bool {
        let components = relativePath.split(separator: "/")
        guard let first = components.first else { return true }
        if components.contains(where: { $0.hasPrefix(".") || $0 == "__pycache__" }) { return false }
        if excludedDirectories.contains(String(first)) { return false }
        if !isDirectory, let dot = relativePath.lastIndex(of: "."), !relativePath[dot...].contains("/") {
            let ext = relativePath[relativePath.index(after: dot)...].lowercased()
            if ext == "safetensors" && first == "plan" { return true }
            if excludedExtensions.contains(ext) { return false }
        }
        return true
    }

    /// The fixed modification time stored for every entry, so exporting the same workspace twice
    /// gives byte-identical archives (sites approve archives by their SHA-256).
    public static let archiveModificationTime = 946_684_800  // 2000-01-01T00:00:00Z

    /// Writes the workspace's plan and code (never data, keys or models) as a tar archive.
    @discardableResult
    public func export(to archive: String) throws -> TarWriter.Summary {
        guard FileManager.default.fileExists(atPath: planPath) else {
            throw WorkspaceError("\(root) is not a workspace: \(planPath) does not exist")
        }
        return try TarWriter.archive(directory: root, to: archive, modificationTime: Workspace.archiveModificationTime,
                                     include: Workspace.isExported)
    }

    /// Unpacks an exported workspace into `prefix` (which must not exist, or be empty) and creates
    /// the folders export leaves out.
    public static func importArchive(_ archive: String, into prefix: String, limits: ArchiveLimits = ArchiveLimits()) throws -> Workspace {
        _ = try ArchiveExtractor.extract(archive: archive, into: prefix, limits: limits)
        let workspace = Workspace(root: prefix)
        guard FileManager.default.fileExists(atPath: workspace.planPath) else {
            throw WorkspaceError("\(archive) holds no plan/plan.yaml; it is not an exported workspace")
        }
        try workspace.createOutputDirectories()
        return workspace
    }

    /// The folders a workspace's processes write (models, logs) or keep keys in, relative to the root.
    public static let outputDirectories = ["save", "logs", "cert"]

    /// Creates `save/`, `logs/` and `cert/` when missing.
    public func createOutputDirectories() throws {
        for dir in [saveDirectory, logsDirectory] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        if !FileManager.default.fileExists(atPath: certificateDirectory) {
            try FileManager.default.createDirectory(atPath: certificateDirectory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
    }

    /// Makes a new workspace at `prefix` from the template `name` of an installation: the template's
    /// files, plus the installation's `plans/defaults` copied into `plan/defaults` so the workspace
    /// (and any archive of it) is complete on its own.
    public static func create(at prefix: String, template name: String, installation: Installation) throws -> Workspace {
        let source = "\(installation.templatesDirectory)/\(name)"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory), isDirectory.boolValue else {
            let known = installation.templateNames()
            throw WorkspaceError("no template '\(name)' in \(installation.templatesDirectory) (available: \(known.joined(separator: ", ")))")
        }
        if FileManager.default.fileExists(atPath: prefix) {
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: prefix)) ?? ["?"]
            guard contents.isEmpty else { throw WorkspaceError("\(prefix) already exists and is not empty") }
            try FileManager.default.removeItem(atPath: prefix)
        }
        let parent = (prefix as NSString).deletingLastPathComponent
        if !parent.isEmpty { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        // Copy into a temporary folder beside the destination and rename, so a failure leaves nothing half made.
        let staging = "\(parent.isEmpty ? "." : parent)/.\((prefix as NSString).lastPathComponent).creating-\(getpid())"
        try? FileManager.default.removeItem(atPath: staging)
        do {
            try FileManager.default.copyItem(atPath: source, toPath: staging)
            let defaults = "\(staging)/plan/defaults"
            if !FileManager.default.fileExists(atPath: defaults) {
                try FileManager.default.copyItem(atPath: installation.defaultsDirectory, toPath: defaults)
            }
            try Workspace(root: staging).createOutputDirectories()
            try FileManager.default.moveItem(atPath: staging, toPath: prefix)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
        return Workspace(root: prefix)
    }
}

/// Where SwiftFL's own files are: the workspace templates and the plan defaults.
public struct Installation: Sendable, Hashable {
    /// The folder holding `workspaces/` and `plans/`.
    public let root: String

    public init(root: String) { self.root = root }

    public var templatesDirectory: String { "\(root)/workspaces" }
    public var plansDirectory: String { "\(root)/plans" }
    public var defaultsDirectory: String { "\(root)/plans/defaults" }

    /// Template names, sorted.
    public func templateNames() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: templatesDirectory)) ?? [])
            .filter { FileManager.default.fileExists(atPath: "\(templatesDirectory)/\($0)/plan/plan.yaml") }.sorted()
    }

    /// `SWIFTFL_HOME` when set; otherwise the nearest folder above the running executable that holds
    /// `workspaces/` and `plans/defaults/`, directly (a build inside the repository finds the
    /// repository) or in `share/swiftfl/` (an installation: `<prefix>/bin/fx` finds
    /// `<prefix>/share/swiftfl`, wherever the prefix is).
    /// `executable` stands for the running one (tests give another).
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment,
                              executable: String? = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) throws -> Installation {
        if let home = environment["SWIFTFL_HOME"], !home.isEmpty {
            let found = Installation(root: home)
            guard found.isComplete else { throw WorkspaceError("SWIFTFL_HOME=\(home) holds no workspaces/ and plans/defaults/") }
            return found
        }
        var candidates: [String] = []
        if let executable { candidates.append(executable) }
        candidates.append(FileManager.default.currentDirectoryPath + "/.")
        for start in candidates {
            var dir = (start as NSString).deletingLastPathComponent
            while !dir.isEmpty && dir != "/" {
                for found in [Installation(root: dir), Installation(root: "\(dir)/share/swiftfl")] where found.isComplete { return found }
                dir = (dir as NSString).deletingLastPathComponent
            }
        }
        throw WorkspaceError("cannot find SwiftFL's workspaces/ and plans/ folders above the executable; set SWIFTFL_HOME to the folder holding them")
    }

    var isComplete: Bool {
        FileManager.default.fileExists(atPath: templatesDirectory) && FileManager.default.fileExists(atPath: defaultsDirectory)
    }
}

/// A workspace that cannot be created, read or exported, with the reason.
public struct WorkspaceError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
