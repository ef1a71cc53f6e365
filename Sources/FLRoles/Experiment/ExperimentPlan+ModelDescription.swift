import FLTraining

extension ExperimentPlan {
    /// What every model file of this experiment says about how to run it (`fx model predict`): the
    /// builtin runner's network, the label column and how the sites standardise their inputs. Nil for
    /// the external and noop runners, whose models only their own code knows how to run.
    public var modelDescription: ModelDescription? {
        guard case let .builtin(builtin) = runner else { return nil }
        return ModelDescription(architecture: builtin.architecture, labelColumn: data.labelColumn,
                                standardization: data.standardization)
    }

    /// `modelDescription` as safetensors metadata (empty without one), for the initial model and
    /// through `AggregatorSettings.modelMetadata` for every checkpoint.
    public var modelMetadata: [String: String] { modelDescription?.metadata ?? [:] }
}
