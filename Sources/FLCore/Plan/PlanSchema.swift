/// What a plan file may hold, so that a misspelt key is refused where it is written instead of
/// being silently ignored while the code reads its default:
///
///     plan.yaml:6:5: aggregator.settings: unknown setting 'rounds_to_trian' (did you mean rounds_to_train?)
///
/// The rule for settings is that **the defaults files are the schema**: at a `.defaults` place a
/// key is known when the plan's own defaults, resolved as `Plan` resolves them but without the
/// plan's values, hold it (with its default, or null where the plan itself must give it). So a
/// plan written against a workspace's own copies of the defaults is checked against those copies,
/// and a top-level section that names no defaults is checked against the file it would name
/// (`PlanShape.defaults(fallback:)`). Where the plan chooses the names (tasks, tensors,
/// collaborators) the schema describes the shape instead (`PlanShape`).
///
/// A schema is applied by `Plan.load(path:searchRoots:schema:)` and `Plan.parse`, after `defaults:`
/// references are resolved; the first unknown key is reported with the nearest known name when one
/// is close, and otherwise with the list of known names.
public struct PlanSchema: Sendable {
    /// One top-level section of a plan and the shape of its contents.
    public struct Section: Sendable {
        public var name: String
        public var shape: PlanShape

        public init(_ name: String, _ shape: PlanShape) {
            self.name = name
            self.shape = shape
        }

        /// A section whose keys are those of its defaults (`defaults/<name>.yaml` when it names
        /// none); `settings` gives the shapes of the structures inside its `settings` that the
        /// plan shapes itself (user-named entries, free-form mappings).
        public static func defaults(_ name: String, settings: [String: PlanShape] = [:]) -> Section {
            Section(name, .defaults(nested: settings.isEmpty ? [:] : ["settings": .defaults(nested: settings)],
                                    fallback: "defaults/\(name).yaml"))
        }
    }

    /// The shape of the whole file.
    public let root: PlanShape
    /// What an unknown top-level key is called in errors: a `section` of a plan, or a `setting`.
    let topLevelNoun: String

    /// A file of any shape (`plan/cols.yaml`, `plan/data.yaml`).
    public init(root: PlanShape) {
        self.root = root
        topLevelNoun = "setting"
    }

    /// A plan made of these sections, in the order errors list them.
    public init(sections: [Section]) {
        var shapes: [String: PlanShape] = [:]
        for section in sections { shapes[section.name] = section.shape }
        root = .fields(sections.map(\.name), nested: shapes)
        topLevelNoun = "section"
    }

    /// Refuses the first key of `resolved` (the plan with its defaults resolved) that the schema does
    /// not know. `written` is the plan as parsed: its `defaults:` references, resolved alone, are
    /// the schema of `.defaults` places.
    func check(_ resolved: PlanNode, written: PlanNode, file: String, identity: String, searchRoots: [String]) throws(PlanError) {
        var resolver = DefaultsResolver(searchRoots: searchRoots)
        let defaults = try resolver.resolveFile(Self.defaultsReferences(of: written), name: file, identity: identity, reference: nil)
        var walk = Walk(resolver: resolver, file: file, identity: identity, searchRoots: searchRoots, topLevelNoun: topLevelNoun)
        try walk.check(resolved, root, schema: defaults, path: "")
    }

    /// `written` with every value dropped but the `defaults:` references of the file and of its
    /// sections: resolved, that is what the plan's defaults alone hold.
    static func defaultsReferences(of written: PlanNode) -> PlanNode {
        guard case let .mapping(top) = written.value else { return written }
        var kept = PlanMapping()
        for entry in top {
            if entry.key == "defaults" {
                kept.updateValue(entry.value, forKey: entry.key, keyLocation: entry.keyLocation)
            } else if case let .mapping(section) = entry.value.value, let reference = section.entry(forKey: "defaults") {
                var only = PlanMapping()
                only.updateValue(reference.value, forKey: reference.key, keyLocation: reference.keyLocation)
                kept.updateValue(PlanNode(.mapping(only), location: entry.value.location), forKey: entry.key, keyLocation: entry.keyLocation)
            }
        }
        return PlanNode(.mapping(kept), location: written.location)
    }

