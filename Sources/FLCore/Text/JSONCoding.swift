import Foundation

/// The one JSON configuration for `Codable` values: every `JSONEncoder` and `JSONDecoder` in
/// SwiftFL comes from here, so every file, event line and command output is written the same way
/// and everything SwiftFL writes, it reads back.
///
/// - Keys are sorted and `/` is not escaped: output is stable (it diffs well) and readable (paths).
/// - JSON has no NaN or infinity. A metric can be either (a diverged loss), and refusing to write it
///   would lose the event or the state file holding it, so non-finite numbers are written as the
///   strings `"nan"`, `"inf"` and `"-inf"`, and every decoder reads those strings back as numbers.
///   (Hand-written JSON lines, such as `MetricsLog`'s, write `null` instead; they are not Codable.)
public enum JSONCoding {
    /// How an encoder lays out its output.
    public enum Layout: Sendable {
        /// One line, no spaces: JSON lines (logs, events, journals, ledgers) and compact command output.
        case line
        /// Indented, one key per line: state files a person may read or edit, and `--json` listings.
        case pretty
    }

    /// The strings that stand for non-finite numbers, both ways.
    static let nonFinite = (positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")

    /// A new encoder for `layout` (encoders are not Sendable: each use makes its own, which is cheap).
    public static func encoder(_ layout: Layout = .line) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = layout == .pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: nonFinite.positiveInfinity,
                                                                      negativeInfinity: nonFinite.negativeInfinity, nan: nonFinite.nan)
        return encoder
    }

    /// A new decoder that reads what `encoder` writes, non-finite numbers included.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: nonFinite.positiveInfinity,
                                                                        negativeInfinity: nonFinite.negativeInfinity, nan: nonFinite.nan)
        return decoder
    }

    /// `value` as one line of JSON (no newline), as `encoder(.line)` writes it.
    public static func line(_ value: some Encodable) throws -> String {
        String(decoding: try encoder(.line).encode(value), as: UTF8.self)
    }
}
