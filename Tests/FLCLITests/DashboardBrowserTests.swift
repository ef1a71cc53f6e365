import Foundation
import Testing
import FLCore
import FLTesting

/// The dashboard of a real Director with two Envoys and a running experiment, loaded in headless
/// Chromium (Debian's `chromium`; .ci/run installs it): the DOM Chromium built shows both Envoys
/// online and the experiment's current round, and a screenshot is written to
/// `.build/test-output/dashboard.png` (the README's picture is one such screenshot, in docs/).
@Suite(.serialized) struct DashboardBrowserTests {
    /// `chromium` on PATH, or nil.
    static let chromium: String? = {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            for name in ["chromium", "chromium-browser"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return "\(dir)/\(name)"
            }
        }
        return nil
    }()

    static var outputDirectory: String { "\(PythonInterop.repositoryRoot)/.build/test-output" }

    /// Runs Chromium headless on `url` with `arguments`; returns its standard output.
    static func chromium(_ arguments: [String], url: String, scratch: TemporaryDirectory) throws -> String {
        let out = scratch.appending("chromium-\(UUID().uuidString.prefix(6)).out")
        // --no-sandbox: tests run as root in CI, where Chromium's sandbox refuses to start.
        let child = try ChildProcess(executable: try #require(chromium),
                                     arguments: ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                                 "--user-data-dir=\(scratch.appending("chromium-profile"))"] + arguments + [url],
                                     standardOutput: .file(out), standardError: .file(scratch.appending("chromium.stderr")))
        guard let status = child.wait(timeout: 90) else {
            child.stop(grace: 0)
            throw PythonInterop.Failure("chromium ran longer than 90 s")
        }
        #expect(status.isSuccess, "chromium \(status)")
        return try String(contentsOfFile: out, encoding: .utf8)
    }

    /// The start tags of an HTML serialization with their attributes, in order (Chromium's
    /// `--dump-dom` writes HTML, not XML, so XMLParser cannot read it).
    static func tags(_ html: String) -> [(name: String, attributes: [String: String], text: String)] {
        let tag = try! NSRegularExpression(pattern: "<([a-zA-Z][a-zA-Z0-9]*)((?:\\s+[^\\s=>]+(?:=\"[^\"]*\")?)*)\\s*/?>([^<]*)")
        let attribute = try! NSRegularExpression(pattern: "([^\\s=]+)=\"([^\"]*)\"")
        let text = html as NSString
        return tag.matches(in: html, range: NSRange(location: 0, length: text.length)).map { m in
            let attributesText = text.substring(with: m.range(at: 2))
            var attributes: [String: String] = [:]
            for a in attribute.matches(in: attributesText, range: NSRange(location: 0, length: (attributesText as NSString).length)) {
                let value = (attributesText as NSString).substring(with: a.range(at: 2))
                    .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                    .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
                attributes[(attributesText as NSString).substring(with: a.range(at: 1))] = value
            }
            return (text.substring(with: m.range(at: 1)).lowercased(), attributes, text.substring(with: m.range(at: 3)))
        }
    }

    @Test(.enabled(if: chromium != nil, "chromium is not installed (apt-get install chromium): the browser test is skipped"))
    func chromiumShowsTheEnvoysAndTheCurrentRound() throws {
        let fixture = try DirectorFixture(envoys: ["hospital_a", "hospital_b"])
        let configuration = try String(contentsOfFile: fixture.directorConfigurationPath, encoding: .utf8)
        try fixture.writeDirectorConfiguration(configuration + "dashboard:\n  listen: 127.0.0.1:0\n")
        let (director, port) = try fixture.startDirector()
        let line = try director.waitForLine(timeout: 30) { $0.contains("\"event\":\"dashboard_listening\"") }
        let dashboard = try #require((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["port"] as? Int)
        let envoys = try ["hospital_a", "hospital_b"].map { try fixture.startEnvoy($0, port: port) }
        withExtendedLifetime(envoys) {}
        for name in ["hospital_a", "hospital_b"] {
            try DirectorFixture.waitForEvent("envoy_registered", ["envoy": name], in: director, timeout: 30)
        }
        // Long enough to be still running while Chromium loads the page; cancelled at the end.
        let workspace = try fixture.makeWorkspace("first", rounds: 2000)
        let client = fixture.clientOptions(port: port)
        try fixture.fx(["experiment", "submit", "--workspace", workspace, "--name", "first"] + client)
        try DirectorFixture.waitForEvent("round_closed", ["experiment": "first"], in: director, timeout: 120)
        defer { _ = try? fixture.fx(["experiment", "cancel", "first"] + client) }

        let url = "http://127.0.0.1:\(dashboard)/"
        let tags = Self.tags(try Self.chromium(["--dump-dom"], url: url, scratch: fixture.directory))
        let rows = tags.filter { $0.attributes["class"] == "envoy" }
        #expect(rows.compactMap { $0.attributes["data-envoy"] } == ["hospital_a", "hospital_b"])
        #expect(tags.filter { $0.name == "td" && $0.attributes["class"] == "online" }.count == 2)
        let round = try #require(tags.first { $0.attributes["class"] == "current-round" && $0.attributes["data-experiment"] == "first" })
        let current = try #require(Int(round.attributes["data-round"] ?? ""))
        #expect(current >= 2 && current <= 2000, "current round \(current)")
        #expect(round.text == "Current round: \(current)")
        #expect(tags.contains { $0.name == "h3" && $0.text == "first: running" })

        try FileManager.default.createDirectory(atPath: Self.outputDirectory, withIntermediateDirectories: true)
        let screenshot = "\(Self.outputDirectory)/dashboard.png"
        try? FileManager.default.removeItem(atPath: screenshot)
        _ = try Self.chromium(["--screenshot=\(screenshot)", "--window-size=1200,1100"], url: url, scratch: fixture.directory)
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "not a PNG")
        print("dashboard screenshot: \(screenshot)")
    }
}
