/// The query file (or `--query` text), YAML:
///
/// ```yaml
/// columns: [mean radius, mean texture]   # or: all (every feature column)
/// statistics: [count, mean, std, histogram, quantiles]
///                                        # default: count, mean, std, and histogram / quantiles
///                                        # when their settings below are given
/// by: label                              # optional: one cell per label value
/// histogram:                             # fixed bins: either edges ...
///   edges: [0, 10, 20, 30]
///   # ... or evenly spaced: min: 0, max: 30, bins: 10
/// quantiles: [0.25, 0.5, 0.75]           # levels strictly between 0 and 1
/// timeout: 10                            # seconds the Director waits for the sites (at most 600)
/// ```
///
/// Inline, the same as a flow mapping: `{columns: [mean radius], statistics: [count, mean]}`.
extension AnalyticsQuery {
    static let keys = ["columns", "statistics", "by", "histogram", "quantiles", "timeout"]

    /// Parses a query; errors name the file (`source`), line, column and field.
    public static func parse(_ text: String, source: String = "<query>") throws -> AnalyticsQuery {
        let root = try YAMLParser.parse(text: text, file: source)
        guard let mapping = root.asMapping else {
            throw AnalyticsQueryError(field: "query", "expected a mapping of \(keys.joined(separator: ", ")), found \(root.value.summary)", location: root.location)
        }
        for entry in mapping where !keys.contains(entry.key) {
            throw AnalyticsQueryError(field: entry.key, "unknown setting (a query has \(keys.joined(separator: ", ")))", location: entry.keyLocation)
        }
        guard let columnsNode = mapping["columns"] else { throw AnalyticsQueryError(field: "columns", "missing (a list of columns, or all)", location: root.location) }
        let columns: [String] = columnsNode.asString == "all" ? [] : try strings(columnsNode, "columns")
        let edges = try mapping["histogram"].map { try histogramEdges($0) } ?? []
        let levels = try mapping["quantiles"].map { try numbers($0, "quantiles") } ?? []
        var statistics: [AnalyticsStatistic] = [.count, .mean, .std] + (edges.isEmpty ? [] : [.histogram]) + (levels.isEmpty ? [] : [.quantiles])
        if let node = mapping["statistics"] {
            statistics = try strings(node, "statistics").enumerated().map { i, name throws(AnalyticsQueryError) in
                guard let s = AnalyticsStatistic(rawValue: name) else {
                    throw AnalyticsQueryError(field: "statistics[\(i)]", "unknown statistic '\(name)' (\(AnalyticsStatistic.allCases.map(\.rawValue).joined(separator: ", ")))",
                                              location: node.asSequence?[i].location)
                }
                return s
            }
        }
        var groupBy: String?
        if let node = mapping["by"], !node.isNull {
            guard let name = node.asString else { throw AnalyticsQueryError(field: "by", "expected a column name, found \(node.value.summary)", location: node.location) }
            groupBy = name
        }
        var deadline = AnalyticsLimits.defaultDeadlineSeconds
        if let node = mapping["timeout"] {
            guard let seconds = node.asDouble else { throw AnalyticsQueryError(field: "timeout", "expected seconds, found \(node.value.summary)", location: node.location) }
            deadline = seconds
        }
        let query = AnalyticsQuery(columns: columns, statistics: statistics, groupBy: groupBy, histogramEdges: edges, quantiles: levels,
                                   deadlineSeconds: deadline)
        do { try query.check() } catch {
            var located = error
            located.location = location(of: error.field, in: mapping) ?? root.location
            throw located
        }
        return query
    }

