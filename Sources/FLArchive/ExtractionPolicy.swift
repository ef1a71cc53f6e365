/// Decides, entry by entry and without touching the disk, what extracting an archive would do,
/// and refuses whatever could write outside the destination or exceed the limits.
///
/// It keeps a tree of every path created so far (one node per path component, so checking a
/// path costs its length, not its length times its depth). The rules:
/// - only regular files, directories, symbolic links and hard links;
/// - paths relative, without `..`, NUL, or over-long components (`ArchivePath.components`);
/// - no entry beneath a symbolic link or a file: nothing is ever written through a link;
/// - no path used twice, except a directory repeated;
/// - symbolic link targets checked by `ArchivePath.checkSymlinkTarget`;
/// - hard links only to regular files extracted earlier;
/// - entry count, file size and total size within `ArchiveLimits`.
struct ExtractionPolicy {
    enum NodeKind: Equatable {
        case directory
        case file
        case symbolicLink
    }

    /// What to do for one admitted entry; paths are relative to the destination.
    enum Action: Equatable {
        /// A directory entry naming the destination itself (`./`): nothing to do.
        case none
        case directory(path: [UInt8], exists: Bool)
        case file(path: [UInt8], executable: Bool, size: Int64)
        case symbolicLink(path: [UInt8], target: [UInt8])
        case hardLink(path: [UInt8], target: [UInt8])
    }

    struct Step: Equatable {
        /// Missing parent directories, outermost first.
        var parents: [[UInt8]]
        var action: Action
    }

    private struct ChildKey: Hashable {
        var parent: Int
        var name: [UInt8]
    }

    let limits: ArchiveLimits
    private var children: [ChildKey: Int] = [:]
    /// Node 0 is the destination.
    private var kinds: [NodeKind] = [.directory]
    private(set) var entryCount = 0
    private(set) var totalSize: Int64 = 0
    private(set) var fileCount = 0
    private(set) var directoryCount = 0
    private(set) var linkCount = 0

    init(limits: ArchiveLimits) {
        self.limits = limits
    }

    /// Checks `entry` against every rule and records what it creates.
    mutating func admit(_ entry: TarEntry) throws(ArchivePath.Violation) -> Step {
        entryCount += 1
        if entryCount > limits.maximumEntryCount { throw .init(.tooManyEntries(limit: limits.maximumEntryCount)) }
        switch entry.kind {
        case .file, .directory, .symbolicLink, .hardLink: break
        default: throw .init(.unsupportedType(entry.kind.description))
        }
        let raw = Array(entry.path.utf8)
        let components = try ArchivePath.components(of: raw)
        if components.isEmpty {
            if entry.kind == .directory { return Step(parents: [], action: .none) }
            throw .init(.emptyPath)
        }
        if entry.kind != .directory && raw.last == UInt8(ascii: "/") { throw .init(.trailingSlash) }
        let (node, missingFrom) = try parents(of: components)
        let path = ArchivePath.join(components)
        let existing = missingFrom == nil ? children[ChildKey(parent: node, name: components[components.count - 1])] : nil
        if entry.kind == .directory, let existing {
            guard kinds[existing] == .directory else { throw .init(.duplicateEntry) }
            return Step(parents: [], action: .directory(path: path, exists: true))
        }
        let (action, newKind) = try action(for: entry, path: path, linkDepth: components.count - 1, exists: existing != nil)
        let parents = record(newKind, of: entry, components, under: node, missingFrom: missingFrom)
        return Step(parents: parents, action: action)
    }

    /// The node of the deepest parent that exists, and the index of the first missing one (nil when
    /// all exist). Each existing parent must be a directory.
    private func parents(of components: [[UInt8]]) throws(ArchivePath.Violation) -> (node: Int, missingFrom: Int?) {
        var node = 0
        for i in 0..<(components.count - 1) {
            guard let child = children[ChildKey(parent: node, name: components[i])] else { return (node, i) }
            switch kinds[child] {
            case .directory: node = child
            case .symbolicLink: throw .init(.parentIsSymlink(Self.text(components[...i])))
            case .file: throw .init(.parentIsNotDirectory(Self.text(components[...i])))
            }
        }
        return (node, nil)
    }

    /// What extracting a new `entry` at `path` does, within the limits, and the kind of node it makes.
    private func action(for entry: TarEntry, path: [UInt8], linkDepth: Int, exists: Bool) throws(ArchivePath.Violation) -> (Action, NodeKind) {
        if exists { throw .init(.duplicateEntry) }
        switch entry.kind {
        case .directory:
            return (.directory(path: path, exists: false), .directory)
        case .file:
            if entry.size > limits.maximumFileSize {
                throw .init(.fileTooLarge(size: entry.size, limit: limits.maximumFileSize))
            }
            if entry.size > limits.maximumTotalSize - totalSize {
                throw .init(.totalSizeExceeded(limit: limits.maximumTotalSize))
            }
            return (.file(path: path, executable: entry.mode & 0o111 != 0, size: entry.size), .file)
        case .symbolicLink:
            let target = Array(entry.linkTarget.utf8)
            try ArchivePath.checkSymlinkTarget(target, linkDepth: linkDepth)
            return (.symbolicLink(path: path, target: target), .symbolicLink)
        case .hardLink:
            return (.hardLink(path: path, target: try hardLinkTarget(entry.linkTarget)), .file)
        default:
            throw .init(.unsupportedType(entry.kind.description))
        }
    }

    /// Records an admitted entry and the missing parents it creates; returns those parents' paths.
    private mutating func record(_ newKind: NodeKind, of entry: TarEntry, _ components: [[UInt8]], under parent: Int, missingFrom: Int?) -> [[UInt8]] {
        var node = parent
        var parents: [[UInt8]] = []
        if let missingFrom {
            for i in missingFrom..<(components.count - 1) {
                let created = kinds.count
                kinds.append(.directory)
                children[ChildKey(parent: node, name: components[i])] = created
                node = created
                parents.append(ArchivePath.join(components[...i]))
            }
        }
        kinds.append(newKind)
        children[ChildKey(parent: node, name: components[components.count - 1])] = kinds.count - 1
        switch newKind {
        case .directory: directoryCount += 1
        case .file where entry.kind == .file:
            fileCount += 1
            totalSize += entry.size
        default: linkCount += 1
        }
        return parents
    }

    /// A hard link's target is an archive path (relative to the destination, not to the link)
    /// that must name a regular file admitted earlier.
    private func hardLinkTarget(_ target: String) throws(ArchivePath.Violation) -> [UInt8] {
        let raw = Array(target.utf8)
        let components: [[UInt8]]
        do {
            components = try ArchivePath.components(of: raw)
        } catch {
            switch error.rule {
            case .emptyPath: throw .init(.emptyLinkTarget)
            case .absolutePath: throw .init(.absoluteLinkTarget(target))
            case .parentComponent: throw .init(.linkEscapes(target))
            default: throw error
            }
        }
        var node = 0
        for component in components {
            guard let child = children[ChildKey(parent: node, name: component)] else {
                throw .init(.hardLinkTargetMissing(target))
            }
            node = child
        }
        guard !components.isEmpty, kinds[node] == .file else { throw .init(.hardLinkTargetMissing(target)) }
        return ArchivePath.join(components)
    }

    private static func text(_ components: ArraySlice<[UInt8]>) -> String {
        String(decoding: ArchivePath.join(components), as: UTF8.self)
    }
}
