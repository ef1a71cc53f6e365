import Foundation
import FLCore
import FLTraining
import FLWire
import FLPrivacy

/// The aggregator's part of the plan.
public struct AggregatorPlan: Sendable {
    /// `aggregation` and the settings of the functions it may name, each checked against its range.
    static func aggregation(_ plan: Plan, _ s: String) throws -> AggregationSettings {
        let function = try plan.string("\(s).aggregation", default: AggregationSettings.Function.fedavg.rawValue)
        guard AggregationSettings.known.contains(function) else {
            throw PlanCheck.error(plan, "\(s).aggregation", "expected one of \(AggregationSettings.known.joined(separator: ", ")), found '\(function)'")
        }
        func number(_ key: String, _ value: Double?, _ expected: String, _ valid: (Double) -> Bool) throws -> Double? {
            guard let value else { return nil }
            guard value.isFinite, valid(value) else { throw PlanCheck.error(plan, "\(s).\(key)", "expected \(expected), found \(value)") }
            return value
        }
        var settings = AggregationSettings(function: function)
        settings.serverLearningRate = try number("server_learning_rate", try plan.doubleIfPresent("\(s).server_learning_rate"), "a number above 0") { $0 > 0 }
        settings.serverMomentum = try number("server_momentum", try plan.double("\(s).server_momentum", default: 0.9), "a number in [0, 1)") { $0 >= 0 && $0 < 1 }!
        settings.serverBeta2 = try number("server_beta_2", try plan.double("\(s).server_beta_2", default: 0.99), "a number in [0, 1)") { $0 >= 0 && $0 < 1 }!
        settings.serverTau = try number("server_tau", try plan.double("\(s).server_tau", default: 1e-3), "a number above 0") { $0 > 0 }!
        settings.trimmedMeanBeta = try number("trimmed_mean_beta", try plan.double("\(s).trimmed_mean_beta", default: 0.2), "a fraction in [0, 0.5)") { $0 >= 0 && $0 < 0.5 }!
        settings.krumF = try plan.int("\(s).krum_f", default: 1)
        guard settings.krumF >= 0 else { throw PlanCheck.error(plan, "\(s).krum_f", "expected 0 or more sites, found \(settings.krumF)") }
        settings.multiKrumM = try plan.intIfPresent("\(s).multi_krum_m")
        if let m = settings.multiKrumM, m < 1 { throw PlanCheck.error(plan, "\(s).multi_krum_m", "expected 1 or more updates, found \(m)") }
        settings.maxUpdateNorm = try number("max_update_norm", try plan.doubleIfPresent("\(s).max_update_norm"), "a norm above 0") { $0 > 0 }
        settings.memoryBudget = try plan.int("\(s).aggregation_memory_budget", default: settings.memoryBudget)
        guard settings.memoryBudget >= 0 else {
            throw PlanCheck.error(plan, "\(s).aggregation_memory_budget", "expected 0 or more bytes, found \(settings.memoryBudget)")
        }
        return settings
    }

    public var initialModelPath: String
    public var bestModelPath: String
    public var lastModelPath: String
    public var checkpointDirectory: String
    public var metricsLogPath: String
    public var bestMetric: String
    public var higherIsBetter: Bool
    public var finalValidation: Bool
    public var aggregation: AggregationSettings
    public var straggler: StragglerPolicy
    public var maximumSampleCount: Int
    public var concurrentUpdates: Int
    /// `secure_aggregation` (nil: off).
    public var secureAggregation: SecureAggregationPlan?
    /// `differential_privacy`: clipping, noise and the accountant (nil: off).
    public var differentialPrivacy: DifferentialPrivacyParameters?

