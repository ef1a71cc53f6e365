import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting
import FLTraining
import FLWire
@testable import FLCLI
import FLPKI

/// Runs `fx` in this process with a capturing console.
func fx(_ words: [String], in directory: String? = nil) -> (status: Int32, out: String, err: String) {
    let (console, captured) = Console.capturing()
    var context = CommandContext(console: console)
    if let directory { context.currentDirectory = directory }
    let status = FX.command.main(words, context: context)
    return (status, captured.standardOutput, captured.standardError)
}

/// Runs a system tool and returns its standard output.
func tool(_ path: String, _ arguments: [String]) throws -> String {
    let child = try ChildProcess(executable: path, arguments: arguments, standardOutput: .pipe, standardError: .null)
    let data = child.standardOutput!.readDataToEndOfFile()
    #expect(child.wait(timeout: 30)?.isSuccess == true, "\(path) \(arguments)")
    return String(decoding: data, as: UTF8.self)
}

@Suite struct WorkspaceCommandsTests {
    @Test func createExportImportRoundTrip() throws {
        let dir = try TemporaryDirectory()
        let ws = dir.appending("ws")
        #expect(fx(["workspace", "create", "--prefix", ws, "--template", "breast_cancer"]).status == 0)
        // Things export must leave out.
        try "secret".write(toFile: "\(ws)/cert/site.key", atomically: true, encoding: .utf8)
        try "model".write(toFile: "\(ws)/save/last.safetensors", atomically: true, encoding: .utf8)
        try "x".write(toFile: "\(ws)/plan/notes.key", atomically: true, encoding: .utf8)

        let archive = dir.appending("ws.tar")
        let export = fx(["workspace", "export", "--workspace", ws, "--output", archive])
        #expect(export.status == 0, "\(export.err)")
        let listed = try tool("/usr/bin/tar", ["-tf", archive]).split(separator: "\n").map(String.init)
        #expect(listed.contains("plan/plan.yaml") && listed.contains("plan/defaults/aggregator.yaml") && listed.contains("plan/cols.yaml"))
        #expect(!listed.contains { $0.hasPrefix("data") || $0.hasPrefix("cert") || $0.hasPrefix("save") || $0.hasSuffix(".key") || $0.hasSuffix(".csv") })
        let sha = try SHA256.hexDigest(ofFile: archive)
        #expect(export.out.contains("SHA-256: \(sha)"))
        // The same workspace exports to the same bytes (sites approve archives by their hash).
        #expect(fx(["workspace", "export", "--workspace", ws, "--output", dir.appending("again.tar")]).status == 0)
        #expect(try SHA256.hexDigest(ofFile: dir.appending("again.tar")) == sha)

        let imported = dir.appending("imported")
        #expect(fx(["workspace", "import", "--archive", archive, "--prefix", imported]).status == 0)
        #expect(FileManager.default.fileExists(atPath: "\(imported)/plan/plan.yaml"))
        #expect(FileManager.default.fileExists(atPath: "\(imported)/save"))
        #expect(!FileManager.default.fileExists(atPath: "\(imported)/data"))
    }

    @Test func importRefusesArchivesThatClimbOut() throws {
        let dir = try TemporaryDirectory()
        let archive = dir.appending("evil.tar")
        let script = "import tarfile, io, sys\nwith tarfile.open(sys.argv[1], 'w', format=tarfile.USTAR_FORMAT) as t:\n"
            + "    data = b'x'\n    info = tarfile.TarInfo('../escaped.txt'); info.size = len(data); t.addfile(info, io.BytesIO(data))\n"
        _ = try tool("/usr/bin/env", ["python3", "-c", script, archive])
        let result = fx(["workspace", "import", "--archive", archive, "--prefix", dir.appending("ws")])
        #expect(result.status == 1)
        #expect(result.err.contains("../escaped.txt") && result.err.contains(".."), "\(result.err)")
        #expect(!FileManager.default.fileExists(atPath: dir.appending("escaped.txt")))
        #expect(!FileManager.default.fileExists(atPath: dir.appending("ws")))
    }

    @Test func createRefusesUnknownTemplatesAndNonEmptyFolders() throws {
        let dir = try TemporaryDirectory()
        let unknown = fx(["workspace", "create", "--prefix", dir.appending("a"), "--template", "nope"])
        #expect(unknown.status == 1 && unknown.err.contains("no template 'nope'") && unknown.err.contains("breast_cancer"))
        try FileManager.default.createDirectory(atPath: dir.appending("full"), withIntermediateDirectories: true)
        try "x".write(toFile: dir.appending("full/file"), atomically: true, encoding: .utf8)
        let full = fx(["workspace", "create", "--prefix", dir.appending("full"), "--template", "digits"])
        #expect(full.status == 1 && full.err.contains("not empty"))
    }
}

@Suite struct PlanCommandsTests {
    @Test func printsTheResolvedPlanAsCanonicalJSON() throws {
        let dir = try TemporaryDirectory()
        let ws = dir.appending("ws")
        #expect(fx(["workspace", "create", "--prefix", ws, "--template", "digits"]).status == 0)
        let result = fx(["plan", "print", "--plan", "\(ws)/plan/plan.yaml", "--json"])
        #expect(result.status == 0, "\(result.err)")
        let node = try PlanNode.parseJSON(Array(result.out.utf8))
        #expect(node.node(at: "aggregator.settings.rounds_to_train")?.asInt == 20)
        #expect(node.node(at: "aggregator.settings.on_shortfall")?.asString == "retry")  // from the defaults
        #expect(node.node(at: "aggregator.defaults") == nil)
        // Canonical: keys sorted at every level.
        let keys = try #require(node.asMapping?.keys)
        #expect(keys == keys.sorted())
        let yaml = fx(["plan", "print", "--plan", "\(ws)/plan/plan.yaml"])
        #expect(try YAMLParser.parse(text: yaml.out, file: "printed") == node)
    }

