import Foundation
import FLCore
import FLTraining
import FLWire

/// How sites read their data.
public struct DataPlan: Sendable, Hashable {
    public enum Split: String, Sendable, Hashable {
        case none, iid, dirichlet
    }

    public var labelColumn: String
    public var validationFraction: Double
    public var batchSize: Int
    public var split: Split
    public var dirichletAlpha: Double
    public var splitSeed: UInt64
    /// How sites scale their features: not at all, each with its own training rows' statistics
    /// (`local`: no one outside can reproduce them), or all with the federation's (`federated`: the
    /// sites' counts, sums and sums of squares added up before the first round; the model carries them).
    public var standardization: ModelDescription.Standardization

    init(_ plan: Plan) throws {
        let s = "data_loader.settings"
        let format = try plan.string("\(s).format", default: "csv")
        guard format == "csv" else { throw PlanCheck.error(plan, "\(s).format", "expected csv, found '\(format)'") }
        labelColumn = try plan.string("\(s).label_column", default: "label")
        validationFraction = try plan.double("\(s).validation_fraction", default: 0.2)
        guard validationFraction > 0, validationFraction < 1 else {
            throw PlanCheck.error(plan, "\(s).validation_fraction", "expected a fraction between 0 and 1, found \(validationFraction)")
        }
        batchSize = try plan.int("\(s).batch_size", default: 32)
        guard batchSize > 0 else { throw PlanCheck.error(plan, "\(s).batch_size", "expected a positive batch size, found \(batchSize)") }
        let splitName = try plan.string("\(s).split", default: "none")
        guard let split = Split(rawValue: splitName) else {
            throw PlanCheck.error(plan, "\(s).split", "expected none, iid or dirichlet, found '\(splitName)'")
        }
        self.split = split
        dirichletAlpha = try plan.double("\(s).dirichlet_alpha", default: 0.5)
        guard dirichletAlpha > 0, dirichletAlpha.isFinite else {
            throw PlanCheck.error(plan, "\(s).dirichlet_alpha", "expected a positive number, found \(dirichletAlpha)")
        }
        splitSeed = UInt64(truncatingIfNeeded: try plan.int("\(s).split_seed", default: 0))
        switch plan.node(at: "\(s).standardize")?.value {
        case nil, .null?: standardization = .federated
        case let .bool(b)?: standardization = b ? .local : .none
        case let .string(name)?:
            guard let value = ModelDescription.Standardization(rawValue: name) else {
                throw PlanCheck.error(plan, "\(s).standardize", "expected federated, local or none, found '\(name)'")
            }
            standardization = value
        default:
            throw PlanCheck.error(plan, "\(s).standardize", "expected federated, local or none")
        }
    }

    /// How a site's rows are standardised before training when they are loaded: for `federated`,
    /// not yet (the runner applies the model's standardizer).
    var loading: Standardization { standardization == .local ? .local : .none }
}
