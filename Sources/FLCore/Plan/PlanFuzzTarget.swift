/// The plan reader as a fuzzing target: any bytes go in, and the only acceptable outcomes are a
/// parsed value or a `PlanError`. What parses must also survive the ways SwiftFL writes plans back
/// out, so a writer/reader disagreement is reported as a finding rather than left for a user to meet.
///
/// The fuzzer (`fx-fuzz plan`) and the corpus replay test call the same function.
public enum PlanFuzzTarget {
    /// Parses `bytes` as a YAML plan and, when that succeeds, checks that `yamlText()` and
    /// `canonicalJSON()` (compact and pretty) read back to an equal value. The same bytes are also
    /// read as JSON, with the same round trips.
    ///
    /// - Throws: `FuzzFinding` when a round trip fails; syntax errors in the input are not findings.
    public static func run(_ bytes: [UInt8]) throws(FuzzFinding) {
        if let node = try? YAMLParser.parse(bytes: bytes, file: "fuzz.yaml") {
            try checkRoundTrips(node, source: "YAML")
        }
        if let node = try? PlanNode.parseJSON(bytes, file: "fuzz.json", allowNonFiniteNumbers: true) {
            try checkRoundTrips(node, source: "JSON")
        }
    }

    private static func checkRoundTrips(_ node: PlanNode, source: String) throws(FuzzFinding) {
        // A key longer than the YAML limit can only come from JSON; yamlText documents it as not readable back.
        if !hasOverlongKey(node) {
            let yaml = node.yamlText()
            let back: PlanNode
            do {
                back = try YAMLParser.parse(text: yaml, file: "yamlText")
            } catch {
                throw FuzzFinding(target: "plan", "yamlText of a value read from \(source) does not parse: \(error)\n\(yaml)")
            }
            guard back == node else {
                throw FuzzFinding(target: "plan", "yamlText of a value read from \(source) reads back different:\n\(yaml)")
            }
        }
        for pretty in [false, true] {
            // NaN and infinity have no JSON form; canonicalJSON refuses them with a PlanError, as documented.
            guard let json = try? node.canonicalJSON(pretty: pretty) else { continue }
            let back: PlanNode
            do {
                back = try PlanNode.parseJSON(Array(json.utf8), file: "canonicalJSON")
            } catch {
                throw FuzzFinding(target: "plan", "canonicalJSON(pretty: \(pretty)) of a value read from \(source) does not parse: \(error)\n\(json)")
            }
            guard back == node else {
                throw FuzzFinding(target: "plan", "canonicalJSON(pretty: \(pretty)) of a value read from \(source) reads back different:\n\(json)")
            }
        }
    }

    private static func hasOverlongKey(_ node: PlanNode) -> Bool {
        switch node.value {
        case let .mapping(m): m.entries.contains { $0.key.unicodeScalars.count > YAMLParser.maxKeyLength || hasOverlongKey($0.value) }
        case let .sequence(items): items.contains { hasOverlongKey($0) }
        default: false
        }
    }
}

/// A fuzz target's invariant that did not hold: the input was accepted but something built on it
/// (a round trip, a cross-check between two readers) came out wrong. The fuzzer driver turns it into
/// a crash so libFuzzer keeps the input; the corpus replay tests report it as a failure.
public struct FuzzFinding: Error, Sendable, CustomStringConvertible {
    /// The target that found it (`frame`, `message`, `plan`, `archive`, `safetensors`).
    public var target: String
    public var message: String

    public init(target: String, _ message: String) {
        self.target = target
        self.message = message
    }

    public var description: String { "\(target): \(message)" }
}