    @Test func initializeWritesTheModelAndChecksThePlan() throws {
        let dir = try TemporaryDirectory()
        let ws = dir.appending("ws")
        #expect(fx(["workspace", "create", "--prefix", ws, "--template", "breast_cancer"]).status == 0)
        let ok = fx(["plan", "initialize", "--workspace", ws])
        #expect(ok.status == 0, "\(ok.err)")
        #expect(ok.out.contains("hospital_b: 152 training and 38 validation rows"))
        let (model, metadata) = try Safetensors.read("\(ws)/save/init.safetensors")
        // The network, then the federation's standardizer, which changes nothing until the sites' statistics are in.
        #expect(model.layout.tensors.map(\.shape) == [[2, 30], [2], [30], [30]])
        #expect(model.tensor("preprocess.mean") == [Float](repeating: 0, count: 30) && model.tensor("preprocess.scale") == [Float](repeating: 1, count: 30))
        // The model says how to run it.
        #expect(try ModelDescription(metadata: metadata) == ModelDescription(architecture: .softmaxRegression(inputs: 30, classes: 2),
                                                                             labelColumn: "label", standardization: .federated))
        #expect(metadata["created_by"] == "fx plan initialize")

        let plan = "\(ws)/plan/plan.yaml"
        let text = try String(contentsOfFile: plan, encoding: .utf8)
        try text.replacingOccurrences(of: "    input_features: 30", with: "    input_features: 31").write(toFile: plan, atomically: true, encoding: .utf8)
        let wrongShape = fx(["plan", "initialize", "--workspace", ws])
        #expect(wrongShape.status == 1)
        #expect(wrongShape.err.contains("30 features") && wrongShape.err.contains("input_features"), "\(wrongShape.err)")

        try text.appending("\nassigner:\n  settings:\n    task_groups:\n      - name: g\n        tasks: [train, bogus]\n")
            .replacingOccurrences(of: "assigner:\n  defaults: defaults/assigner.yaml\n", with: "")
            .write(toFile: plan, atomically: true, encoding: .utf8)
        let bogus = fx(["plan", "initialize", "--workspace", ws])
        #expect(bogus.status == 1)
        #expect(bogus.err.contains("plan.yaml:") && bogus.err.contains("task 'bogus' is not defined under tasks"), "\(bogus.err)")
    }

    /// The misspelling that used to run the default 10 rounds: both commands refuse it at its line,
    /// with the name it was meant to be, and nothing is written.
    @Test func aMisspeltSettingIsRefusedWhereItIsWritten() throws {
        let dir = try TemporaryDirectory()
        let ws = dir.appending("ws")
        #expect(fx(["workspace", "create", "--prefix", ws, "--template", "digits"]).status == 0)
        let plan = "\(ws)/plan/plan.yaml"
        let text = try String(contentsOfFile: plan, encoding: .utf8)
        try #require(text.contains("    rounds_to_train: 20\n"))
        try text.replacingOccurrences(of: "    rounds_to_train: 20\n", with: "    rounds_to_trian: 5\n").write(toFile: plan, atomically: true, encoding: .utf8)
        let line = try #require(text.components(separatedBy: "\n").firstIndex(of: "    rounds_to_train: 20")) + 1
        let expected = "\(plan):\(line):5: aggregator.settings: unknown setting 'rounds_to_trian' (did you mean rounds_to_train?)"
        for words in [["plan", "print", "--plan", plan], ["plan", "print", "--plan", plan, "--json"], ["plan", "initialize", "--workspace", ws]] {
            let result = fx(words)
            #expect(result.status == 1, "\(words)")
            #expect(result.err.contains(expected), "\(words): \(result.err)")
            #expect(result.out.isEmpty, "\(words): \(result.out)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(ws)/save/init.safetensors"))
        // A setting nothing is close to: the known ones are listed.
        try text.replacingOccurrences(of: "    rounds_to_train: 20\n", with: "    rounds_to_train: 20\n    lr: 0.1\n").write(toFile: plan, atomically: true, encoding: .utf8)
        let listed = fx(["plan", "print", "--plan", plan])
        #expect(listed.status == 1)
        #expect(listed.err.contains("\(plan):\(line + 1):5: aggregator.settings: unknown setting 'lr' (known: experiment_name, rounds_to_train, "), "\(listed.err)")
    }

    @Test func aPlanThatIncludesItselfIsRefused() throws {
        let dir = try TemporaryDirectory()
        let plan = dir.appending("plan.yaml")
        try "aggregator:\n  defaults: plan.yaml\n  settings:\n    rounds_to_train: 3\n".write(toFile: plan, atomically: true, encoding: .utf8)
        let result = fx(["plan", "print", "--plan", plan])
        #expect(result.status == 1)
        #expect(result.err.contains("plan.yaml -> ") && result.err.contains("cycle"), "\(result.err)")
    }

    @Test func syntaxErrorsNameFileLineAndColumn() throws {
        let dir = try TemporaryDirectory()
        let plan = dir.appending("plan.yaml")
        try "aggregator:\n  settings:\n    rounds_to_train: yes\n".write(toFile: plan, atomically: true, encoding: .utf8)
        let result = fx(["plan", "print", "--plan", plan])
        #expect(result.status == 1)
        #expect(result.err.contains("\(plan):3:22:"), "\(result.err)")
    }
}
