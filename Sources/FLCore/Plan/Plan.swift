#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// A federation plan: a YAML mapping (see `YAMLParser` for the accepted subset) with every
/// `defaults:` reference resolved, as OpenFL's plans work.
///
/// Defaults: the top-level mapping of a file, and each top-level section that is a mapping, may hold
/// `defaults: PATH`. PATH is relative (no leading `/`, no `..`) and is looked up in `searchRoots`
/// in order; the first root holding the file wins. The defaults file must be a mapping and is itself
/// resolved the same way (its own top level and sections), then the mapping that referenced it is
/// merged over it: keys present in both are merged recursively when both values are mappings,
/// otherwise the referencing file's value replaces the default whole (sequences and scalars are never
/// merged), except that a null value (`settings:` with nothing under it) keeps a default mapping.
/// The `defaults` key is removed. Sections resolve before the top level, so the more specific
/// reference wins: the plan's own values, then its sections' defaults, then its top-level defaults.
/// Cycles and chains deeper than `maxDefaultsDepth` files are errors.
///
/// Every node keeps the location it was read from, so an error about a value inherited from a
/// defaults file names that file.
public struct Plan: Sendable, Hashable, PlanAccessible {
    /// The resolved plan; always a mapping.
    public let root: PlanNode
    /// The plan file's path as given (or the name given to `parse`).
    public let path: String
    /// The plan file followed by every defaults file read, in the order they were read.
    public let files: [String]

    /// Longest chain of defaults files (a plan referring to a file referring to another…).
    public static let maxDefaultsDepth = 32
    /// Plans are small; a bigger file is refused before it is read into memory.
    public static let maxFileSize = 16 << 20

    /// Wraps an already resolved plan; `root` should be a mapping.
    public init(root: PlanNode, path: String, files: [String]? = nil) {
        self.root = root
        self.path = path
        self.files = files ?? [path]
    }

    /// Reads, parses and resolves the plan at `path`.
    /// - Parameters:
    ///   - searchRoots: directories `defaults:` paths are resolved against, in order
    ///     (typically the workspace's `plan/` directory, then the installation's `plans/` directory).
    ///   - schema: what the file may hold; when given, a key it does not know is refused
    ///     (`PlanError.Kind.unknownKey`) with the nearest known name. Configuration files that are
    ///     not plans are read without one.
    public static func load(path: String, searchRoots: [String], schema: PlanSchema? = nil) throws(PlanError) -> Plan {
        let bytes = try readFile(path, reference: nil)
        let node = try YAMLParser.parse(bytes: bytes, file: path)
        return try resolve(node, path: path, identity: canonicalPath(path), searchRoots: searchRoots, schema: schema)
    }

    /// Parses and resolves plan text; `file` names it in locations and errors. `schema` as for `load`.
    public static func parse(text: String, file: String, searchRoots: [String] = [], schema: PlanSchema? = nil) throws(PlanError) -> Plan {
        let node = try YAMLParser.parse(text: text, file: file)
        return try resolve(node, path: file, identity: canonicalPath(file), searchRoots: searchRoots, schema: schema)
    }

    private static func resolve(_ node: PlanNode, path: String, identity: String, searchRoots: [String],
                                schema: PlanSchema?) throws(PlanError) -> Plan {
        var resolver = DefaultsResolver(searchRoots: searchRoots)
        let root = try resolver.resolveFile(node, name: path, identity: identity, reference: nil)
        if let schema {
            try schema.check(root, written: node, file: path, identity: identity, searchRoots: searchRoots)
        }
        return Plan(root: root, path: path, files: [path] + resolver.files)
    }

    /// `override` laid over `base` as defaults are: keys present in both merge recursively when both
    /// values are mappings; otherwise `override`'s value replaces the default whole, except that a null
    /// keeps a default mapping. Keys keep `base`'s order; new keys follow in `override`'s order.
    public static func mergeDefaults(base: PlanMapping, override: PlanMapping) -> PlanMapping {
        DefaultsResolver.merge(base: base, override: override)
    }

    // MARK: PlanAccessible

    public var accessNode: PlanNode { root }
    public var accessPath: String { "" }
    public var accessFile: String { path }

    // MARK: Files

