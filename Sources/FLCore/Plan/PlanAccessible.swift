/// Typed reads of settings by dotted path (`"aggregator.settings.rounds_to_train"`; a numeric
/// component indexes a sequence: `"tasks.train.kwargs.metrics.0"`), with errors that name the file,
/// line, column and full path:
///
///     plan.yaml:12:22: aggregator.settings.rounds_to_train: expected an integer, found string "ten"
///     plan.yaml: aggregator.settings.rounds_to_train is missing (expected an integer)
///
/// Each type has three forms: `int(path)` requires the setting; `int(path, default:)` and
/// `intIfPresent(path)` treat a missing or null setting as absent. A null on the way (`settings:`
/// with nothing under it) counts as missing; any other non-mapping on the way is a type error.
/// `Plan`, `PlanNode` and `PlanSection` provide these; a `PlanSection` remembers its path, so errors
/// from a section obtained by `section(_:)`, `entries(_:)` or `items(_:)` show the full path.
public protocol PlanAccessible {
    /// The node paths start from.
    var accessNode: PlanNode { get }
    /// The dotted path of `accessNode` in its plan (empty at the root); errors put it before the path asked for.
    var accessPath: String { get }
    /// The file named when a setting is missing (and has therefore no location of its own).
    var accessFile: String { get }
}

/// A node together with its path in the plan, for reading nested settings with full-path errors
/// (one task, one collaborator, one kwargs mapping).
public struct PlanSection: Sendable, Hashable, PlanAccessible {
    public let node: PlanNode
    /// Dotted path from the plan's root.
    public let path: String
    /// The plan file, named in errors about missing settings.
    public let file: String

    public init(node: PlanNode, path: String, file: String) {
        self.node = node
        self.path = path
        self.file = file
    }

    /// The last path component: the key of this section in its mapping (or its index in a sequence).
    public var name: String {
        guard let dot = path.lastIndex(of: ".") else { return path }
        return String(path[path.index(after: dot)...])
    }

    public var accessNode: PlanNode { node }
    public var accessPath: String { path }
    public var accessFile: String { file }
}

extension PlanNode: PlanAccessible {
    public var accessNode: PlanNode { self }
    public var accessPath: String { "" }
    public var accessFile: String { location?.file ?? "<plan>" }
}

extension PlanAccessible {
    /// The node at `path`, or nil if anything on the way is missing or is not a mapping (or sequence
    /// for a numeric component). An empty path is the node itself.
    public func node(at path: String) -> PlanNode? {
        PlanReadLog.note(file: accessFile, path: fullPath(path))
        var node = accessNode
        for component in Self.components(path) {
            switch node.value {
            case let .mapping(mapping):
                guard let next = mapping[component] else { return nil }
                node = next
            case let .sequence(items):
                guard let i = Int(component), i >= 0, i < items.count else { return nil }
                node = items[i]
            default:
                return nil
            }
        }
        return node
    }

    public func int(_ path: String) throws(PlanError) -> Int { try required(path, "an integer", Self.int) }
    public func int(_ path: String, default value: Int) throws(PlanError) -> Int { try optional(path, "an integer", Self.int) ?? value }
    public func intIfPresent(_ path: String) throws(PlanError) -> Int? { try optional(path, "an integer", Self.int) }

    /// A float or an integer, as a Double.
    public func double(_ path: String) throws(PlanError) -> Double { try required(path, "a number", Self.double) }
    public func double(_ path: String, default value: Double) throws(PlanError) -> Double { try optional(path, "a number", Self.double) ?? value }
    public func doubleIfPresent(_ path: String) throws(PlanError) -> Double? { try optional(path, "a number", Self.double) }

    public func string(_ path: String) throws(PlanError) -> String { try required(path, "a string", Self.string) }
    public func string(_ path: String, default value: String) throws(PlanError) -> String { try optional(path, "a string", Self.string) ?? value }
    public func stringIfPresent(_ path: String) throws(PlanError) -> String? { try optional(path, "a string", Self.string) }

    public func bool(_ path: String) throws(PlanError) -> Bool { try required(path, "a boolean (true or false)", Self.bool) }
    public func bool(_ path: String, default value: Bool) throws(PlanError) -> Bool { try optional(path, "a boolean (true or false)", Self.bool) ?? value }
    public func boolIfPresent(_ path: String) throws(PlanError) -> Bool? { try optional(path, "a boolean (true or false)", Self.bool) }

    /// A sequence whose items are all strings.
    public func strings(_ path: String) throws(PlanError) -> [String] { try required(path, "a sequence of strings", stringList) }
    public func strings(_ path: String, default value: [String]) throws(PlanError) -> [String] { try optional(path, "a sequence of strings", stringList) ?? value }
    public func stringsIfPresent(_ path: String) throws(PlanError) -> [String]? { try optional(path, "a sequence of strings", stringList) }

