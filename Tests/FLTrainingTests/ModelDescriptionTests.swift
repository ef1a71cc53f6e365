import FLCore
import FLTraining
import Testing

@Suite struct ModelDescriptionTests {
    static let examples: [ModelDescription] = [
        ModelDescription(architecture: .softmaxRegression(inputs: 30, classes: 2), labelColumn: "label", standardization: .local),
        ModelDescription(architecture: .mlp(inputs: 64, hidden: [32, 16], classes: 10, activation: .tanh), labelColumn: "digit", standardization: .federated),
        ModelDescription(architecture: .mlp(inputs: 4, hidden: [], classes: 3), labelColumn: "species, \"quoted\"", standardization: .none),
    ]

    @Test(arguments: examples) func roundTripsThroughMetadata(_ description: ModelDescription) throws {
        let metadata = description.metadata
        #expect(metadata.keys.allSatisfy { $0.hasPrefix("swiftfl.") })
        #expect(ModelDescription.isPresent(in: metadata))
        #expect(try ModelDescription(metadata: metadata) == description)
        // Other entries a file carries (the checkpoint's own) are left alone.
        #expect(try ModelDescription(metadata: metadata.merging(["experiment": "x", "rounds_completed": "3"]) { a, _ in a }) == description)
    }

    @Test func writesTheKeysTheDocumentationNames() {
        #expect(Self.examples[0].metadata == [
            "swiftfl.description_version": "1", "swiftfl.model": "softmax_regression", "swiftfl.input_features": "30",
            "swiftfl.classes": "2", "swiftfl.label_column": "label", "swiftfl.standardization": "local",
        ])
        let mlp = Self.examples[1].metadata
        #expect(mlp["swiftfl.model"] == "mlp" && mlp["swiftfl.hidden_layers"] == "32,16" && mlp["swiftfl.activation"] == "tanh")
        #expect(!ModelDescription.isPresent(in: ["created_by": "torch"]))
    }

    @Test func readsHandEditedHiddenWidths() throws {
        var metadata = Self.examples[1].metadata
        metadata["swiftfl.hidden_layers"] = "32, 16"
        #expect(try ModelDescription(metadata: metadata).architecture == .mlp(inputs: 64, hidden: [32, 16], classes: 10, activation: .tanh))
    }

    @Test(arguments: [
        ("swiftfl.description_version", nil, "metadata swiftfl.description_version is missing"),
        ("swiftfl.description_version", "2", "is '2', expected version 1 or older (the file was written by a newer SwiftFL"),
        ("swiftfl.model", nil, "metadata swiftfl.model is missing"),
        ("swiftfl.model", "cnn", "swiftfl.model is 'cnn', expected softmax_regression or mlp"),
        ("swiftfl.input_features", "0", "swiftfl.input_features is '0', expected an integer of at least 1"),
        ("swiftfl.input_features", "thirty", "swiftfl.input_features is 'thirty'"),
        ("swiftfl.classes", "1", "swiftfl.classes is '1', expected an integer of at least 2"),
        ("swiftfl.classes", nil, "metadata swiftfl.classes is missing"),
        ("swiftfl.hidden_layers", nil, "metadata swiftfl.hidden_layers is missing"),
        ("swiftfl.hidden_layers", "32,,16", "swiftfl.hidden_layers is '32,,16', expected positive layer widths"),
        ("swiftfl.hidden_layers", "32,-1", "swiftfl.hidden_layers is '32,-1'"),
        ("swiftfl.activation", "sigmoid", "swiftfl.activation is 'sigmoid', expected relu or tanh"),
        ("swiftfl.label_column", nil, "metadata swiftfl.label_column is missing"),
        ("swiftfl.label_column", "", "swiftfl.label_column is '', expected a column name"),
        ("swiftfl.standardization", "global", "swiftfl.standardization is 'global', expected none, local, federated"),
        ("swiftfl.input_features", "100000000000", "swiftfl.model is 'MLP 100000000000 → 32 → 16 → 10 (tanh)', expected a model of at most"),
    ] as [(String, String?, String)])
    func refusesBadMetadataNamingTheKey(key: String, value: String?, message: String) {
        var metadata = Self.examples[1].metadata
        metadata[key] = value
        let error = #expect(throws: ModelDescriptionError.self) { try ModelDescription(metadata: metadata) }
        #expect(error.map { "\($0)" }?.contains(message) == true, "\(String(describing: error))")
        // Widths too large for any model are blamed on the model as a whole.
        #expect(error?.key == (message.contains("at most") ? "swiftfl.model" : key))
    }

    @Test func softmaxRegressionRefusesHiddenLayers() {
        var metadata = Self.examples[0].metadata
        metadata["swiftfl.hidden_layers"] = "8"
        #expect(throws: ModelDescriptionError(key: "swiftfl.hidden_layers", problem: .invalid(value: "8", expected: "nothing: softmax regression has no hidden layers"))) {
            try ModelDescription(metadata: metadata)
        }
        metadata["swiftfl.hidden_layers"] = ""
        #expect(throws: Never.self) { try ModelDescription(metadata: metadata) }
    }
}
