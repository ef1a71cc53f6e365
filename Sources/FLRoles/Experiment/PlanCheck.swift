import FLCore
import FLTraining

/// Helpers that turn a setting whose value is wrong for the experiment into a `PlanError` at its line.
enum PlanCheck {
    static func error(_ section: some PlanAccessible, _ path: String, _ message: String) -> PlanError {
        let node = path.isEmpty ? section.accessNode : section.node(at: path)
        let full = [section.accessPath, path].filter { !$0.isEmpty }.joined(separator: ".")
        return PlanError(.type, file: node?.location?.file ?? section.accessFile, location: node?.location, keyPath: full, message: message)
    }

    /// A path setting that must name something inside the workspace (`ContainedPath.problem`);
    /// `default` nil makes it required.
    static func containedPath(_ section: some PlanAccessible, _ path: String, default value: String?) throws -> String {
        let text = try value.map { try section.string(path, default: $0) } ?? section.string(path)
        if let problem = ContainedPath.problem(text) { throw error(section, path, problem) }
        return text
    }

    /// Like `containedPath`, for a setting that may be absent or null.
    static func containedPathIfPresent(_ section: some PlanAccessible, _ path: String) throws -> String? {
        guard let text = try section.stringIfPresent(path) else { return nil }
        if let problem = ContainedPath.problem(text) { throw error(section, path, problem) }
        return text
    }

    static func positive(_ plan: Plan, _ path: String, default value: Double) throws -> Double {
        let v = try plan.double(path, default: value)
        guard v > 0, v.isFinite else { throw error(plan, path, "expected a positive number, found \(v)") }
        return v
    }

    /// A task argument from a plan value; mappings are not arguments.
    static func argument(_ section: PlanSection) throws -> TaskArgument {
        func convert(_ node: PlanNode, _ path: String) throws -> TaskArgument {
            switch node.value {
            case let .bool(b): return .bool(b)
            case let .int(i): return .int(i)
            case let .float(d): return .double(d)
            case let .string(s): return .string(s)
            case let .sequence(items): return .list(try items.enumerated().map { try convert($0.element, "\(path).\($0.offset)") })
            case .null, .mapping:
                throw PlanError(.type, file: node.location?.file ?? section.file, location: node.location, keyPath: path,
                                message: "expected a number, string, boolean or list as a task argument")
            }
        }
        return try convert(section.node, section.path)
    }
}
