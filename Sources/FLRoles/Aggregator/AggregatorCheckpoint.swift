import Foundation
import FLCore

/// The aggregator's state after a completed round: enough to continue the experiment from the next
/// round after a crash, as if nothing had happened.
///
/// On disk (in the checkpoint folder): `round-NNNN.safetensors` (the global model after that round),
/// `aggregation-NNNN.safetensors` when the aggregation function keeps state, and `state.json`, written
/// last and atomically, which names them. A crash at any point leaves a `state.json` that names files
/// that exist; older rounds' files are removed only after the new `state.json` is in place.
public struct AggregatorCheckpoint: Sendable, Equatable {
    /// Training rounds completed: the next round to run.
    public var roundsCompleted: Int
    /// Whether the final validation after the last round has been done too.
    public var finalValidationDone: Bool
    public var model: ModelState
    public var bestValue: Double?
    public var aggregationState: [String: [Float]]
    public var experiment: String
    /// Metadata the model file carries besides `experiment` and `rounds_completed` (the model's
    /// description: `AggregatorSettings.modelMetadata`).
    public var modelMetadata: [String: String]

    public init(experiment: String, roundsCompleted: Int, finalValidationDone: Bool = false, model: ModelState,
                bestValue: Double?, aggregationState: [String: [Float]] = [:], modelMetadata: [String: String] = [:]) {
        self.experiment = experiment
        self.roundsCompleted = roundsCompleted
        self.finalValidationDone = finalValidationDone
        self.model = model
        self.bestValue = bestValue
        self.aggregationState = aggregationState
        self.modelMetadata = modelMetadata
    }

    /// The metadata keys of the checkpoint's own, which `modelMetadata` cannot override.
    static let ownMetadataKeys: Set<String> = ["experiment", "rounds_completed"]

    private struct StateFile: Codable {
        var experiment: String
        var rounds_completed: Int
        var final_validation_done: Bool
        var model: String
        var aggregation: String?
        var best_value: Double?
    }

    /// The model file of the checkpoint after `roundsCompleted` rounds, inside its folder.
    public static func modelFileName(roundsCompleted: Int) -> String { "round-" + String(format: "%04d", roundsCompleted) + ".safetensors" }

    /// Writes the checkpoint into `directory` (created if needed) and removes older rounds' files.
    /// When the model file for this round is already there (a checkpoint that only marks the final
    /// validation done), it is kept rather than written again. Returns the model file's path.
    @discardableResult
    public func write(to directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let modelFile = AggregatorCheckpoint.modelFileName(roundsCompleted: roundsCompleted)
        let modelPath = "\(directory)/\(modelFile)"
        if !(finalValidationDone && FileManager.default.fileExists(atPath: modelPath)) {
            let metadata = modelMetadata.merging(["experiment": experiment, "rounds_completed": "\(roundsCompleted)"]) { _, own in own }
            try Safetensors.write(model, to: modelPath, metadata: metadata)
        }
        var aggregationFile: String?
        if !aggregationState.isEmpty {
            let names = aggregationState.keys.sorted()
            let layout = try ModelLayout(names.map { TensorSpec(name: $0, shape: [aggregationState[$0]!.count]) })
            let values = names.flatMap { aggregationState[$0]! }
            aggregationFile = "aggregation-" + String(format: "%04d", roundsCompleted) + ".safetensors"
            try Safetensors.write(ModelState(layout: layout, values: values), to: "\(directory)/\(aggregationFile!)")
        }
        let state = StateFile(experiment: experiment, rounds_completed: roundsCompleted, final_validation_done: finalValidationDone,
                              model: modelFile, aggregation: aggregationFile, best_value: bestValue)
        try AtomicFile.write(try JSONCoding.encoder(.pretty).encode(state), to: "\(directory)/state.json")
        let keep: Set<String> = [modelFile, aggregationFile ?? "", "state.json"]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where !keep.contains(name) && (name.hasPrefix("round-") || name.hasPrefix("aggregation-")) && name.hasSuffix(".safetensors") {
            try? FileManager.default.removeItem(atPath: "\(directory)/\(name)")
        }
        return modelPath
    }

    /// Reads the checkpoint in `directory`; nil when there is none.
    public static func read(from directory: String) throws -> AggregatorCheckpoint? {
        let statePath = "\(directory)/state.json"
        guard FileManager.default.fileExists(atPath: statePath) else { return nil }
        let state: StateFile
        do {
            state = try JSONCoding.decoder().decode(StateFile.self, from: Data(contentsOf: URL(fileURLWithPath: statePath)))
        } catch {
            throw FileError(path: statePath, operation: "read checkpoint", reason: "\(error)")
        }
        for name in [state.model] + (state.aggregation.map { [$0] } ?? []) where name.contains("/") {
            throw FileError(path: statePath, operation: "read checkpoint", reason: "file name '\(name)' is not a plain name")
        }
        let (model, metadata) = try Safetensors.read("\(directory)/\(state.model)")
        var aggregation: [String: [Float]] = [:]
        if let file = state.aggregation {
            let stored = try Safetensors.read("\(directory)/\(file)").model
            for spec in stored.layout.tensors { aggregation[spec.name] = stored.tensor(spec.name) }
        }
        return AggregatorCheckpoint(experiment: state.experiment, roundsCompleted: state.rounds_completed,
                                    finalValidationDone: state.final_validation_done, model: model,
                                    bestValue: state.best_value, aggregationState: aggregation,
                                    modelMetadata: metadata.filter { !ownMetadataKeys.contains($0.key) })
    }
}

/// What the best model is: which round's starting model it was and the score that made it the best,
/// kept in `<best model>.json` beside the model file (the model file itself is shared with the
/// checkpoint it came from).
public struct BestModelNote: Codable, Sendable, Equatable {
    /// The round whose starting model was measured (0-based; `rounds_to_train` for the final validation).
    public var round: Int
    public var metric: String
    public var value: Double
    public var higherIsBetter: Bool

    public init(round: Int, metric: String, value: Double, higherIsBetter: Bool) {
        self.round = round
        self.metric = metric
        self.value = value
        self.higherIsBetter = higherIsBetter
    }

    /// `save/best.safetensors` → `save/best.json`.
    public static func path(besideModel model: String) -> String {
        (model.hasSuffix(".safetensors") ? String(model.dropLast(".safetensors".count)) : model) + ".json"
    }

    /// The note beside `model`, or nil when there is none (or it does not read).
    public static func read(besideModel model: String) -> BestModelNote? {
        guard let data = FileManager.default.contents(atPath: path(besideModel: model)) else { return nil }
        return try? JSONCoding.decoder().decode(BestModelNote.self, from: data)
    }

    public func write(besideModel model: String) throws {
        try AtomicFile.write(try JSONCoding.encoder(.pretty).encode(self), to: BestModelNote.path(besideModel: model))
    }
}
