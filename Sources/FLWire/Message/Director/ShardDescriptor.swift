/// What an Envoy says about its local data. The Director compares the shapes with the federation's.
public struct ShardDescriptor: Sendable, Hashable, Codable {
    /// The file format (`csv`).
    public var format: String
    /// Where the data is at the site (informational: the Director never reads it).
    public var path: String
    public var labelColumn: String
    /// Shape of one sample's features, e.g. `[30]`.
    public var sampleShape: [Int]
    /// Shape of one sample's target, e.g. `[1]`.
    public var targetShape: [Int]
    /// Rows in the shard.
    public var sampleCount: Int
    /// Free text from the site's configuration.
    public var description: String

    public init(format: String = "csv", path: String, labelColumn: String, sampleShape: [Int], targetShape: [Int],
                sampleCount: Int = 0, description: String = "") {
        self.format = format
        self.path = path
        self.labelColumn = labelColumn
        self.sampleShape = sampleShape
        self.targetShape = targetShape
        self.sampleCount = sampleCount
        self.description = description
    }

    /// `[30]`, `[28, 28]`: how shapes are shown in messages and tables.
    public static func text(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}

extension ShardDescriptor: WireChecked {
    func check() throws(WireFieldError) {
        try WireFieldError.shape(sampleShape, "sampleShape")
        try WireFieldError.shape(targetShape, "targetShape")
        try WireFieldError.count(sampleCount, "sampleCount")
    }
}
