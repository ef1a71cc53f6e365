import Foundation
import FLCore
import FLTraining

/// `fx model predict` and `fx model evaluate`: run a trained model file on rows of a CSV file, as the
/// builtin runner trained it (the file's description says how).
extension ModelCommands {
    static let runNote = """
        The model file must describe itself (swiftfl.* metadata: SwiftFL writes it into every model of the builtin
        runner, from `fx plan initialize` to best and last). Its features are every column of the CSV file but the
        label column the description names, in file order, as in training. When the file carries preprocess.mean and
        preprocess.scale, inputs are standardized as (x − mean) / scale first. A model whose sites standardized their
        inputs each with their own statistics (standardization: local) carries none: the inputs are used unscaled,
        with a warning, unless --standardize-from-data fits the statistics on the given rows (an approximation of
        what the sites did, sound only for many rows drawn like the training data).
        """

    static let model = Option("--model", value: "FILE", help: "The model (safetensors) to run, e.g. best.safetensors.", required: true)
    static let standardizeFromData = Flag(
        "--standardize-from-data", help: "Standardize with the mean and standard deviation of the given rows (for a model that carries no preprocess tensors).")

    static let predictCommand = Command(
        "predict", abstract: "Predict the class of every row of a CSV file with a trained model.",
        discussion: """
        \(runNote)

        Writes one line per input row, in order, under the header `prediction,p_0,…,p_{k-1}`: the predicted class
        (the highest score; ties go to the lowest class) and each class's probability (a softmax). The label column
        may be absent; when present it is not read.
        """,
        arguments: [model, rows, predictionOutput, standardizeFromData]
    ) { args, context in
        let data = context.absolute(try args.required(Self.rows))
        var model = try TrainedModel.load(context.absolute(try args.required(Self.model)))
        let table = try CSVDataset.loadFeatures(path: data, labelColumn: model.modelDescription.labelColumn)
        try checkColumns(table.featureCount, of: data, labelColumn: model.modelDescription.labelColumn, against: model)
        if args[Self.standardizeFromData] {
            let rows = Dataset(features: table.features, labels: [Int32](repeating: 0, count: table.count), featureNames: table.featureNames, classCount: 1)
            model = try fitted(model, on: rows)
        }
        warn(about: model, context)
        let predictions = model.predict(table.features)
        var text = "prediction," + (0..<predictions.classCount).map { "p_\($0)" }.joined(separator: ",") + "\n"
        text.reserveCapacity(predictions.probabilities.count * 12)
        let k = predictions.classCount
        for (r, predicted) in predictions.classes.enumerated() {
            text += String(predicted)
            // Shortest text that reads back as the same float32.
            for j in 0..<k { text += ",\(predictions.probabilities[r * k + j])" }
            text += "\n"
        }
        if let output = args[Self.predictionOutput] {
            let path = context.absolute(output)
            try AtomicFile.write(string: text, to: path)
            context.console.error("wrote \(predictions.classes.count) predictions to \(path)")
        } else {
            context.console.write(text, false)
        }
        return 0
    }

    static let evaluateCommand = Command(
        "evaluate", abstract: "Measure a trained model on labelled rows: accuracy, loss, per-class precision and recall, confusion matrix.",
        discussion: """
        \(runNote)

        The label column must be there and hold class indices below the model's class count. The loss is the mean
        cross-entropy (natural log). A class that is never predicted has precision 0, one with no rows recall 0
        (as scikit-learn reports them). The confusion matrix has a row per true class and a column per predicted one.
        """,
        arguments: [model, labelledRows, evaluationJSON, standardizeFromData]
    ) { args, context in
        let data = context.absolute(try args.required(Self.labelledRows))
        var model = try TrainedModel.load(context.absolute(try args.required(Self.model)))
        let description = model.modelDescription
        let rows = try CSVDataset.load(path: data, labelColumn: description.labelColumn, classCount: description.architecture.classCount)
        try checkColumns(rows.featureCount, of: data, labelColumn: description.labelColumn, against: model)
        if args[Self.standardizeFromData] { model = try fitted(model, on: rows) }
        warn(about: model, context)
        let report = model.evaluate(rows)
        if args[Self.evaluationJSON] {
            context.console.print(try evaluation(report, model: model, data: data).canonicalJSON())
            return 0
        }
        let k = report.classCount
        context.console.print("model     \(model.path): \(model.architecture), \(inputScaling(model))")
        context.console.print("data      \(data): \(report.count) rows")
        context.console.print("accuracy  \(fixed(report.accuracy)) (\(report.correct) of \(report.count))")
        context.console.print("loss      \(fixed(report.meanLoss)) (mean cross-entropy)")
        context.console.print("")
        let table = [["class", "precision", "recall", "support"]]
            + (0..<k).map { [String($0), fixed(report.precision($0)), fixed(report.recall($0)), String(report.support($0))] }
        for line in aligned(table, rightAligned: [false, true, true, true]) { context.console.print(line) }
        context.console.print("")
        context.console.print("confusion matrix (rows: true class, columns: predicted class)")
        let matrix = [["true \\ predicted"] + (0..<k).map(String.init)]
            + report.confusionMatrix.enumerated().map { [String($0.offset)] + $0.element.map(String.init) }
        for line in aligned(matrix, rightAligned: [false] + [Bool](repeating: true, count: k)) { context.console.print(line) }
        return 0
    }

