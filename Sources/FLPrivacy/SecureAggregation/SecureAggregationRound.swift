/// Identifies one protocol instance; bound into every HKDF `info` and AES-GCM AAD, so nothing from
/// one round/attempt/experiment can be replayed into another.
public struct SecureAggregationRound: Sendable, Hashable, Codable {
    public var experiment: String
    public var round: Int
    public var attempt: Int

    public init(experiment: String, round: Int, attempt: Int) {
        self.experiment = experiment
        self.round = round
        self.attempt = attempt
    }

    /// An unambiguous byte string naming `purpose`, this instance and `sites`, in that order: every
    /// field is length-prefixed or fixed-width, so no two different tuples give the same bytes.
    package func binding(_ purpose: String, sites: [String] = []) -> [UInt8] {
        var out = ProtocolBytes()
        out.append("SwiftFL secure aggregation v1")
        out.append(purpose)
        out.append(experiment)
        out.append(Int64(round))
        out.append(Int64(attempt))
        for site in sites { out.append(site) }
        return out.bytes
    }
}

/// A little byte writer for the bindings: strings with a 32-bit length before them, integers as
/// fixed-width big-endian words.
package struct ProtocolBytes {
    package private(set) var bytes: [UInt8] = []

    package init() {}

    package mutating func append(_ string: String) {
        let utf8 = Array(string.utf8)
        append(UInt32(utf8.count))
        bytes += utf8
    }

    package mutating func append(_ raw: [UInt8]) {
        append(UInt32(raw.count))
        bytes += raw
    }

    package mutating func append(_ value: Int64) {
        append(UInt64(bitPattern: value))
    }

    package mutating func append<Word: FixedWidthInteger & UnsignedInteger>(_ value: Word) {
        for shift in stride(from: Word.bitWidth - 8, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }
}
