/// What may stand at one place of a plan, as far as its keys go: `PlanSchema` walks a resolved plan
/// with these and refuses a key nothing at its place knows. Values are left to the typed reads
/// (`PlanAccessible`), which already name the expected type; a shape whose kind does not match the
/// value found (a mapping where a list was expected) checks nothing, so that the reader's error,
/// which says what was expected, is the one the user sees.
public indirect enum PlanShape: Sendable {
    /// A mapping whose keys are known when the plan's resolved defaults hold them at the same place:
    /// the defaults files are the schema. A known key's value is checked as `nested[key]` when
    /// given, and otherwise as `.defaults` again where the defaults hold a mapping there.
    /// `fallback` names the defaults file (relative to the search roots) a top-level section that
    /// names no defaults of its own is checked against, as if it had named it.
    case defaults(nested: [String: PlanShape] = [:], fallback: String? = nil)
    /// A mapping with only these keys (in the order errors list them); `nested` gives the shape of
    /// those whose values hold keys of their own. For structures whose keys SwiftFL fixes but whose
    /// instances the plan names (one task, one task group, one collaborator's data).
    case fields([String], nested: [String: PlanShape] = [:])
    /// A mapping whose keys the plan chooses (task names, tensor names, collaborator names), each
    /// value of shape `value`; `reserved` keys have shapes of their own (the `settings` of `tasks`).
    case entries(PlanShape, reserved: [String: PlanShape] = [:])
    /// A sequence whose items have this shape.
    case items(PlanShape)
    /// A mapping (or null) whose contents are passed on unchecked: settings for the site's own code.
    case free
    /// A value whose keys, if it has any, are not checked here (a scalar, a list of numbers).
    case value
}
