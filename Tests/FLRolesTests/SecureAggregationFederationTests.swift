#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import FLCore
import FLPrivacy
import FLRoles
import FLTesting

/// Secure aggregation between real processes: an aggregator and five collaborators, one of which
/// kills itself (SIGKILL, through the DEBUG-only `SWIFTFL_FAULT` points) at an exact moment of the
/// protocol. The builtin runner is seeded, so each site's update is the same in every run: the
/// secure round's model is compared with a plain FedAvg round of the same sites.
@Suite(.serialized) struct SecureAggregationFederationTests {
    static let sites = ["site_1", "site_2", "site_3", "site_4", "site_5"]
    static let clipRange = 8.0

    /// Digits on five sites, one round, FedAvg; a round may close with four sites (the fifth is
    /// killed). `secure`: the secure_aggregation mapping, or nil for the plain reference.
    /// `minimum`: the sites a round needs (a plain reference of all five needs five: a site that
    /// connects late would otherwise be left out as absent).
    static func fixture(secure: String?, privacy: String? = nil, onShortfall: String = "fail", rounds: Int = 1, minimum: Int = 4) throws -> FederationFixture {
        let fixture = try FederationFixture(template: "digits", collaborators: sites)
        try fixture.edit("plan/plan.yaml", replacing: "    aggregation: scaffold\n", with: "    aggregation: fedavg\n")
        try fixture.edit("plan/plan.yaml", replacing: "    rounds_to_train: 20\n", with: """
                rounds_to_train: \(rounds)
                minimum_reporting: \(minimum)
                round_timeout: 120.0
                on_shortfall: \(onShortfall)
                max_retries: 1
                max_sample_count: 2000

            """ + (secure.map { "    secure_aggregation: \($0)\n" } ?? "") + (privacy.map { "    differential_privacy: \($0)\n" } ?? ""))
        // Each site standardizes with its own statistics: a federated standardizer would differ
        // between a run of four sites and one of five.
        try fixture.edit("plan/plan.yaml", replacing: "    split: iid\n", with: "    split: iid\n    standardize: local\n")
        try fixture.edit("plan/cols.yaml", replacing: "  - site_4\n", with: "  - site_4\n  - site_5\n")
        let data = try String(contentsOfFile: "\(fixture.workspace)/plan/data.yaml", encoding: .utf8)
        try fixture.write("plan/data.yaml", data + "site_5:\n  path: data/digits_8x8.csv\n  shard_index: 4\n")
        try fixture.initialize()
        return fixture
    }

    /// Starts `names` against `port`; `faulty` gets `SWIFTFL_FAULT=fault`.
    static func start(_ names: [String], in fixture: FederationFixture, port: Int, faulty: String? = nil, fault: String = "") throws -> [ProcessUnderTest] {
        try names.map { name in
            guard name == faulty else { return try fixture.startCollaborator(name, port: port) }
            var environment = ProcessInfo.processInfo.environment
            environment["SWIFTFL_FAULT"] = fault
            return try ProcessUnderTest("fx-collaborator", ["--workspace", fixture.workspace, "--name", name, "--aggregator", "127.0.0.1:\(port)"],
                                        name: name, errorLog: fixture.directory.appending("\(name).stderr"), environment: environment)
        }
    }

    /// Runs a federation to its end; returns the aggregator and the last model.
    static func run(secure: String?, privacy: String? = nil, started: [String], faulty: String? = nil, fault: String = "",
                    minimum: Int = 4) throws -> (ProcessUnderTest, ModelState?, [ProcessUnderTest]) {
        let fixture = try fixture(secure: secure, privacy: privacy, minimum: minimum)
        let (aggregator, port) = try fixture.startAggregator()
        let collaborators = try start(started, in: fixture, port: port, faulty: faulty, fault: fault)
        _ = try aggregator.waitForExit(timeout: 300)
        for c in collaborators where c.name != faulty { _ = try? c.waitForExit(timeout: 60) }
        let model = try? Safetensors.read("\(fixture.workspace)/save/last.safetensors").model
        return (aggregator, model, collaborators)
    }

    /// The most a secure round's model may differ from plain FedAvg's: the encoding's bound on the
    /// sum of n sites (n steps of 2c/L per coordinate, for Σ f·Δ and for Σ f), divided by Σ f (at
    /// least 4 sites × 280 of 2000 samples), scaled by the update's size, plus float32 rounding of
    /// the two paths' sums (values of order 1: 1e-5 is a hundred ulps).
    static func tolerance(contributors: Int) -> Double {
        let parameters = SecureAggregationParameters(threshold: 3, clipRange: clipRange, bits: 32)
        let bound = try! SecureAggregationEncoding(parameters: parameters, cohortSize: 5).quantizationBound(contributors: contributors)
        return bound * (1 + clipRange) / 0.5 + 1e-5
    }

