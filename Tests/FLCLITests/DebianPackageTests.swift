import Foundation
import Testing
import FLCLI
import FLCore
import FLRoles
import FLTesting

/// `make deb`: the package scripts/make-deb.sh builds from the release build, its systemd units,
/// maintainer scripts and example configurations (packaging/debian/).
///
/// The package test uses the release executables `make test` builds before it runs the tests: a
/// test cannot run `swift build` itself while `swift test` holds the build folder. Without them (a
/// plain `swift test`) it is skipped, and says so.
@Suite struct DebianPackageTests {
    static let repository = try? DirectorFixture.findRepository()
    static var packaging: String { "\(repository ?? ".")/packaging/debian" }
    static var releaseFX: String { "\(repository ?? ".")/.build/release/fx" }
    static var hasRelease: Bool { FileManager.default.isExecutableFile(atPath: releaseFX) }
    static let units = ["swiftfl-director.service", "swiftfl-envoy@.service"]
    static let maintainerScripts = ["postinst", "prerm", "postrm"]

    @Test(.enabled(if: DebianPackageTests.hasRelease && DebianPackageTests.tool("dpkg-deb") != nil
                       && DebianPackageTests.tool("readelf") != nil,
                   "needs .build/release/fx (make release; make test builds it first), dpkg-deb and readelf"))
    func thePackageHoldsTheExecutablesTemplatesUnitsAndUser() throws {
        let repository = try #require(Self.repository)
        let dir = try TemporaryDirectory(prefix: "swiftfl-deb")
        // Level 1: the same files as `make deb`'s level 6 in a quarter of the time.
        let environment = ProcessInfo.processInfo.environment.merging(
            ["SWIFTFL_DEB_XZ_LEVEL": "1", "DEBFULLNAME": "Package Test", "DEBEMAIL": "test@example.org"]) { $1 }
        let built = try Self.run("\(repository)/scripts/make-deb.sh", ["\(repository)/.build/release", dir.path],
                                 environment: environment, timeout: 300, scratch: dir)
        try #require(built.status.isSuccess, "scripts/make-deb.sh \(built.status): \(built.error)")
        let architecture = try Self.output("dpkg", ["--print-architecture"], scratch: dir).trimmingCharacters(in: .whitespacesAndNewlines)
        let deb = built.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(deb == dir.appending("swiftfl_\(BuildInfo.version)_\(architecture).deb"), "make-deb.sh printed '\(deb)'")

        // Control fields.
        let control = try Self.output("dpkg-deb", ["-f", deb], scratch: dir)
        var fields: [String: String] = [:]
        for line in control.split(separator: "\n") where !line.hasPrefix(" ") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        #expect(fields["Package"] == "swiftfl")
        #expect(fields["Version"] == BuildInfo.version)
        #expect(fields["Architecture"] == architecture)
        #expect(fields["Maintainer"] == "Package Test <test@example.org>")
        for field in ["Section", "Priority", "Description"] { #expect(fields[field]?.isEmpty == false, "no \(field) in \(control)") }
        let depends = fields["Depends"] ?? ""
        for package in ["libc6", "libstdc++6", "libgcc-s1", "libssl3"] { #expect(depends.contains(package), "Depends: \(depends)") }
        #expect(!depends.contains("swift") && !depends.contains("Foundation"), "Depends: \(depends)")

        // Contents: every file is root's; the executables, all of plans/ and workspaces/, the units,
        // the sysusers file, the examples and the docs.
        let listing = try Self.output("dpkg-deb", ["-c", deb], scratch: dir).split(separator: "\n")
        var modes: [String: String] = [:]
        for line in listing {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            guard columns.count >= 6 else { continue }
            #expect(columns[1] == "root/root", "\(line)")
            modes[columns[5...].joined(separator: " ").replacingOccurrences(of: "./", with: "/", options: .anchored)] = String(columns[0])
        }
        var expected = ["/usr/share/doc/swiftfl/README.md", "/usr/share/doc/swiftfl/federation.md", "/usr/lib/sysusers.d/swiftfl.conf",
                        "/usr/share/swiftfl/examples/director.yaml", "/usr/share/swiftfl/examples/envoy.yaml"]
        expected += Self.units.map { "/lib/systemd/system/\($0)" }
        for tree in ["plans", "workspaces"] {
            let files = try FileManager.default.subpathsOfDirectory(atPath: "\(repository)/\(tree)").filter {
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: "\(repository)/\(tree)/\($0)", isDirectory: &isDirectory) && !isDirectory.boolValue
            }
            #expect(!files.isEmpty, "\(repository)/\(tree) holds no files")
            expected += files.map { "/usr/share/swiftfl/\(tree)/\($0)" }
        }
        for path in expected { #expect(modes[path]?.hasPrefix("-rw-r--r--") == true, "\(path) in the package: \(modes[path] ?? "missing")") }
        // One binary; the role executables are hard links to it (it answers to the name it is run by).
        #expect(modes["/usr/bin/fx"] == "-rwxr-xr-x", "/usr/bin/fx in the package: \(modes["/usr/bin/fx"] ?? "missing")")
        for exe in ["fx-aggregator", "fx-collaborator"] {
            let link = "/usr/bin/\(exe) link to ./usr/bin/fx"
            #expect(modes[link] == "hrwxr-xr-x", "\(link) in the package: \(modes[link] ?? "missing")")
        }

        // Extracted: units, user, examples and maintainer scripts are packaging/debian's, byte for
        // byte (the other tests check those), and the executables load no Swift runtime.
        let tree = dir.appending("tree")
        _ = try Self.output("dpkg-deb", ["-x", deb, tree], scratch: dir)
        _ = try Self.output("dpkg-deb", ["-e", deb, "\(tree)/DEBIAN"], scratch: dir)
        var copies = Self.units.map { ("lib/systemd/system/\($0)", $0) } + Self.maintainerScripts.map { ("DEBIAN/\($0)", $0) }
        copies += [("usr/lib/sysusers.d/swiftfl.conf", "sysusers.conf"), ("usr/share/swiftfl/examples/director.yaml", "examples/director.yaml"),
                   ("usr/share/swiftfl/examples/envoy.yaml", "examples/envoy.yaml")]
        for (packaged, source) in copies {
            #expect(FileManager.default.contentsEqual(atPath: "\(tree)/\(packaged)", andPath: "\(Self.packaging)/\(source)"),
                    "\(packaged) in the package differs from packaging/debian/\(source)")
        }
        for script in Self.maintainerScripts {
            #expect(FileManager.default.isExecutableFile(atPath: "\(tree)/DEBIAN/\(script)"), "DEBIAN/\(script) is not executable")
        }
        // Installed-Size is in KiB and counts at least the executable, once.
        let fx = try FileManager.default.attributesOfItem(atPath: "\(tree)/usr/bin/fx")
        let executableBytes = (fx[.size] as? Int) ?? 0
        #expect((Int(fields["Installed-Size"] ?? "") ?? 0) >= executableBytes / 1024, "Installed-Size: \(fields["Installed-Size"] ?? "missing")")
        for exe in ["fx-aggregator", "fx-collaborator"] {
            let linked = try FileManager.default.attributesOfItem(atPath: "\(tree)/usr/bin/\(exe)")
            #expect(linked[.systemFileNumber] as? Int == fx[.systemFileNumber] as? Int, "usr/bin/\(exe) is not a hard link to usr/bin/fx")
            let version = try Self.output("\(tree)/usr/bin/\(exe)", ["--version"], scratch: dir)
            #expect(version.hasPrefix("SwiftFL \(BuildInfo.version) "), "usr/bin/\(exe) --version: \(version)")
        }
        for exe in ["fx", "fx-aggregator", "fx-collaborator"] {
            let dynamic = try Self.output("readelf", ["-d", "\(tree)/usr/bin/\(exe)"], scratch: dir)
            let needed = dynamic.split(separator: "\n").filter { $0.contains("(NEEDED)") }
            #expect(!needed.isEmpty, "readelf -d usr/bin/\(exe) shows no NEEDED libraries: \(dynamic.prefix(500))")
            for line in needed { #expect(!line.contains("libswift") && !line.contains("libFoundation"), "usr/bin/\(exe) needs \(line)") }
        }
        let version = try Self.output("\(tree)/usr/bin/fx", ["--version"], scratch: dir)
        #expect(version.hasPrefix("SwiftFL \(BuildInfo.version) "), "usr/bin/fx --version: \(version)")
    }

    @Test func theUnitsRunTheServicesAsSwiftFLWithStateOnlyInVarLib() throws {
        let director = try Self.unit("swiftfl-director.service")
        let envoy = try Self.unit("swiftfl-envoy@.service")
        #expect(director["ExecStart"] == ["/usr/bin/fx director start --config /etc/swiftfl/director.yaml"])
        #expect(envoy["ExecStart"] == ["/usr/bin/fx envoy start --name %i --config /etc/swiftfl/envoy-%i.yaml"])
        #expect(director["StateDirectory"] == ["swiftfl/director"] && director["WorkingDirectory"] == ["/var/lib/swiftfl/director"])
        #expect(envoy["StateDirectory"] == ["swiftfl/envoy-%i"] && envoy["WorkingDirectory"] == ["/var/lib/swiftfl/envoy-%i"])
        #expect(director["ProtectHome"] == ["yes"])
        #expect(envoy["ProtectHome"] == ["read-only"], "site data may live under /home")
        #expect(director["LimitNOFILE"] == ["65536"], "the Director holds a connection per Envoy")
        #expect(envoy["TimeoutStartSec"] != nil, "READY comes only once the Director accepts the site")
        for (name, unit) in [("swiftfl-director.service", director), ("swiftfl-envoy@.service", envoy)] {
            for (key, value) in [("Type", "notify"), ("NotifyAccess", "main"), ("User", "swiftfl"), ("Group", "swiftfl"),
                                 ("ExecReload", "/bin/kill -HUP $MAINPID"), ("Restart", "on-failure"), ("KillMode", "control-group"),
                                 ("UMask", "0027"), ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                                 ("ReadWritePaths", "/var/lib/swiftfl"), ("PrivateTmp", "yes"), ("ProtectKernelTunables", "yes"),
                                 ("ProtectKernelModules", "yes"), ("ProtectControlGroups", "yes"), ("RestrictSUIDSGID", "yes"),
                                 ("LockPersonality", "yes"), ("RestrictRealtime", "yes"), ("WantedBy", "multi-user.target")] {
                #expect(unit[key] == [value], "packaging/debian/\(name): expected \(key)=\(value), found \(unit[key] ?? [])")
            }
            #expect(unit["WatchdogSec"] != nil && unit["RestartSec"] != nil, "packaging/debian/\(name) has no WatchdogSec or RestartSec")
            // They would break the children the services start (JIT code in runners, their devices).
            for key in ["MemoryDenyWriteExecute", "PrivateUsers", "DynamicUser"] {
                #expect(unit[key] == nil, "packaging/debian/\(name) sets \(key)")
            }
        }
        #expect(envoy["PrivateDevices"] == nil && envoy["ProtectClock"] == nil, "a site's runner may train on a GPU")
        let sysusers = try String(contentsOfFile: "\(Self.packaging)/sysusers.conf", encoding: .utf8)
        #expect(sysusers.contains("\nu swiftfl - ") && sysusers.contains(" /var/lib/swiftfl /usr/sbin/nologin"), "packaging/debian/sysusers.conf")
    }

    @Test(.enabled(if: DebianPackageTests.tool("systemd-analyze") != nil && DebianPackageTests.hasRelease,
                   "needs systemd-analyze and .build/release/fx"))
    func systemdAnalyzeVerifiesTheUnits() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-units")
        // verify refuses an ExecStart that does not exist here, and --root= wants a whole system:
        // the units are checked with the built fx in /usr/bin/fx's place.
        for unit in Self.units {
            let text = try String(contentsOfFile: "\(Self.packaging)/\(unit)", encoding: .utf8)
            try text.replacingOccurrences(of: "=/usr/bin/fx ", with: "=\(Self.releaseFX) ")
                .write(toFile: dir.appending(unit), atomically: true, encoding: .utf8)
        }
        for unit in ["swiftfl-director.service", "swiftfl-envoy@hospital_a.service"] {
            let result = try Self.run(try #require(Self.tool("systemd-analyze")), ["verify", dir.appending(unit)], timeout: 60, scratch: dir)
            // Unknown keys and bad values are warnings with status 0: any line about the unit fails.
            let complaints = (result.output + result.error).split(separator: "\n").filter { $0.contains("swiftfl") }
            let source = "packaging/debian/" + unit.replacingOccurrences(of: "hospital_a", with: "")
            #expect(result.status.isSuccess && complaints.isEmpty,
                    "systemd-analyze verify \(source) \(result.status):\n\(result.output)\(result.error)")
        }
    }

    @Test(.enabled(if: DebianPackageTests.tool("sh") != nil, "needs sh"))
    func theMaintainerScriptsParse() throws {
        let dir = try TemporaryDirectory(prefix: "swiftfl-scripts")
        for script in Self.maintainerScripts {
            let path = "\(Self.packaging)/\(script)"
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.hasPrefix("#!/bin/sh\n") && text.contains("\nset -e\n"), "packaging/debian/\(script) must start with #!/bin/sh and set -e")
            #expect(FileManager.default.isExecutableFile(atPath: path), "packaging/debian/\(script) is not executable")
            let parsed = try Self.run(try #require(Self.tool("sh")), ["-n", path], timeout: 30, scratch: dir)
            #expect(parsed.status.isSuccess, "sh -n packaging/debian/\(script): \(parsed.error)")
        }
    }

    @Test func theExampleConfigurationsLoad() throws {
        let repository = try #require(Self.repository)
        let dir = try TemporaryDirectory(prefix: "swiftfl-examples")
        let directorExample = "\(Self.packaging)/examples/director.yaml"
        let director = try Self.loaded("packaging/debian/examples/director.yaml") { try DirectorSettings.load(path: directorExample) }
        #expect(director.stateDirectory == "/var/lib/swiftfl/director" && director.certificateDirectory == "/etc/swiftfl/cert")
        #expect(director.revocationListPath == nil)
        #expect(director.aggregatorPortRange == 50100...50119 && director.maximumConcurrent == 4)
        // The commented crl_file is a setting too, once uncommented.
        let withRevocation = dir.appending("director.yaml")
        try String(contentsOfFile: directorExample, encoding: .utf8).replacingOccurrences(of: "  # crl_file:", with: "  crl_file:")
            .write(toFile: withRevocation, atomically: true, encoding: .utf8)
        let revoking = try Self.loaded("packaging/debian/examples/director.yaml with crl_file uncommented (\(withRevocation))") {
            try DirectorSettings.load(path: withRevocation)
        }
        #expect(revoking.revocationListPath == "/etc/swiftfl/cert/crl.pem")

        // The Envoy's example after a site's administrator replaced SITE, with its data folder
        // (/srv/swiftfl/SITE) moved here: the shard must exist to load.
        let envoyExample = try String(contentsOfFile: "\(Self.packaging)/examples/envoy.yaml", encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir.appending("srv/hospital_a"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(repository)/workspaces/federation/hospital_a/data/breast_cancer_part.csv",
                                         toPath: dir.appending("srv/hospital_a/shard.csv"))
        let site = envoyExample.replacingOccurrences(of: "SITE", with: "hospital_a")
            .replacingOccurrences(of: "/srv/swiftfl/", with: dir.appending("srv/"))
        for (variant, text) in [("envoy-hospital_a.yaml", site),
                                ("envoy-allowlist.yaml", site.replacingOccurrences(of: "mode: builtin", with: "mode: allowlist")
                                    .replacingOccurrences(of: "# crl_file:", with: "crl_file:"))] {
            let path = dir.appending(variant)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let envoy = try Self.loaded("packaging/debian/examples/envoy.yaml as \(path)") { try EnvoySettings.load(path: path, name: "hospital_a") }
            #expect(envoy.certificateDirectory == "/etc/swiftfl/cert" && envoy.workDirectory == "/var/lib/swiftfl/envoy-hospital_a/work")
            #expect(envoy.auditLogPath == "/var/lib/swiftfl/envoy-hospital_a/audit.jsonl")
            #expect(envoy.shardPath == dir.appending("srv/hospital_a/shard.csv"))
            if variant == "envoy-allowlist.yaml" {
                #expect(envoy.policy == .allowList(path: "/etc/swiftfl/envoy-hospital_a.approved.sha256"))
                #expect(envoy.revocationListPath == "/etc/swiftfl/cert/crl.pem")
            } else {
                #expect(envoy.policy == .builtin && envoy.revocationListPath == nil)
            }
        }
    }

    // MARK: - Helpers

    /// `body`'s settings; an error names the example (`source`) it came from.
    static func loaded<T>(_ source: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch {
            throw ProcessUnderTestError("\(source) does not load: \(error)")
        }
    }

    /// A unit file's settings (comments and section headers left out), each key's values in order.
    static func unit(_ name: String) throws -> [String: [String]] {
        let text = try String(contentsOfFile: "\(packaging)/\(name)", encoding: .utf8)
        var settings: [String: [String]] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("[") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            settings[String(line[..<equals]), default: []].append(String(line[line.index(after: equals)...]))
        }
        return settings
    }

    /// `name`'s path on the PATH, or nil.
    static func tool(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let folders: [String] = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
        return folders.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `executable` (a path, or a name on the PATH) with its output in files under `scratch`;
    /// killed, and an error, after `timeout` seconds.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, timeout: Double,
                    scratch: TemporaryDirectory) throws -> (status: ChildProcess.Status, output: String, error: String) {
        guard let path = executable.hasPrefix("/") ? executable : tool(executable) else {
            throw ProcessUnderTestError("\(executable) is not on the PATH")
        }
        let id = UUID().uuidString.prefix(8)
        let out = scratch.appending("run-\(id).out"), err = scratch.appending("run-\(id).err")
        let child = try ChildProcess(executable: path, arguments: arguments, environment: environment, standardOutput: .file(out),
                                     standardError: .file(err))
        let command = ([executable] + arguments).joined(separator: " ")
        guard let status = child.wait(timeout: timeout) else {
            child.stop(grace: 5)
            throw ProcessUnderTestError("\(command) took more than \(Int(timeout)) s; killed")
        }
        let output = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let error = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        return (status, output, error)
    }

    /// `executable`'s standard output; an error with its standard error if it fails.
    static func output(_ executable: String, _ arguments: [String], scratch: TemporaryDirectory) throws -> String {
        let result = try run(executable, arguments, timeout: 120, scratch: scratch)
        guard result.status.isSuccess else {
            throw ProcessUnderTestError("\(([executable] + arguments).joined(separator: " ")) \(result.status): \(result.error)")
        }
        return result.output
    }
}
