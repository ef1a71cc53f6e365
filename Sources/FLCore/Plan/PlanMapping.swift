/// The entries of a mapping in document order, with lookup by key through an index.
///
/// Equality ignores key order (as YAML and JSON do for mappings) and locations; output that must be
/// stable (canonical JSON) sorts keys itself. Keys are strings: the parser refuses other key types.
/// Like Swift's `String`, keys that are canonically equivalent Unicode are the same key.
public struct PlanMapping: Sendable, Hashable, Sequence {
    /// One `key: value` entry and where its key was written.
    public struct Entry: Sendable, Hashable {
        public var key: String
        public var keyLocation: TextLocation?
        public var value: PlanNode

        public init(key: String, keyLocation: TextLocation? = nil, value: PlanNode) {
            self.key = key
            self.keyLocation = keyLocation
            self.value = value
        }

        public static func == (lhs: Entry, rhs: Entry) -> Bool { lhs.key == rhs.key && lhs.value == rhs.value }
        public func hash(into hasher: inout Hasher) {
            hasher.combine(key)
            hasher.combine(value)
        }
    }

    public private(set) var entries: [Entry] = []
    private var positions: [String: Int] = [:]

    public init() {}

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var keys: [String] { entries.map(\.key) }

    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }

    public func contains(_ key: String) -> Bool { positions[key] != nil }

    public func entry(forKey key: String) -> Entry? { positions[key].map { entries[$0] } }

    /// The value for `key`; setting nil removes the entry, setting a value replaces it in place or appends it.
    public subscript(key: String) -> PlanNode? {
        get { positions[key].map { entries[$0].value } }
        set {
            if let newValue { updateValue(newValue, forKey: key) } else { removeValue(forKey: key) }
        }
    }

    /// Replaces the value of `key` where it stands, or appends a new entry; returns the old value.
    /// The key location is replaced only when one is given.
    @discardableResult
    public mutating func updateValue(_ value: PlanNode, forKey key: String, keyLocation: TextLocation? = nil) -> PlanNode? {
        if let i = positions[key] {
            let old = entries[i].value
            entries[i].value = value
            if let keyLocation { entries[i].keyLocation = keyLocation }
            return old
        }
        positions[key] = entries.count
        entries.append(Entry(key: key, keyLocation: keyLocation, value: value))
        return nil
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> PlanNode? {
        guard let i = positions.removeValue(forKey: key) else { return nil }
        let old = entries.remove(at: i).value
        for j in i..<entries.count { positions[entries[j].key] = j }
        return old
    }

    public static func == (lhs: PlanMapping, rhs: PlanMapping) -> Bool {
        guard lhs.entries.count == rhs.entries.count else { return false }
        for entry in lhs.entries {
            guard let other = rhs[entry.key], other == entry.value else { return false }
        }
        return true
    }

    /// Order-independent, to agree with `==`.
    public func hash(into hasher: inout Hasher) {
        var sum = 0
        for entry in entries { sum &+= entry.hashValue }
        hasher.combine(entries.count)
        hasher.combine(sum)
    }
}
