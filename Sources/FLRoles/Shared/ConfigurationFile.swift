import Foundation
import FLCore
import FLWire
import FLPKI

/// A Director's or Envoy's YAML configuration, read with the plan reader so every error names
/// `file:line:column`. Keys nobody reads are refused (a misspelt key would otherwise be silently
/// ignored), and relative paths are resolved against the file's own folder.
struct ConfigurationFile {
    let plan: Plan
    /// The folder of the configuration file: relative paths in it start there.
    let directory: String

    init(path: String) throws {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        guard FileManager.default.fileExists(atPath: absolute) else {
            throw PlanError(.io, file: path, message: "no such file")
        }
        plan = try Plan.load(path: absolute, searchRoots: [])
        directory = (absolute as NSString).deletingLastPathComponent
        guard plan.root.asMapping != nil || plan.root.isNull else {
            throw PlanError(.type, file: plan.path, location: plan.root.location, message: "expected a mapping of settings, found \(plan.root.value.summary)")
        }
    }

    /// Refuses keys of the mapping at `path` (the root when empty) that are not in `allowed`.
    func checkKeys(_ path: String, _ allowed: [String]) throws {
        let node = path.isEmpty ? plan.root : plan.node(at: path)
        guard let mapping = node?.asMapping else {
            if let node, !node.isNull {
                throw PlanError(.type, file: node.location?.file ?? plan.path, location: node.location, keyPath: path,
                                message: "expected a mapping, found \(node.value.summary)")
            }
            return
        }
        for entry in mapping where !allowed.contains(entry.key) {
            let full = path.isEmpty ? entry.key : "\(path).\(entry.key)"
            throw PlanError(.type, file: entry.keyLocation?.file ?? plan.path, location: entry.keyLocation, keyPath: full,
                            message: "unknown setting (expected one of: \(allowed.joined(separator: ", ")))")
        }
    }

    /// An error about the value at `path`, pointing at it.
    func error(_ path: String, _ message: String) -> PlanError {
        let node = plan.node(at: path)
        return PlanError(.type, file: node?.location?.file ?? plan.path, location: node?.location, keyPath: path, message: message)
    }

    /// A path setting made absolute against the configuration's folder.
    func path(_ key: String, default value: String) throws -> String {
        resolve(try plan.string(key, default: value))
    }

    /// An optional path setting made absolute against the configuration's folder; nil when absent or null.
    func optionalPath(_ key: String) throws -> String? {
        try plan.stringIfPresent(key).map(resolve)
    }

    func resolve(_ path: String) -> String {
        let joined = path.hasPrefix("/") ? path : "\(directory)/\(path)"
        return URL(fileURLWithPath: joined).standardizedFileURL.path
    }

    /// A shape: a sequence of 1 to 8 positive integers.
    func shape(_ key: String) throws -> [Int] {
        let items = try plan.items(key)
        var dims: [Int] = []
        for item in items {
            guard let n = item.node.asInt, n > 0 else {
                throw PlanError(.type, file: item.node.location?.file ?? plan.path, location: item.node.location, keyPath: item.path,
                                message: "expected a positive integer dimension, found \(item.node.value.summary)")
            }
            dims.append(n)
        }
        guard (1...8).contains(dims.count) else { throw error(key, "expected 1 to 8 dimensions, found \(dims.count)") }
        return dims
    }

    /// A positive number of seconds.
    func seconds(_ key: String, default value: Double) throws -> Double {
        let v = try plan.double(key, default: value)
        guard v.isFinite, v > 0 else { throw error(key, "expected a positive number of seconds, found \(v)") }
        return v
    }

    /// An optional list of certificate names.
    func names(_ key: String) throws -> Set<String>? {
        guard let list = try plan.stringsIfPresent(key) else { return nil }
        for (i, name) in list.enumerated() {
            do { try PKI.validate(name: name) } catch { throw self.error("\(key).\(i)", "\(error)") }
        }
        return Set(list)
    }

    /// A TCP port, 0 to 65535 (0 picks a free one).
    func port(_ key: String, default value: Int) throws -> Int {
        let p = try plan.int(key, default: value)
        guard (0...65535).contains(p) else { throw error(key, "expected a port from 0 to 65535, found \(p)") }
        return p
    }
}
