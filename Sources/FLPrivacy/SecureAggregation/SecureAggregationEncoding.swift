/// Weighted, clipped, stochastically rounded fixed point in Z_{2^bits}. `cohortSize` sites may be
/// summed without wrapping: each value lies in 0...L with L = floor((2^bits − 1) / cohortSize).
///
/// A value v with weight factor f becomes (f·clip(v) + c)·L/(2c) rounded up or down at random in
/// proportion to the remainder (unbiased: its expectation is the exact value), so c is an offset
/// every site adds and `decode` removes once per contributor. The rounding error of one site is
/// under one step, 2c/L, per coordinate; a sum of n sites is off by less than n steps.
public struct SecureAggregationEncoding: Sendable {
    public let parameters: SecureAggregationParameters
    public let cohortSize: Int
    /// L: the largest integer one site's value encodes to.
    public let levels: UInt32

    /// `cohortSize`: the invited cohort's size (`SecureAggregationRound.cohortSize`), the most sites
    /// whose inputs can be in one sum. Not the roster U1 (the sites learn it later than the plan
    /// fixes the cohort, and a server choosing it could vary L between sites) nor the survivors
    /// (unknown when sites encode): every site and the server must use the same, or L differs
    /// between them. Refuses parameters that cannot work and a cohort under 1.
    public init(parameters: SecureAggregationParameters, cohortSize: Int) throws(SecureAggregationError) {
        if let problem = parameters.problem { throw SecureAggregationError(kind: .protocolViolation, message: problem, stage: .setup) }
        guard cohortSize >= 1 else {
            throw SecureAggregationError(kind: .protocolViolation, message: "an encoding for a cohort of \(cohortSize) sites", stage: .setup)
        }
        self.parameters = parameters
        self.cohortSize = cohortSize
        levels = UInt32((UInt64(1) << UInt64(parameters.bits) - 1) / UInt64(cohortSize))
    }

    /// The length of the encoding of `values` values (the weight factor rides last): the server's `vectorLength`.
    public static func encodedCount(values: Int) -> Int { values + 1 }

    /// One quantization step in the units of the values: 2c/L.
    public var step: Double { 2 * parameters.clipRange / Double(levels) }

    /// The most a decoded sum of `contributors` encodings can be off from Σ f·clip(v), per
    /// coordinate, before the final conversion to Float: each site's stochastic rounding moves its
    /// value by less than one step.
    public func quantizationBound(contributors: Int) -> Double {
        Double(contributors) * step
    }

    /// values.count + 1 integers: f·clip(v, ±clipRange) for each value, then f (weight factor in [0, 1]) last.
    /// A NaN value counts as 0; a weight factor outside [0, 1] is clamped into it.
    ///
    /// `generator` gives only a 32-byte seed; the rounding draws come from the AES-CTR keystream
    /// under it, a block at a time: a system generator costs a system call per draw (0.4 s per
    /// million values), the keystream half a millisecond. The same seeded generator gives the same encoding.
    public func encode(_ values: UnsafeBufferPointer<Float>, weightFactor: Double, using generator: inout some RandomNumberGenerator) -> [UInt32] {
        let f = weightFactor.isNaN ? 0 : min(max(weightFactor, 0), 1)
        let c = parameters.clipRange
        let scale = Double(levels) / (2 * c)
        let top = Double(levels)
        var out = [UInt32](repeating: 0, count: Self.encodedCount(values: values.count))
        let draws = RoundingDraws(seed: (0..<4).flatMap { _ in withUnsafeBytes(of: generator.next()) { Array($0) } })
        out.withUnsafeMutableBufferPointer { encoded in
            draws.forEachBlock(count: encoded.count) { start, uniforms in
                for k in 0..<uniforms.count {
                    let i = start + k
                    let x: Double
                    if i < values.count {
                        let v = Double(values[i])
                        x = (f * (v.isNaN ? 0 : min(max(v, -c), c)) + c) * scale
                    } else {
                        x = f * top
                    }
                    // Up with probability equal to the fractional part, using 32-bit uniforms.
                    let low = x.rounded(.down)
                    let rounded = Double(uniforms[k]) * 0x1p-32 < x - low ? low + 1 : low
                    encoded[i] = UInt32(min(max(rounded, 0), top))
                }
            }
        }
        return out
    }

    /// From the sum of `contributors` encoded vectors: Σ f·v for each value, and Σ f. Refuses more
    /// contributors than `cohortSize` (their sum may have wrapped) or fewer than 1.
    public func decode(_ sum: [UInt32], contributors: Int) throws(SecureAggregationError) -> (values: [Float], weightSum: Double) {
        guard (1...cohortSize).contains(contributors) else {
            throw SecureAggregationError(kind: .protocolViolation, message: "a sum of \(contributors) encodings decoded for a cohort of \(cohortSize)", stage: .unmask)
        }
        guard let last = sum.last else { return ([], 0) }
        let c = parameters.clipRange
        let step = self.step
        let offset = Double(contributors) * c
        var values = [Float](repeating: 0, count: sum.count - 1)
        values.withUnsafeMutableBufferPointer { out in
            sum.withUnsafeBufferPointer { encoded in
                for i in 0..<out.count { out[i] = Float(Double(encoded[i]) * step - offset) }
            }
        }
        return (values, Double(last) / Double(levels))
    }
}
