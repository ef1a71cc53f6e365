import Foundation
import FLCore

/// SCAFFOLD (Karimireddy et al. 2020, option II): the server's control variate `c` travels in the
/// model as a `scaffold.<tensor>` twin of every network tensor (after the network's tensors and the
/// preprocess ones), so it is checkpointed, resumed and averaged with the model itself; each site
/// keeps its own `cᵢ` in a file of its own between rounds.
///
/// A site trains with every gradient corrected by `c − cᵢ` (its drift from the federation's mean
/// direction), then sets `cᵢ⁺ = cᵢ − c + (x − y)/(K·η)` for K local steps of learning rate η, and
/// returns `y` with the control tensors set to `c + (cᵢ⁺ − cᵢ)`: the server's sample-weighted mean of
/// those is `c + mean(Δcᵢ)`, SCAFFOLD's server update when every site takes part.
public enum ScaffoldControl {
    /// The prefix of the control tensors' names.
    public static let prefix = "scaffold."

    public static func isControlTensor(_ name: String) -> Bool { name.hasPrefix(prefix) }

    /// `layout` followed by a control tensor for each tensor of `network`.
    /// - Throws: `ModelLayoutError` when `layout` already names one.
    public static func layout(_ layout: ModelLayout, controlling network: ModelLayout) throws -> ModelLayout {
        try ModelLayout(layout.tensors + network.tensors.map { TensorSpec(name: prefix + $0.name, shape: $0.shape) })
    }

    /// `model` with zero control tensors for `network` appended (the starting `c`).
    public static func appendingZeros(to model: ModelState, controlling network: ModelLayout) throws -> ModelState {
        ModelState(layout: try layout(model.layout, controlling: network), values: model.values + [Float](repeating: 0, count: network.count))
    }

    /// A site's own control variate `cᵢ` to train round `round` with (zeros before its first round).
    ///
    /// `path` holds `cᵢ` after the site's latest round, which its metadata names, and `path` with
    /// `.before` holds what that round started from. A round trained again (the aggregator was
    /// restarted before it closed the round, so the server never took that `Δcᵢ` in) starts from the
    /// `.before` file, so a resumed experiment trains exactly as an uninterrupted one.
    /// - Throws: when a file exists but is not a control variate of `network`'s shape.
    public static func loadSiteControl(_ path: String, network: ModelLayout, round: Int) throws -> [Float] {
        let zeros = [Float](repeating: 0, count: network.count)
        guard FileManager.default.fileExists(atPath: path) else { return zeros }
        let (latest, metadata) = try read(path, network: network)
        if let made = metadata["swiftfl.scaffold.round"].flatMap(Int.init), made < round { return latest }
        let before = path + ".before"
        return FileManager.default.fileExists(atPath: before) ? try read(before, network: network).values : zeros
    }

    /// Keeps `next` (`cᵢ⁺`) as the site's control variate after round `round`, which started from `used`.
    /// The `.before` file is written first: a crash between the two leaves the older latest file,
    /// whose round is earlier, so the round starts from the same `cᵢ` either way.
    public static func saveSiteControl(used: [Float], next: [Float], round: Int, network: ModelLayout, to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let metadata = ["swiftfl.scaffold.round": "\(round)"]
        try Safetensors.write(ModelState(layout: network, values: used), to: path + ".before", metadata: metadata)
        try Safetensors.write(ModelState(layout: network, values: next), to: path, metadata: metadata)
    }

    private static func read(_ path: String, network: ModelLayout) throws -> (values: [Float], metadata: [String: String]) {
        let (model, metadata) = try Safetensors.read(path)
        if let difference = model.layout.difference(from: network) {
            throw TrainingError.layoutMismatch("the site's SCAFFOLD control variate \(path) does not fit the model (\(difference))")
        }
        return (model.values, metadata)
    }

    /// The η of `(x − y)/(K·η)`: SGD's learning rate, or with momentum β its long-run step η/(1 − β)
    /// (momentum moves the model that much further per gradient, and the estimate of the site's mean
    /// gradient must divide it out). Adam's steps are not proportional to gradients: SCAFFOLD is
    /// defined for SGD, and a plan pairing it with Adam is refused.
    public static func stepSize(of optimizer: OptimizerSettings) -> Double {
        switch optimizer {
        case let .sgd(lr, momentum, _, _): lr / (1 - momentum)
        case let .adam(lr, _, _, _, _): lr
        }
    }

    /// `cᵢ⁺ = cᵢ − c + (x − y)/(K·η)`, and the control values the site returns, `c + (cᵢ⁺ − cᵢ)`.
    public static func update(site: [Float], server: ArraySlice<Float>, start x: [Float], trained y: [Float],
                              steps: Int, learningRate: Double) -> (site: [Float], returned: [Float]) {
        let scale = Float(1 / (Double(max(steps, 1)) * learningRate))
        var next = site, returned = site
        let c = Array(server)
        for i in 0..<site.count {
            next[i] = site[i] - c[i] + (x[i] - y[i]) * scale
            returned[i] = c[i] + (next[i] - site[i])
        }
        return (next, returned)
    }
}
