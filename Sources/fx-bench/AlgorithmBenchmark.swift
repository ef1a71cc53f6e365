import Foundation
import FLCore
import FLTesting

/// Every aggregation on the same skewed federations: the quality benchmark's data and held-out split
/// (digits, 8 sites, Dirichlet 0.3 and 0.1), 30 rounds, the final model scored on the held-out 20 %
/// beside the centralized model of the same split; and the rounds until the federation's own
/// aggregated validation accuracy first reached 0.9.
enum AlgorithmBenchmark {
    static let rounds = 30, splits = 5
    static let alphas = [0.3, 0.1]

    /// An aggregation as the lines that replace the template's in `aggregator.settings`, and FedProx's μ.
    struct Algorithm {
        var name: String
        var aggregator: String
        var proximalMu: Double = 0
    }

    /// The digits template's own lines, replaced by each algorithm's.
    static let templateLines = "    aggregation: scaffold\n"

    static let algorithms: [Algorithm] = [
        Algorithm(name: "fedavg", aggregator: "aggregation: fedavg"),
        Algorithm(name: "fedavgm", aggregator: "aggregation: fedavgm\nserver_learning_rate: 1.0\nserver_momentum: 0.7"),
        Algorithm(name: "fedprox+fedavgm", aggregator: "aggregation: fedavgm\nserver_learning_rate: 1.0\nserver_momentum: 0.7", proximalMu: 0.01),
        Algorithm(name: "fedadam", aggregator: "aggregation: fedadam\nserver_learning_rate: 0.01"),
        Algorithm(name: "fedyogi", aggregator: "aggregation: fedyogi\nserver_learning_rate: 0.01"),
        Algorithm(name: "fedadagrad", aggregator: "aggregation: fedadagrad\nserver_learning_rate: 0.03"),
        Algorithm(name: "scaffold", aggregator: "aggregation: scaffold"),
        Algorithm(name: "median", aggregator: "aggregation: median"),
        Algorithm(name: "trimmed_mean", aggregator: "aggregation: trimmed_mean\ntrimmed_mean_beta: 0.2"),
        Algorithm(name: "krum", aggregator: "aggregation: krum\nkrum_f: 2"),
        Algorithm(name: "multi_krum", aggregator: "aggregation: multi_krum\nkrum_f: 2"),
    ]

    /// Edits a digits workspace to aggregate with `algorithm`.
    static func apply(_ algorithm: Algorithm, to fixture: FederationFixture) throws {
        let lines = algorithm.aggregator.split(separator: "\n").map { "    \($0)\n" }.joined()
        try fixture.edit("plan/plan.yaml", replacing: templateLines, with: lines)
        if algorithm.proximalMu > 0 {
            try fixture.edit("plan/plan.yaml", replacing: "    momentum: 0.9\n", with: "    momentum: 0.9\n    proximal_mu: \(algorithm.proximalMu)\n")
        }
    }

    static func run(_ report: BenchmarkReport) throws {
        let chosen = ProcessInfo.processInfo.environment["SWIFTFL_BENCH_ALGORITHMS"].map { Set($0.split(separator: ",").map(String.init)) }
        for alpha in alphas {
            // The centralized model depends only on the split: trained once per split, shared by every row.
            var centralized: [UInt64: Double] = [:]
            var best: (name: String, accuracy: Double)?
            for algorithm in algorithms where chosen?.contains(algorithm.name) ?? true {
                var trials: [QualityBenchmark.Trial] = []
                for seed in 0..<UInt64(splits) {
                    let trial = try QualityBenchmark.trial(seed: seed, alpha: alpha, rounds: rounds, configure: { try apply(algorithm, to: $0) },
                                                           centralized: centralized[seed])
                    centralized[seed] = trial.centralized
                    trials.append(trial)
                }
                let federated = trials.map(\.federated).reduce(0, +) / Double(trials.count)
                let reference = trials.map(\.centralized).reduce(0, +) / Double(trials.count)
                let reached = trials.map { trial in trial.validation.firstIndex { $0 >= 0.9 }.map { $0 + 1 } }
                let reachedText = reached.map { $0.map(String.init) ?? "never" }.joined(separator: ", ")
                let gap = (reference - federated) * 100
                if best == nil || federated > best!.accuracy { best = (algorithm.name, federated) }
                report.add(BenchmarkFigure(
                    name: "quality_\(algorithm.name)_dirichlet\(alpha)_8sites_\(rounds)rounds", value: federated * 100, unit: "% acc",
                    reference: reference * 100, ratio: federated / reference, target: "info", met: nil,
                    note: String(format: "mean of %d splits on %d held-out rows; %.2f points under centralized; rounds to aggregated validation accuracy 0.9 per split: %@; %.2f s per federation",
                                 trials.count, trials[0].testRows, gap, reachedText, trials.map(\.seconds).reduce(0, +) / Double(trials.count))))
            }
            if let best, let reference = centralized.values.isEmpty ? nil : centralized.values.reduce(0, +) / Double(centralized.count) {
                let gap = (reference - best.accuracy) * 100
                let allowed = alpha >= 0.3 ? 1.0 : 3.0
                report.add(BenchmarkFigure(
                    name: "quality_best_dirichlet\(alpha)", value: best.accuracy * 100, unit: "% acc", reference: reference * 100,
                    ratio: best.accuracy / reference, target: "within \(Int(allowed)) point\(allowed == 1 ? "" : "s") of centralized", met: gap <= allowed,
                    note: String(format: "%@ is best at Dirichlet %.1f: %.2f points under centralized", best.name, alpha, gap)))
            }
        }
        if chosen?.contains("hostile") ?? true { try runHostile(report) }
    }

