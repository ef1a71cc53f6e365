import FLCore
import Foundation
import FLTesting

/// Reads YAML with Python's PyYAML (`yaml.safe_load`, what OpenFL uses) in a child process, to
/// check that every document our parser accepts means the same to PyYAML.
enum PyYAMLReader {
    /// Set to 1 to run without Python; tests that need it are then disabled, visibly.
    static let skipped = ProcessInfo.processInfo.environment["SWIFTFL_SKIP_PYTHON"] == "1"

    /// What PyYAML made of one document: a value, or the error it raised.
    enum Outcome: Equatable {
        case value(PlanNode)
        case error(String)
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private static let script = #"""
        import json, math, sys
        try:
            import yaml
        except ImportError as e:
            sys.stderr.write("PyYAML is not installed for this python3 (%s): pip install pyyaml, or set SWIFTFL_SKIP_PYTHON=1\n" % e)
            sys.exit(3)

        def check(v):
            if isinstance(v, dict):
                for k, x in v.items():
                    if not isinstance(k, str):
                        raise TypeError("non-string key %r" % (k,))
                    check(x)
            elif isinstance(v, list):
                for x in v:
                    check(x)
            elif isinstance(v, int) and not isinstance(v, bool) and not (-2**63 <= v < 2**63):
                raise TypeError("integer beyond 64 bits: %d" % v)
            elif not (v is None or isinstance(v, (bool, int, float, str))):
                raise TypeError("not a JSON type: %s %r" % (type(v).__name__, v))

        def load(src):
            try:
                v = yaml.safe_load(src)
            except Exception as e:
                return {"error": "%s: %s" % (type(e).__name__, str(e).replace("\n", " | "))}
            try:
                check(v)
            except TypeError as e:
                return {"error": str(e)}
            return {"ok": v}

        mode, path = sys.argv[1], sys.argv[2]
        if mode == "texts":
            sources = json.load(open(path, encoding="utf-8"))
        else:
            sources = [open(p, "rb").read() for p in json.load(open(path, encoding="utf-8"))]
        sys.stdout.write(json.dumps([load(s) for s in sources]))
        """#

    /// PyYAML's reading of each text.
    static func read(texts: [String]) async throws -> [Outcome] {
        try await run(mode: "texts", items: texts)
    }

    /// PyYAML's reading of each file (as bytes, so encoding marks are PyYAML's business).
    static func read(files: [String]) async throws -> [Outcome] {
        try await run(mode: "files", items: files)
    }

    static func python() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/python3"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw Failure(description: "python3 is not on PATH; it is needed (with PyYAML) to compare our YAML reading with PyYAML's. Install it, or set SWIFTFL_SKIP_PYTHON=1 to skip these comparisons")
    }

    private static func run(mode: String, items: [String]) async throws -> [Outcome] {
        let scratch = try TemporaryDirectory(prefix: "pyyaml")
        defer { scratch.remove() }
        let dir = scratch.path
        let input = "\(dir)/input.json", output = "\(dir)/output.json", errors = "\(dir)/stderr.txt"
        let list = PlanNode(.sequence(items.map { PlanNode(.string($0)) }))
        try Data(list.canonicalJSON().utf8).write(to: URL(fileURLWithPath: input))

        let child = try ChildProcess(executable: python(), arguments: ["-c", script, mode, input],
                                     standardOutput: .file(output), standardError: .file(errors))
        // A deadline, so a wedged interpreter fails the test instead of hanging it.
        DispatchQueue.global().asyncAfter(deadline: .now() + 60) { child.kill() }
        let status = await withCheckedContinuation { continuation in
            child.onExit { continuation.resume(returning: $0) }
        }
        let stderr = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        guard status.isSuccess else {
            throw Failure(description: "python3 \(status): \(stderr.isEmpty ? "(no output)" : stderr)")
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: output))
        let results = try PlanNode.parseJSON(bytes, file: "pyyaml-output.json", allowNonFiniteNumbers: true)
        guard let list = results.asSequence, list.count == items.count else {
            throw Failure(description: "python3 returned \(results.asSequence?.count ?? -1) results for \(items.count) inputs")
        }
        return try list.map { result in
            if let value = result.node(at: "ok") { return .value(value) }
            if let error = result.asMapping?["error"]?.asString { return .error(error) }
            throw Failure(description: "unexpected result \(try result.canonicalJSON())")
        }
    }
}
