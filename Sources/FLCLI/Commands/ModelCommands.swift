import Foundation
import FLCore
import FLRoles
import FLTraining

/// `fx model`: look inside safetensors files, and bring files made elsewhere (PyTorch, numpy) to
/// SwiftFL's model layout.
enum ModelCommands {
    static var command: Command {
        Command("model", abstract: "Inspect, convert and run models (safetensors files).", discussion: layoutNote,
                subcommands: [inspectCommand, convertCommand, predictCommand, evaluateCommand])
    }

    static let layoutNote = """
        SwiftFL keeps a model in memory as one contiguous float32 buffer, tensor after tensor; on disk that is
        exactly a safetensors file whose tensors are all F32, in buffer order. There is no other format to
        convert to or from: `convert` only changes dtypes (and, with --workspace, the order) of files written
        elsewhere.
        """

    static let inspectCommand = Command(
        "inspect", abstract: "Show a safetensors file's tensors, metadata, and how to run it: network, label column, preprocessing.",
        discussion: """
        Reads only the header (and the small preprocess tensors), so large checkpoints are instant. Any dtype is shown;
        SwiftFL trains F32 models. A model of the builtin runner describes itself (swiftfl.* metadata): its network,
        label column and how its inputs were standardized, shown in words; preprocess.mean and preprocess.scale, when
        the file has them, are the standardization `fx model predict` applies.
        """,
        arguments: [file, json]
    ) { args, context in
        let path = context.absolute(try args.required(Self.file))
        let header = try SafetensorsHeader.read(path)
        let swiftFL = header.entries.allSatisfy { $0.spec.dtype == .float32 }
        let run = try ModelRunInformation(header)
        if args[Self.json] {
            context.console.print(try inspection(header, shownPath: path, swiftFL: swiftFL, run: run).canonicalJSON(pretty: true))
            return 0
        }
        var counts: [DType: Int] = [:]
        for entry in header.entries { counts[entry.spec.dtype, default: 0] += entry.spec.count }
        let dtypes = DType.allCases.filter { counts[$0] != nil }.map { "\($0.rawValue): \(counts[$0]!)" }.joined(separator: ", ")
        context.console.print(path)
        context.console.print("  \(header.entries.count) tensors, \(header.parameterCount) parameters\(dtypes.isEmpty ? "" : " (\(dtypes))"), "
                              + "header \(header.headerLength) bytes, data \(header.dataSize) bytes")
        // A description that reads is shown in words below, not as its raw keys.
        for key in header.metadata.keys.sorted() where run.description == nil || !key.hasPrefix(ModelDescription.keyPrefix) {
            context.console.print("  metadata \(key): \(header.metadata[key]!)")
        }
        let rows = [("name", "dtype", "shape", "parameters")]
            + header.entries.map { ($0.spec.name, $0.spec.dtype.rawValue, TensorSpec.format($0.spec.shape), String($0.spec.count)) }
        let widths = (rows.map(\.0.count).max()!, rows.map(\.1.count).max()!, rows.map(\.2.count).max()!)
        for row in rows {
            context.console.print("  " + [row.0.padding(toLength: widths.0, withPad: " ", startingAt: 0), row.1.padding(toLength: widths.1, withPad: " ", startingAt: 0),
                                          row.2.padding(toLength: widths.2, withPad: " ", startingAt: 0), row.3].joined(separator: "  "))
        }
        context.console.print(swiftFL ? "  a SwiftFL model: every tensor is F32"
                                      : "  not a SwiftFL model as it is: convert it to F32 with `fx model convert --input \(path) --output FILE`")
        for line in run.lines(path: path) { context.console.print("  " + line) }
        return 0
    }

