import FLCore

/// What a workspace's plan files may hold (docs/plan-format.md, "What a plan may hold"). Every
/// reader of a plan applies these: `ExperimentPlan.load` (so `fx plan initialize`, the aggregator,
/// collaborators, and the Director and Envoys when an experiment is submitted or started) and
/// `fx plan print`.
///
/// Settings are known when the defaults hold them (`plans/defaults/*.yaml`, or the workspace's own
/// copies in `plan/defaults/`), so a setting the code reads must appear there, with its default or
/// null; `ExperimentPlanSchemaTests` holds the code's reads against the defaults. Only the
/// structures whose names the plan chooses are described here.
extension ExperimentPlan {
    /// `plan/plan.yaml`: seven sections.
    public static let schema = PlanSchema(sections: [
        .defaults("aggregator", settings: [
            "differential_privacy": .fields(DifferentialPrivacyPlan.fields),
        ]),
        .defaults("collaborator"),
        .defaults("data_loader"),
        .defaults("task_runner", settings: [
            // The model the external command exchanges: a list of {name, shape, dtype}, or a mapping
            // of tensor names to shapes (names the plan chooses, nothing to check).
            "tensors": .items(.fields(["name", "shape", "dtype"])),
            // Variables added to the external command's environment, named by the plan.
            "environment": .entries(.value),
            // The one free-form section: the site's own code reads it from the request's settings.
            "custom": .free,
        ]),
        .defaults("network"),
        .defaults("assigner", settings: [
            "task_groups": .items(.fields(["name", "percentage", "tasks"])),
        ]),
        // Task names are the plan's; each is a function and its arguments. `epochs` (train) and
        // `apply` (validate) are the only arguments either runner takes: the external runner passes
        // them on as the request's kwargs, and other per-task values for the site's code belong in
        // task_runner.settings.custom.
        PlanSchema.Section("tasks", .entries(.fields(["function", "kwargs"], nested: ["kwargs": .fields(["epochs", "apply"])]),
                                             reserved: ["settings": .defaults()])),
    ])

    /// `plan/cols.yaml`: the collaborators' names.
    public static let collaboratorsSchema = PlanSchema(root: .fields(["collaborators"]))

    /// `plan/data.yaml`: each collaborator's local data, by the collaborator's name.
    public static let dataSchema = PlanSchema(root: .entries(.fields(["path", "shard_index", "shard_count"])))
}