    /// The file's bytes; errors point at `reference` (the `defaults:` entry) when there is one.
    static func readFile(_ path: String, reference: TextLocation?) throws(PlanError) -> [UInt8] {
        func failure(_ reason: String) -> PlanError {
            if let reference {
                return PlanError(.io, file: reference.file, location: reference, message: "cannot read \(path): \(reason)")
            }
            return PlanError(.io, file: path, message: "cannot read the file: \(reason)")
        }
        let url = URL(fileURLWithPath: path)
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber,
           size.intValue > maxFileSize {
            throw failure("expected at most \(maxFileSize) bytes, found \(size.intValue)")
        }
        do {
            return [UInt8](try Data(contentsOf: url))
        } catch {
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                throw failure("no such file")
            }
            throw failure(isDirectory.boolValue ? "it is a directory" : "\(error.localizedDescription)")
        }
    }

    /// A path that names a file the same way however it was reached (for cycle detection).
    static func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else {
            return URL(fileURLWithPath: path).standardizedFileURL.path
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Resolves `defaults:` references for one plan.
struct DefaultsResolver {
    let searchRoots: [String]
    /// Defaults files read so far, in order.
    private(set) var files: [String] = []
    /// The files being resolved, outermost first: names as written, identities for comparison.
    private var chain: [(name: String, identity: String)] = []

    init(searchRoots: [String]) {
        self.searchRoots = searchRoots
    }

    /// A whole file: its top level and its top-level sections.
    mutating func resolveFile(_ node: PlanNode, name: String, identity: String, reference: TextLocation?) throws(PlanError) -> PlanNode {
        guard case let .mapping(mapping) = node.value else {
            let what = reference == nil ? "a plan" : "a defaults file"
            throw PlanError(.syntax, file: node.location?.file ?? name, location: node.location,
                            message: "expected \(what) to be a mapping of sections, found \(node.location == nil && node.isNull ? "an empty document" : node.value.summary)")
        }
        chain.append((name, identity))
        defer { chain.removeLast() }
        return PlanNode(.mapping(try resolveMapping(mapping, path: "")), location: node.location)
    }

    /// `path` is empty for a file's top level, the section's key for a section.
    private mutating func resolveMapping(_ mapping: PlanMapping, path: String) throws(PlanError) -> PlanMapping {
        var mapping = mapping
        if path.isEmpty {
            for entry in mapping.entries where entry.key != "defaults" {
                if case let .mapping(section) = entry.value.value {
                    let resolved = try resolveMapping(section, path: entry.key)
                    mapping.updateValue(PlanNode(.mapping(resolved), location: entry.value.location), forKey: entry.key)
                }
            }
        }
        guard let reference = mapping.entry(forKey: "defaults") else { return mapping }
        let at = reference.keyLocation ?? reference.value.location
        guard case let .string(relative) = reference.value.value else {
            throw PlanError(.defaults, file: at?.file ?? chain.last?.name ?? "<plan>", location: reference.value.location ?? at,
                            keyPath: path.isEmpty ? "defaults" : path + ".defaults", message: "expected a relative path to a defaults file, found \(reference.value.value.summary)")
        }
        let base = try loadDefaults(relative, at: at)
        mapping.removeValue(forKey: "defaults")
        return Self.merge(base: base, override: mapping)
    }

    /// The defaults file `relative` resolved as a `defaults:` reference in the plan `name` would be,
    /// or nil when no search root holds it (`PlanSchema` checks a section that names no defaults
    /// against the file it would conventionally name).
    mutating func defaultsIfPresent(_ relative: String, forPlan name: String, identity: String) throws(PlanError) -> PlanMapping? {
        guard locate(relative) != nil else { return nil }
        chain.append((name, identity))
        defer { chain.removeLast() }
        return try loadDefaults(relative, at: nil)
    }

    /// The first search root's file at `relative`, if any root holds one.
    private func locate(_ relative: String) -> String? {
        for root in searchRoots {
            let candidate = root.hasSuffix("/") ? root + relative : root + "/" + relative
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue {
                return candidate
            }
        }
        return nil
    }

    private mutating func loadDefaults(_ relative: String, at reference: TextLocation?) throws(PlanError) -> PlanMapping {
        let file = reference?.file ?? chain.last?.name ?? "<plan>"
        func failure(_ message: String) -> PlanError {
            PlanError(.defaults, file: file, location: reference, message: message)
        }
        let components = relative.split(separator: "/", omittingEmptySubsequences: false)
        if relative.isEmpty || relative.hasPrefix("/") || components.contains("..") {
            throw failure("expected a relative path without '..' for defaults, found \(JSONWriter.quoted(relative)); defaults files are looked up only inside the search roots")
        }
        guard let path = locate(relative) else {
            let roots = searchRoots.isEmpty ? "no search roots were given" : "searched " + searchRoots.joined(separator: ", ")
            throw failure("expected the defaults file \(relative) to exist, found none (\(roots))")
        }
        let identity = Plan.canonicalPath(path)
        if chain.contains(where: { $0.identity == identity }) {
            let names = chain.map(\.name) + [relative]
            throw failure("defaults cycle: \(names.joined(separator: " -> "))")
        }
        if chain.count >= Plan.maxDefaultsDepth {
            throw failure("expected at most \(Plan.maxDefaultsDepth) levels of defaults files, found more: \((chain.map(\.name) + [relative]).joined(separator: " -> "))")
        }
        let bytes = try Plan.readFile(path, reference: reference)
        let node = try YAMLParser.parse(bytes: bytes, file: path)
        files.append(path)
        let resolved = try resolveFile(node, name: relative, identity: identity, reference: reference)
        guard case let .mapping(mapping) = resolved.value else { return PlanMapping() }
        return mapping
    }

    /// `override` laid over `base`: mappings merge recursively, anything else replaces the default,
    /// except that null keeps a default mapping. Keys keep `base`'s order; new keys follow.
    static func merge(base: PlanMapping, override: PlanMapping) -> PlanMapping {
        var result = base
        for entry in override {
            if let existing = result[entry.key], case let .mapping(baseMapping) = existing.value {
                switch entry.value.value {
                case let .mapping(overrideMapping):
                    let merged = merge(base: baseMapping, override: overrideMapping)
                    result.updateValue(PlanNode(.mapping(merged), location: entry.value.location), forKey: entry.key, keyLocation: entry.keyLocation)
                    continue
                case .null:
                    continue
                default:
                    break
                }
            }
            result.updateValue(entry.value, forKey: entry.key, keyLocation: entry.keyLocation)
        }
        return result
    }
}