    static func largestDifference(_ a: ModelState, _ b: ModelState) -> Double {
        zip(a.values, b.values).map { Double(abs($0 - $1)) }.max() ?? .infinity
    }

    static let secure = "{threshold: 3, clip_range: \(clipRange), bits: 32, weighting: samples, stage_timeout: 60}"

    @Test func aSiteKilledAfterItsSharesIsDroppedAndTheRoundIsTheFedAvgOfTheOtherFour() throws {
        let (plain, expected, _) = try Self.run(secure: nil, started: Array(Self.sites.prefix(4)))
        #expect(FederationFixture.events("finished", in: plain).first?["succeeded"] as? Bool == true, "\(plain.errorTail())")
        let (aggregator, model, collaborators) = try Self.run(secure: Self.secure, started: Self.sites, faulty: "site_5", fault: "exit-before-masked-input")
        let finished = try #require(FederationFixture.events("finished", in: aggregator).first, "\(aggregator.errorTail())")
        #expect(finished["succeeded"] as? Bool == true, "\(aggregator.errorTail())")
        #expect("\(try collaborators[4].waitForExit(timeout: 10))".contains("SIGKILL"))
        let closed = FederationFixture.events("round_closed", in: aggregator).first
        #expect(closed?["missing"] as? [String] == ["site_5"])
        let difference = Self.largestDifference(try #require(model), try #require(expected))
        #expect(difference <= Self.tolerance(contributors: 4), "largest difference \(difference), tolerance \(Self.tolerance(contributors: 4))")
        #expect(difference > 0, "the secure round's model is bit for bit the plain one's: was it aggregated in the clear?")
        #expect(aggregator.errorLines.contains { $0.contains("sent shares but no masked input") && $0.contains("site_5") })
    }

    /// The site killed once its masked input was taken never reveals: it is a survivor, so its update
    /// is in the sum, and the others' shares remove its self mask: the round is the FedAvg of all five.
    @Test func aSiteKilledAfterItsMaskedInputNeverRevealsAndTheRoundStillUnmasks() throws {
        let (plain, expected, _) = try Self.run(secure: nil, started: Self.sites, minimum: 5)
        #expect(FederationFixture.events("finished", in: plain).first?["succeeded"] as? Bool == true, "\(plain.errorTail())")
        let (aggregator, model, _) = try Self.run(secure: Self.secure, started: Self.sites, faulty: "site_5", fault: "exit-after-masked-input")
        let finished = try #require(FederationFixture.events("finished", in: aggregator).first, "\(aggregator.errorTail())")
        #expect(finished["succeeded"] as? Bool == true, "\(aggregator.errorTail())")
        let difference = Self.largestDifference(try #require(model), try #require(expected))
        #expect(difference <= Self.tolerance(contributors: 5), "largest difference \(difference), tolerance \(Self.tolerance(contributors: 5))")
    }

    /// The aggregator killed after a round's checkpoint, in the next round's stages: resumed, it runs
    /// that round again from attempt 1 with fresh keys (every site makes new ones), and finishes.
    @Test func anAggregatorKilledMidExperimentResumesTheUnfinishedRoundWithFreshKeys() throws {
        let fixture = try Self.fixture(secure: Self.secure, rounds: 3)
        let (first, port) = try fixture.startAggregator()
        let sites = try Self.start(Self.sites, in: fixture, port: port)
        // Round 2 has just begun: the sites are held inside it until the aggregator is gone.
        try first.waitForLine(timeout: 120) { EventLine($0).map { $0.matches("round_started") && $0["round"]?.asInt == 1 } == true }
        for site in sites { site.process.signal(SIGSTOP) }
        try first.waitForLine(timeout: 60) { EventLine($0).map { $0.matches("checkpoint_saved") && $0["rounds_completed"]?.asInt == 1 } == true }
        first.process.kill()
        _ = try first.waitForExit(timeout: 30)
        for site in sites { site.process.signal(SIGCONT) }
        let resumed = try fixture.start("fx-aggregator", ["--workspace", fixture.workspace, "--port", "\(port)", "--events", "--resume"],
                                        name: "aggregator-resumed")
        #expect(try resumed.waitForExit(timeout: 300).isSuccess, "\(resumed.errorTail())")
        let started = FederationFixture.events("round_started", in: resumed).compactMap { $0["round"] as? Int }
        #expect(started == [1, 2, 3], "\(started)")  // rounds 2 and 3, then the final validation
        #expect(resumed.errorLines.contains { $0.contains("round 1 (attempt 1): secure aggregation among site_1, site_2, site_3, site_4, site_5") })
        #expect(resumed.errorLines.filter { $0.contains("unmasked the sum of 5 sites") }.count == 2)
        for site in sites { #expect(try site.waitForExit(timeout: 60).isSuccess, "\(site.name): \(site.errorTail())") }
    }

    /// Distributed differential privacy: each site clips its change to C and adds noise of deviation
    /// σC/√t before masking. Against the same five sites' clipped FedAvg (central placement with
    /// negligible noise) the round's model differs by the sites' summed noise over n: per trained
    /// coordinate, mean 0 and deviation σC·√(n/t)/n (quantization is far below it). ε is accounted.
    @Test func distributedNoiseIsTheSitesSharesSummedAndIsAccounted() throws {
        let (c, sigma, t, n) = (0.5, 1.0, 3, 5)
        let (plain, expected, _) = try Self.run(secure: nil, privacy: "{clip_norm: \(c), noise_multiplier: 1.0e-9, delta: 1.0e-5, placement: central}",
                                                started: Self.sites, minimum: n)
        #expect(FederationFixture.events("finished", in: plain).first?["succeeded"] as? Bool == true, "\(plain.errorTail())")
        let (aggregator, model, _) = try Self.run(secure: "{threshold: \(t), clip_range: \(Self.clipRange), bits: 32, weighting: uniform}",
                                                  privacy: "{clip_norm: \(c), noise_multiplier: \(sigma), delta: 1.0e-5, placement: distributed}",
                                                  started: Self.sites, minimum: n)
        let finished = try #require(FederationFixture.events("finished", in: aggregator).first, "\(aggregator.errorTail())")
        #expect(finished["succeeded"] as? Bool == true, "\(aggregator.errorTail())")
        let noisy = try #require(model), reference = try #require(expected)
        // The trained tensors (the standardizer's `preprocess.*` ones are restored after aggregation).
        var differences: [Double] = []
        for (i, tensor) in noisy.layout.tensors.enumerated() where !tensor.name.hasPrefix("preprocess.") {
            for k in noisy.layout.range(at: i) { differences.append(Double(noisy.values[k]) - Double(reference.values[k])) }
        }
        #expect(differences.count >= 1000, "\(differences.count) trained values")
        let mean = differences.reduce(0, +) / Double(differences.count)
        let deviation = (differences.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(differences.count - 1)).squareRoot()
        let expectedDeviation = sigma * c * (Double(n) / Double(t)).squareRoot() / Double(n)
        // The sample deviation of k normal values is off by about 1/√(2k) (under 2.3 % here): 15 % is many of those.
        #expect(abs(deviation / expectedDeviation - 1) < 0.15, "deviation \(deviation), expected \(expectedDeviation)")
        #expect(abs(mean) < 5 * expectedDeviation / Double(differences.count).squareRoot(), "mean \(mean)")
        var accountant = PrivacyAccountant()
        accountant.compose(samplingRate: 1, noiseMultiplier: sigma, steps: 1)
        let epsilon = accountant.epsilon(delta: 1e-5).epsilon
        let closed = FederationFixture.events("round_closed", in: aggregator).first
        let reported = (closed?["metrics"] as? [String: Any])?["privacy/epsilon"] as? Double
        #expect(reported.map { abs($0 - epsilon) <= 1e-12 * epsilon } == true, "reported \(String(describing: reported)), expected \(epsilon)")
    }

    @Test func belowTheThresholdTheExperimentFailsSayingSo() throws {
        let secure = "{threshold: 5, clip_range: \(Self.clipRange), bits: 32, weighting: samples, stage_timeout: 60}"
        let (aggregator, _, collaborators) = try Self.run(secure: secure, started: Self.sites, faulty: "site_5", fault: "exit-before-masked-input")
        let finished = try #require(FederationFixture.events("finished", in: aggregator).first, "\(aggregator.errorTail())")
        #expect(finished["succeeded"] as? Bool == false)
        let reason = finished["reason"] as? String ?? ""
        #expect(reason.contains("secure aggregation of round 0 failed at the masked inputs stage") && reason.contains("threshold 5")
                && reason.contains("site_5"), "\(reason)")
        #expect("\(try collaborators[4].waitForExit(timeout: 10))".contains("SIGKILL"))
    }
}