    /// `histogram: {edges: [...]}` or `histogram: {min: a, max: b, bins: n}` (or a bare list of edges).
    private static func histogramEdges(_ node: PlanNode) throws(AnalyticsQueryError) -> [Double] {
        if node.asSequence != nil { return try numbers(node, "histogram") }
        guard let spec = node.asMapping else {
            throw AnalyticsQueryError(field: "histogram", "expected edges: [...] or min, max and bins, found \(node.value.summary)", location: node.location)
        }
        for entry in spec where !["edges", "min", "max", "bins"].contains(entry.key) {
            throw AnalyticsQueryError(field: "histogram.\(entry.key)", "unknown setting (edges, or min, max and bins)", location: entry.keyLocation)
        }
        if let edges = spec["edges"] {
            guard spec["min"] == nil, spec["max"] == nil, spec["bins"] == nil else {
                throw AnalyticsQueryError(field: "histogram", "give edges, or min, max and bins, not both", location: node.location)
            }
            return try numbers(edges, "histogram.edges")
        }
        func number(_ key: String) throws(AnalyticsQueryError) -> PlanNode {
            guard let value = spec[key] else { throw AnalyticsQueryError(field: "histogram.\(key)", "missing (edges, or min, max and bins)", location: node.location) }
            return value
        }
        let (minNode, maxNode, binsNode) = (try number("min"), try number("max"), try number("bins"))
        guard let low = minNode.asDouble, low.isFinite else { throw AnalyticsQueryError(field: "histogram.min", "expected a finite number", location: minNode.location) }
        guard let high = maxNode.asDouble, high.isFinite, high > low else {
            throw AnalyticsQueryError(field: "histogram.max", "expected a finite number above min (\(low))", location: maxNode.location)
        }
        guard let bins = binsNode.asInt, bins >= 1 else { throw AnalyticsQueryError(field: "histogram.bins", "expected a whole number of bins, at least 1", location: binsNode.location) }
        guard bins <= AnalyticsLimits.maximumBins else {
            throw AnalyticsQueryError(field: "histogram.bins", "\(bins) bins; a query asks for at most \(AnalyticsLimits.maximumBins)", location: binsNode.location)
        }
        return (0...bins).map { i in i == bins ? high : low + (high - low) * Double(i) / Double(bins) }
    }

    private static func strings(_ node: PlanNode, _ field: String) throws(AnalyticsQueryError) -> [String] {
        guard let items = node.asSequence else { throw AnalyticsQueryError(field: field, "expected a list, found \(node.value.summary)", location: node.location) }
        return try items.enumerated().map { i, item throws(AnalyticsQueryError) in
            // A column named 12 is still a column name.
            switch item.value {
            case let .string(s): return s
            case let .int(n): return String(n)
            default: throw AnalyticsQueryError(field: "\(field)[\(i)]", "expected a name, found \(item.value.summary)", location: item.location)
            }
        }
    }

    private static func numbers(_ node: PlanNode, _ field: String) throws(AnalyticsQueryError) -> [Double] {
        guard let items = node.asSequence else { throw AnalyticsQueryError(field: field, "expected a list of numbers, found \(node.value.summary)", location: node.location) }
        return try items.enumerated().map { i, item throws(AnalyticsQueryError) in
            guard let value = item.asDouble else {
                throw AnalyticsQueryError(field: "\(field)[\(i)]", "expected a number, found \(item.value.summary)", location: item.location)
            }
            return value
        }
    }

    /// Where `field` (`columns[2]`, `histogram.edges[1]`, `timeout`) is in the query's text.
    private static func location(of field: String, in mapping: PlanMapping) -> TextLocation? {
        let parts = field.split(separator: ".").map(String.init)
        var node: PlanNode? = nil
        var current: PlanMapping? = mapping
        for part in parts {
            let (key, index) = part.firstIndex(of: "[").map { (String(part[..<$0]), Int(part[part.index(after: $0)...].dropLast())) } ?? (part, nil)
            guard let next = current?[key] else { return node?.location }
            node = index.flatMap { i in next.asSequence.flatMap { i < $0.count ? $0[i] : nil } } ?? next
            current = node?.asMapping
        }
        return node?.location
    }
}