    static let rows = Option("--data", value: "CSV", help: "The rows: a header naming the columns, then one row per line.", required: true)
    static let predictionOutput = Option("--output", value: "CSV", help: "Where to write the predictions (default: standard output).")
    static let labelledRows = Option(
        "--data", value: "CSV", help: "Labelled rows: a header naming the columns, the label column among them.", required: true)
    static let evaluationJSON = Flag("--json", help: "Print one JSON object (one line, sorted keys) instead of a table.")

    /// Prints the model's warnings, with what this command offers for them.
    static func warn(about model: TrainedModel, _ context: CommandContext) {
        for warning in model.warnings { context.console.error("warning: \(warning)") }
        if !model.warnings.isEmpty && model.modelDescription.standardization == .local {
            context.console.error("hint: --standardize-from-data standardizes with the statistics of the rows given (an approximation, for many rows)")
        }
    }

    /// Refuses rows whose feature count is not the model's, naming the file and both counts.
    static func checkColumns(_ count: Int, of path: String, labelColumn: String, against model: TrainedModel) throws {
        let inputs = model.architecture.inputCount
        guard count == inputs else {
            throw ModelCommandError("\(path): \(count) feature columns (every column but '\(labelColumn)'), but the model \(model.path) "
                                    + "(\(model.architecture)) takes \(inputs)")
        }
    }

    /// The model with a standardizer fitted on `rows`, unless it carries its own.
    static func fitted(_ model: TrainedModel, on rows: Dataset) throws -> TrainedModel {
        guard !model.carriesPreprocessing else {
            throw ModelCommandError("\(model.path) carries its own preprocessing (\(Standardizer.meanTensorName), \(Standardizer.scaleTensorName)); "
                                    + "--standardize-from-data would replace the statistics the model was trained with")
        }
        return model.applying(Standardizer(fitting: rows))
    }

    /// How the model's inputs are scaled, in words.
    static func inputScaling(_ model: TrainedModel) -> String {
        if model.carriesPreprocessing { return "inputs standardized with its \(Standardizer.meanTensorName) and \(Standardizer.scaleTensorName)" }
        if model.standardizer != nil { return "inputs standardized with statistics fitted on the data (--standardize-from-data)" }
        return model.modelDescription.standardization == .none ? "inputs used as they are" : "inputs used unscaled (see the warning)"
    }

    /// `--json` of `evaluate`.
    static func evaluation(_ report: ClassificationReport, model: TrainedModel, data: String) -> PlanNode {
        var root = PlanMapping()
        root["model"] = PlanNode(.string(model.path))
        root["data"] = PlanNode(.string(data))
        root["rows"] = PlanNode(.int(report.count))
        root["accuracy"] = PlanNode(.float(report.accuracy))
        root["loss"] = PlanNode(.float(report.meanLoss))
        root["classes"] = PlanNode(.sequence((0..<report.classCount).map { c in
            var entry = PlanMapping()
            entry["class"] = PlanNode(.int(c))
            entry["precision"] = PlanNode(.float(report.precision(c)))
            entry["recall"] = PlanNode(.float(report.recall(c)))
            entry["support"] = PlanNode(.int(report.support(c)))
            return PlanNode(.mapping(entry))
        }))
        root["confusion_matrix"] = PlanNode(.sequence(report.confusionMatrix.map { row in PlanNode(.sequence(row.map { PlanNode(.int($0)) })) }))
        root["input_scaling"] = PlanNode(.string(model.carriesPreprocessing ? "preprocess_tensors" : model.standardizer != nil ? "fitted_on_data" : "none"))
        root["warnings"] = PlanNode(.sequence(model.warnings.map { PlanNode(.string($0)) }))
        return PlanNode(.mapping(root))
    }

    static func fixed(_ value: Double) -> String { String(format: "%.4f", value) }

    /// Rows of cells padded into columns two spaces apart.
    static func aligned(_ rows: [[String]], rightAligned: [Bool]) -> [String] {
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max()! }
        return rows.map { row in
            row.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return rightAligned[c] ? pad + cell : cell + pad
            }.joined(separator: "  ").trimmingTrailingSpaces
        }
    }
}

extension String {
    fileprivate var trimmingTrailingSpaces: String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