    /// The candidate `name` was most likely meant to be, or nil when none is close: the same name in
    /// another case or with `-` for `_`, one within a few edits (a transposition counts as one), or
    /// one that starts with the other (at least four characters).
    public static func closestName(to name: String, among candidates: [String]) -> String? {
        let key = normalized(name)
        var best: (name: String, score: Int)?
        for candidate in candidates {
            let other = normalized(candidate)
            let distance = editDistance(key, other)
            let limit = max(1, min(3, max(key.count, other.count) / 4))
            let shorter = min(key.count, other.count)
            let prefix = shorter >= 4 && (other.starts(with: key) || key.starts(with: other))
            let score: Int
            if distance <= limit {
                score = distance
            } else if prefix {
                score = limit + 1  // after every near spelling
            } else {
                continue
            }
            if best.map({ score < $0.score }) ?? true { best = (candidate, score) }
        }
        return best?.name
    }

    private static func normalized(_ name: String) -> [Unicode.Scalar] {
        name.lowercased().unicodeScalars.map { $0 == "-" || $0 == " " ? "_" : $0 }
    }

    /// Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
    /// neighbours each count one (`trian` is one edit from `train`).
    private static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var before = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    value = min(value, before[j - 2] + 1)
                }
                current[j] = value
            }
            (before, previous, current) = (previous, current, before)
        }
        return previous[b.count]
    }
}

/// One walk of a resolved plan against a schema; it keeps the resolver to read fallback defaults.
private struct Walk {
    var resolver: DefaultsResolver
    let file: String
    let identity: String
    let searchRoots: [String]
    let topLevelNoun: String

    /// `schema` is what the defaults hold at this place (nil when they hold nothing here).
    mutating func check(_ node: PlanNode, _ shape: PlanShape, schema: PlanNode?, path: String) throws(PlanError) {
        switch shape {
        case .value:
            return
        case .free:
            guard node.isNull || node.asMapping != nil else {
                throw PlanError(.type, file: node.location?.file ?? file, location: node.location, keyPath: path,
                                message: "expected a mapping (passed on unchecked to the site's own code), found \(node.value.summary)")
            }
        case let .items(item):
            guard let items = node.asSequence else { return }
            for (i, element) in items.enumerated() {
                try check(element, item, schema: nil, path: join(path, String(i)))
            }
        case let .fields(names, nested):
            guard let mapping = node.asMapping else { return }
            for entry in mapping {
                guard names.contains(entry.key) else { throw unknown(entry, at: path, known: names) }
                try check(entry.value, nested[entry.key] ?? .value, schema: schema?.asMapping?[entry.key], path: join(path, entry.key))
            }
        case let .entries(value, reserved):
            guard let mapping = node.asMapping else { return }
            for entry in mapping {
                if let special = reserved[entry.key] {
                    try check(entry.value, special, schema: schema?.asMapping?[entry.key], path: join(path, entry.key))
                } else {
                    try check(entry.value, value, schema: nil, path: join(path, entry.key))
                }
            }
        case let .defaults(nested, fallback):
            guard let mapping = node.asMapping, !mapping.isEmpty else { return }
            let known: PlanMapping
            if let schema {
                // The defaults hold a value here, not a mapping: whatever reads it checks the type.
                guard let held = schema.asMapping else { return }
                known = held
            } else if let fallback {
                guard let held = try resolver.defaultsIfPresent(fallback, forPlan: file, identity: identity) else {
                    throw noDefaults(node, at: path, fallback: fallback)
                }
                known = held
            } else {
                known = PlanMapping()
            }
            for entry in mapping {
                guard let held = known[entry.key] else { throw unknown(entry, at: path, known: known.keys) }
                try check(entry.value, nested[entry.key] ?? .defaults(), schema: held, path: join(path, entry.key))
            }
        }
    }

    private func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : path + "." + key
    }

    private func unknown(_ entry: PlanMapping.Entry, at path: String, known: [String]) -> PlanError {
        let noun = path.isEmpty ? topLevelNoun : "setting"
        let hint: String
        if let near = PlanSchema.closestName(to: entry.key, among: known) {
            hint = "did you mean \(near)?"
        } else if known.isEmpty {
            hint = "SwiftFL reads no \(noun)s here"
        } else {
            hint = "known: \(known.joined(separator: ", "))"
        }
        return PlanError(.unknownKey, file: entry.keyLocation?.file ?? file, location: entry.keyLocation, keyPath: path,
                         message: "unknown \(noun) '\(entry.key)' (\(hint))")
    }

    private func noDefaults(_ node: PlanNode, at path: String, fallback: String) -> PlanError {
        let searched = searchRoots.isEmpty ? "no search roots were given" : "searched " + searchRoots.joined(separator: ", ")
        return PlanError(.defaults, file: node.location?.file ?? file, location: node.location, keyPath: path,
                         message: "no defaults to check this section's keys against: name them (defaults: \(fallback)), "
                            + "or keep SwiftFL's \(fallback) in a search root (\(searched))")
    }
}