    init(_ plan: Plan, collaboratorCount: Int, tasks: [String: TaskDefinition], groups: [TaskGroup]) throws {
        let s = "aggregator.settings"
        initialModelPath = try PlanCheck.containedPath(plan, "\(s).init_state_path", default: "save/init.safetensors")
        bestModelPath = try PlanCheck.containedPath(plan, "\(s).best_state_path", default: "save/best.safetensors")
        lastModelPath = try PlanCheck.containedPath(plan, "\(s).last_state_path", default: "save/last.safetensors")
        checkpointDirectory = try PlanCheck.containedPath(plan, "\(s).checkpoint_dir", default: "save/checkpoint")
        metricsLogPath = try PlanCheck.containedPath(plan, "\(s).metrics_log", default: "logs/metrics.jsonl")
        bestMetric = try plan.string("\(s).best_metric", default: "aggregated_model_validation/accuracy")
        let parts = bestMetric.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let task = tasks[parts[0]], task.function == .validate, task.subject == .global,
              groups.contains(where: { $0.tasks.contains(parts[0]) }) else {
            let candidates = groups.flatMap(\.tasks).filter { tasks[$0]?.function == .validate && tasks[$0]?.subject == .global }
            throw PlanCheck.error(plan, "\(s).best_metric", "expected task/metric naming a validation of the aggregated model that a task group runs (\(candidates.map { "\($0)/accuracy" }.joined(separator: ", "))), found '\(bestMetric)'")
        }
        higherIsBetter = try plan.bool("\(s).higher_is_better", default: true)
        finalValidation = try plan.bool("\(s).final_validation", default: true)
        aggregation = try AggregatorPlan.aggregation(plan, s)
        secureAggregation = try SecureAggregationPlan.read(plan, s, aggregation: aggregation, collaboratorCount: collaboratorCount)
        differentialPrivacy = try DifferentialPrivacyPlan.read(plan, s, aggregation: aggregation, secureAggregation: secureAggregation?.parameters)
        let minimum: StragglerPolicy.Minimum
        if let node = plan.node(at: "\(s).minimum_reporting"), !node.isNull {
            if let count = node.asInt {
                guard count >= 1, count <= collaboratorCount else {
                    throw PlanCheck.error(plan, "\(s).minimum_reporting", "expected a count from 1 to \(collaboratorCount) collaborators, found \(count)")
                }
                minimum = count == collaboratorCount ? .all : .count(count)
            } else if let fraction = node.asDouble {
                guard fraction > 0, fraction <= 1 else {
                    throw PlanCheck.error(plan, "\(s).minimum_reporting", "expected a fraction in (0, 1], found \(fraction)")
                }
                minimum = fraction == 1 ? .all : .fraction(fraction)
            } else {
                throw PlanCheck.error(plan, "\(s).minimum_reporting", "expected a count (integer) or a fraction (float)")
            }
        } else {
            minimum = .all
        }
        let timeout = try plan.doubleIfPresent("\(s).round_timeout")
        if let timeout, !(timeout > 0) { throw PlanCheck.error(plan, "\(s).round_timeout", "expected a positive number of seconds, found \(timeout)") }
        let onShortfall = try plan.string("\(s).on_shortfall", default: "retry")
        let shortfall: StragglerPolicy.Shortfall
        switch onShortfall {
        case "retry":
            let retries = try plan.int("\(s).max_retries", default: 3)
            guard retries >= 0 else { throw PlanCheck.error(plan, "\(s).max_retries", "expected a non-negative count") }
            shortfall = .retry(retries)
        case "fail":
            shortfall = .fail
        default:
            throw PlanCheck.error(plan, "\(s).on_shortfall", "expected retry or fail, found '\(onShortfall)'")
        }
        straggler = StragglerPolicy(minimumReporting: minimum, roundTimeout: timeout, shortfall: shortfall)
        maximumSampleCount = try plan.int("\(s).max_sample_count", default: 1_000_000_000)
        concurrentUpdates = try plan.int("\(s).concurrent_updates", default: 1)
        guard concurrentUpdates >= 1 else { throw PlanCheck.error(plan, "\(s).concurrent_updates", "expected at least 1") }
    }
}
