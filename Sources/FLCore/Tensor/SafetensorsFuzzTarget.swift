import Foundation

/// The safetensors reader as a fuzzing target: any bytes go in, and the only acceptable outcomes are
/// a model, a header, or a `SafetensorsError`. The model reader and the header reader share one
/// parser, so they must agree on every input; what reads as a model must also survive being written
/// back out and read again. The fuzzer (`fx-fuzz safetensors`) and the corpus replay test call the
/// same function.
public enum SafetensorsFuzzTarget {
    /// Decodes `bytes` as a header and as a model (in memory, as `Safetensors.read` reads a file).
    ///
    /// - Throws: `FuzzFinding` when the two readers disagree or a round trip changes the model;
    ///   refusals of malformed input are not findings.
    public static func run(_ bytes: [UInt8]) throws(FuzzFinding) {
        let header = try? SafetensorsHeader.decode(bytes, path: "fuzz.safetensors")
        let layout = try? header?.modelLayout()
        let decoded: (model: ModelState, metadata: [String: String])
        do {
            decoded = try Safetensors.decode(Data(bytes), source: "fuzz.safetensors")
        } catch {
            guard layout == nil else { throw FuzzFinding(target: "safetensors", "the header reads as model \(layout!) but decode refuses it: \(error)") }
            return
        }
        guard let header, let layout else { throw FuzzFinding(target: "safetensors", "decode reads a model whose header or layout is refused") }
        guard decoded.model.layout == layout, decoded.metadata == header.metadata else {
            throw FuzzFinding(target: "safetensors", "decode and the header reader disagree on the layout or the metadata")
        }
        try checkRoundTrip(decoded.model, metadata: decoded.metadata)
    }

    /// Writes `model` back out and reads it again: the same tensors, the same bits, the same metadata.
    private static func checkRoundTrip(_ model: ModelState, metadata: [String: String]) throws(FuzzFinding) {
        let encoded = Safetensors.encode(model, metadata: metadata)
        let back: (model: ModelState, metadata: [String: String])
        do {
            back = try Safetensors.decode(encoded, source: "encode")
        } catch {
            throw FuzzFinding(target: "safetensors", "encode of a decoded model does not decode: \(error)")
        }
        // By bit pattern: NaN payloads must survive too, and NaN != NaN.
        guard back.model.layout == model.layout, back.metadata == metadata,
              back.model.values.map(\.bitPattern) == model.values.map(\.bitPattern) else {
            throw FuzzFinding(target: "safetensors", "encode of a decoded model reads back different (layout \(model.layout))")
        }
    }
}
