import Foundation
import Testing
import FLRoles
import FLTesting

/// Where `fx` finds its templates and plan defaults: beside the source tree in a build, in
/// `share/swiftfl` in an installation, or where `SWIFTFL_HOME` says.
@Suite struct InstallationTests {
    /// Makes `root/workspaces/` and `root/plans/defaults/` under `base`.
    func layOut(_ base: TemporaryDirectory, _ root: String) throws {
        for folder in ["workspaces/t/plan", "plans/defaults"] {
            try FileManager.default.createDirectory(atPath: base.appending("\(root)/\(folder)"), withIntermediateDirectories: true)
        }
        try "rounds_to_train: 1\n".write(toFile: base.appending("\(root)/workspaces/t/plan/plan.yaml"), atomically: true, encoding: .utf8)
    }

    @Test func anInstalledExecutableFindsShareSwiftFLBesideItsBinFolder() throws {
        let base = try TemporaryDirectory(prefix: "install")
        try layOut(base, "prefix/share/swiftfl")
        try FileManager.default.createDirectory(atPath: base.appending("prefix/bin"), withIntermediateDirectories: true)
        let found = try Installation.locate(environment: [:], executable: base.appending("prefix/bin/fx"))
        #expect(found.root == base.appending("prefix/share/swiftfl"))
        #expect(found.templateNames() == ["t"])
    }

    @Test func aBuildFindsTheFoldersAboveIt() throws {
        let base = try TemporaryDirectory(prefix: "install")
        try layOut(base, "repo")
        let found = try Installation.locate(environment: [:], executable: base.appending("repo/.build/release/fx"))
        #expect(found.root == base.appending("repo"))
    }

    @Test func swiftFLHomeWinsAndMustHoldBothFolders() throws {
        let base = try TemporaryDirectory(prefix: "install")
        try layOut(base, "home")
        try layOut(base, "prefix/share/swiftfl")
        let found = try Installation.locate(environment: ["SWIFTFL_HOME": base.appending("home")], executable: base.appending("prefix/bin/fx"))
        #expect(found.root == base.appending("home"))
        let error = #expect(throws: WorkspaceError.self) {
            try Installation.locate(environment: ["SWIFTFL_HOME": base.appending("prefix")], executable: base.appending("prefix/bin/fx"))
        }
        #expect(error?.description.contains("holds no workspaces/ and plans/defaults/") == true)
    }
}