    public func mapping(_ path: String) throws(PlanError) -> PlanMapping { try required(path, "a mapping", Self.mapping) }
    public func mapping(_ path: String, default value: PlanMapping) throws(PlanError) -> PlanMapping { try optional(path, "a mapping", Self.mapping) ?? value }
    public func mappingIfPresent(_ path: String) throws(PlanError) -> PlanMapping? { try optional(path, "a mapping", Self.mapping) }

    /// The node at `path` (of any type, null included) as a section that reports full paths.
    public func section(_ path: String) throws(PlanError) -> PlanSection {
        guard let node = try find(path) else { throw missing(path, "a value") }
        return PlanSection(node: node, path: fullPath(path), file: accessFile)
    }

    /// Like `section(_:)`, but nil when the path is missing or null.
    public func sectionIfPresent(_ path: String) throws(PlanError) -> PlanSection? {
        guard let node = try find(path), !node.isNull else { return nil }
        return PlanSection(node: node, path: fullPath(path), file: accessFile)
    }

    /// The entries of the mapping at `path`, in document order, each as a section named by its key.
    public func entries(_ path: String) throws(PlanError) -> [PlanSection] {
        let base = fullPath(path)
        let mapping = try required(path, "a mapping", Self.mapping)
        return mapping.entries.map { PlanSection(node: $0.value, path: Self.join(base, $0.key), file: accessFile) }
    }

    /// The items of the sequence at `path`, each as a section named by its index.
    public func items(_ path: String) throws(PlanError) -> [PlanSection] {
        let base = fullPath(path)
        let items = try required(path, "a sequence", { node, _ throws(PlanError) in node.asSequence })
        return items.enumerated().map { PlanSection(node: $0.element, path: Self.join(base, String($0.offset)), file: accessFile) }
    }

    // MARK: Conversions

    private static func int(_ node: PlanNode, _ path: String) -> Int? { node.asInt }
    private static func double(_ node: PlanNode, _ path: String) -> Double? { node.asDouble }
    private static func string(_ node: PlanNode, _ path: String) -> String? { node.asString }
    private static func bool(_ node: PlanNode, _ path: String) -> Bool? { node.asBool }
    private static func mapping(_ node: PlanNode, _ path: String) -> PlanMapping? { node.asMapping }

    private func stringList(_ node: PlanNode, _ path: String) throws(PlanError) -> [String]? {
        guard let items = node.asSequence else { return nil }
        var result: [String] = []
        result.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard let s = item.asString else { throw typeError(item, Self.join(path, String(i)), "a string") }
            result.append(s)
        }
        return result
    }

    // MARK: Lookup

    private static func components(_ path: String) -> [String] {
        path.isEmpty ? [] : path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    }

    private static func join(_ base: String, _ component: String) -> String {
        base.isEmpty ? component : base + "." + component
    }

    private func fullPath(_ path: String) -> String {
        path.isEmpty ? accessPath : Self.join(accessPath, path)
    }

    /// The node at `path`; nil if missing (or a null on the way); a type error for a scalar on the way.
    private func find(_ path: String) throws(PlanError) -> PlanNode? {
        PlanReadLog.note(file: accessFile, path: fullPath(path))
        var node = accessNode
        var walked = accessPath
        for component in Self.components(path) {
            switch node.value {
            case let .mapping(mapping):
                guard let next = mapping[component] else { return nil }
                node = next
            case .null:
                return nil
            case let .sequence(items):
                guard let i = Int(component) else {
                    throw typeError(node, walked, "a mapping (to look up \(JSONWriter.quoted(component)))")
                }
                guard i >= 0, i < items.count else { return nil }
                node = items[i]
            default:
                throw typeError(node, walked, "a mapping (to look up \(JSONWriter.quoted(component)))")
            }
            walked = Self.join(walked, component)
        }
        return node
    }

    private func required<T>(_ path: String, _ expected: String,
                             _ convert: (PlanNode, String) throws(PlanError) -> T?) throws(PlanError) -> T {
        guard let node = try find(path) else { throw missing(path, expected) }
        guard let value = try convert(node, fullPath(path)) else { throw typeError(node, fullPath(path), expected) }
        return value
    }

    private func optional<T>(_ path: String, _ expected: String,
                             _ convert: (PlanNode, String) throws(PlanError) -> T?) throws(PlanError) -> T? {
        guard let node = try find(path), !node.isNull else { return nil }
        guard let value = try convert(node, fullPath(path)) else { throw typeError(node, fullPath(path), expected) }
        return value
    }

    private func typeError(_ node: PlanNode, _ path: String, _ expected: String) -> PlanError {
        PlanError(.type, file: node.location?.file ?? accessFile, location: node.location, keyPath: path,
                  message: "expected \(expected), found \(node.value.summary)")
    }

    private func missing(_ path: String, _ expected: String) -> PlanError {
        PlanError(.missing, file: accessFile, keyPath: fullPath(path), message: "expected \(expected)")
    }
}