    static let convertCommand = Command(
        "convert", abstract: "Convert a safetensors file to SwiftFL's layout: every tensor F32.",
        discussion: """
        \(layoutNote)

        F64, F16, BF16, integer and boolean tensors become F32, rounded to nearest (as numpy's astype(float32)); F32
        tensors are copied bit for bit and the metadata is kept. With --workspace, tensors are matched by name to the
        plan's model (task_runner), put in its order, and checked: the result can be the experiment's initial model
        (aggregator.settings.init_state_path). A value that is not finite in F32 (NaN, infinity, or an F64 beyond
        ±3.4e38) is refused, naming the tensor. The output is written atomically; it may be the input file.
        """,
        arguments: [input, convertOutput, layoutWorkspace]
    ) { args, context in
        let input = context.absolute(try args.required(Self.input)), output = context.absolute(try args.required(Self.convertOutput))
        var layout: ModelLayout?
        var plan: ExperimentPlan?
        if let directory = args[Self.layoutWorkspace] {
            let workspace = Workspace(root: context.absolute(directory))
            plan = try ExperimentPlan.load(workspace: workspace, installation: try? Installation.locate(environment: context.environment))
            // The model's own tensors; the federation's preprocessing is not the checkpoint's to give.
            layout = plan?.runner.layout
        }
        var (model, metadata, types) = try Safetensors.readConverting(input, matching: layout)
        if let features = plan?.federatedFeatures {
            // Features stay as they are until the sites' statistics are in, as in `fx plan initialize`'s model.
            model = Standardizer.identity(features: features).appendingPreprocessTensors(to: model)
        }
        if let bad = model.firstNonFinite {
            let from = types[bad.tensor].map { $0 == .float32 ? "" : " after conversion from \($0.rawValue)" } ?? ""
            throw ModelCommandError("\(input): tensor '\(bad.tensor)' has \(bad.value) at element \(bad.element)\(from); models must be finite, nothing written")
        }
        try Safetensors.write(model, to: output, metadata: metadata)
        var converted: [DType: [String]] = [:]
        for spec in model.layout.tensors { converted[types[spec.name] ?? .float32, default: []].append(spec.name) }
        let summary = DType.allCases.compactMap { dtype in
            converted[dtype].map { names in "\(dtype == .float32 ? "F32 kept" : "\(dtype.rawValue) → F32"): \(names.count)" }
        }.joined(separator: ", ")
        context.console.print("\(model.layout.tensors.count) tensors, \(model.layout.count) parameters (\(summary))"
                              + (layout == nil ? "" : ", in the plan's order"))
        context.console.print("wrote \(output)")
        return 0
    }

    static let file = Positional("file", help: "The safetensors file.")
    /// `--json` of `inspect` and `evaluate`.
    static let json = Flag("--json", help: "Print one JSON object (sorted keys) instead of a table.")
    static let input = Option("--input", value: "FILE", help: "The safetensors file to convert.", required: true)
    static let convertOutput = Option("--output", value: "FILE", help: "Where to write the F32 model.", required: true)
    static let layoutWorkspace = Option("--workspace", value: "DIR", help: "Match and order the tensors as this workspace's plan declares them.")

    /// The `--json` form of `inspect`.
    static func inspection(_ header: SafetensorsHeader, shownPath: String, swiftFL: Bool, run: ModelRunInformation) -> PlanNode {
        var root = PlanMapping()
        root["path"] = PlanNode(.string(shownPath))
        root["header_bytes"] = PlanNode(.int(header.headerLength))
        root["data_bytes"] = PlanNode(.int(header.dataSize))
        root["parameter_count"] = PlanNode(.int(header.parameterCount))
        root["swiftfl_model"] = PlanNode(.bool(swiftFL))
        var metadata = PlanMapping()
        for key in header.metadata.keys.sorted() { metadata[key] = PlanNode(.string(header.metadata[key]!)) }
        root["metadata"] = PlanNode(.mapping(metadata))
        root["tensors"] = PlanNode(.sequence(header.entries.map { entry in
            var t = PlanMapping()
            t["name"] = PlanNode(.string(entry.spec.name))
            t["dtype"] = PlanNode(.string(entry.spec.dtype.rawValue))
            t["shape"] = PlanNode(.sequence(entry.spec.shape.map { PlanNode(.int($0)) }))
            t["parameters"] = PlanNode(.int(entry.spec.count))
            t["data_offsets"] = PlanNode(.sequence([PlanNode(.int(entry.byteRange.lowerBound)), PlanNode(.int(entry.byteRange.upperBound))]))
            return PlanNode(.mapping(t))
        }))
        run.add(to: &root)
        return PlanNode(.mapping(root))
    }
}

/// A model file `fx model` cannot convert as asked.
struct ModelCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