    /// A copy of `fixture`'s workspace whose sites run `Tests/Interop/hostile_runner.py` (×10).
    static func hostileWorkspace(_ fixture: FederationFixture) throws -> String {
        try fixture.hostileCopy(tensors: "{dense_0.weight: [64, 64], dense_0.bias: [64], dense_1.weight: [10, 64], dense_1.bias: [10]}", scale: 10)
    }

    static let hostileSplits = 3
    static let hostileSites: Set<String> = ["site_7", "site_8"]

    /// 2 of 8 sites hostile: FedAvg beside the robust rules, each against its own all-honest run.
    static func runHostile(_ report: BenchmarkReport) throws {
        guard (try? PythonInterop.python3()) != nil else {
            report.add(BenchmarkFigure(name: "hostile_federation", value: 0, unit: "-", target: "info", met: nil,
                                       note: "skipped: no python3 on PATH for the hostile sites' runner"))
            return
        }
        let rules: [Algorithm] = [
            Algorithm(name: "fedavg", aggregator: "aggregation: fedavg"),
            Algorithm(name: "median", aggregator: "aggregation: median"),
            Algorithm(name: "trimmed_mean", aggregator: "aggregation: trimmed_mean\ntrimmed_mean_beta: 0.25"),
            Algorithm(name: "multi_krum", aggregator: "aggregation: multi_krum\nkrum_f: 2"),
            Algorithm(name: "fedavg+clipping", aggregator: "aggregation: fedavg\nmax_update_norm: 1.0"),
        ]
        let alpha = 0.3
        var centralized: [UInt64: Double] = [:]
        let only = ProcessInfo.processInfo.environment["SWIFTFL_BENCH_HOSTILE_RULES"].map { Set($0.split(separator: ",").map(String.init)) }
        for rule in rules where only?.contains(rule.name) ?? true {
            var honest: [Double] = [], attacked: [Double] = []
            for seed in 0..<UInt64(hostileSplits) {
                let clean = try QualityBenchmark.trial(seed: seed, alpha: alpha, rounds: rounds, configure: { try apply(rule, to: $0) },
                                                       centralized: centralized[seed])
                centralized[seed] = clean.centralized
                honest.append(clean.federated)
                let hostile = try QualityBenchmark.trial(seed: seed, alpha: alpha, rounds: rounds, configure: { try apply(rule, to: $0) },
                                                         hostile: hostileSites, hostileWorkspace: hostileWorkspace, centralized: centralized[seed])
                attacked.append(hostile.federated)
            }
            let clean = honest.reduce(0, +) / Double(honest.count), hit = attacked.reduce(0, +) / Double(attacked.count)
            let drop = (clean - hit) * 100
            let robust = rule.name != "fedavg"
            report.add(BenchmarkFigure(
                name: "hostile_\(rule.name)_2of8_signflip10", value: hit * 100, unit: "% acc", reference: clean * 100, ratio: hit / clean,
                target: robust ? "within 3 points of its all-honest run" : "info (the undefended baseline)", met: robust ? drop <= 3 : nil,
                note: String(format: "digits, Dirichlet %.1f, %d rounds, mean of %d splits; sites 7 and 8 send global + 10·(previous global − global); %.2f points under the same rule with all sites honest",
                             alpha, rounds, hostileSplits, drop)))
        }
    }
}
