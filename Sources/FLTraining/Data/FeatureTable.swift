/// Rows of input features without labels: what a trained model is asked to predict for.
public struct FeatureTable: Sendable, Equatable {
    /// `count × featureCount` values, row after row.
    public var features: [Float]
    /// The name of each feature column, in file order.
    public var featureNames: [String]
    /// Whether the file had the label column (left out of the features either way).
    public var hasLabelColumn: Bool

    /// - Precondition: `features.count` is a multiple of `featureNames.count` (zero features: no values).
    public init(features: [Float], featureNames: [String], hasLabelColumn: Bool = false) {
        precondition(featureNames.isEmpty ? features.isEmpty : features.count % featureNames.count == 0,
                     "FeatureTable: \(features.count) values are not whole rows of \(featureNames.count) features")
        self.features = features
        self.featureNames = featureNames
        self.hasLabelColumn = hasLabelColumn
    }

    /// Number of features per row.
    public var featureCount: Int { featureNames.count }
    /// Number of rows (0 when there are no feature columns).
    public var count: Int { featureNames.isEmpty ? 0 : features.count / featureNames.count }
}
