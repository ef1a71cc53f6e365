/// Shamir's t-of-n secret sharing over GF(2^61 − 1) for secrets of a fixed byte length.
///
/// A secret is cut into chunks of at most 7 bytes (56 bits, below the field's 61, so every chunk is
/// a field element); each chunk is the constant term of its own random polynomial of degree t − 1,
/// and a share is the polynomials' values at one x. Any t shares give the secret back; fewer reveal
/// nothing about it.
package struct ShamirSecretSharing: Sendable {
    /// Bytes per chunk.
    package static let chunkBytes = 7

    package let threshold: Int
    package let secretLength: Int

    /// Chunks per secret (and values per share).
    package var chunks: Int { (secretLength + Self.chunkBytes - 1) / Self.chunkBytes }

    package init(threshold: Int, secretLength: Int = 32) {
        precondition(threshold >= 1 && secretLength > 0)
        self.threshold = threshold
        self.secretLength = secretLength
    }

    /// The shares of `secret` at x = 1...count.
    package func split(_ secret: [UInt8], count: Int) throws(SecureAggregationError) -> [ShamirShare] {
        guard secret.count == secretLength else { throw .crypto("secret of \(secret.count) bytes, expected \(secretLength)") }
        guard count >= threshold else { throw .crypto("\(count) shares cannot meet a threshold of \(threshold)") }
        var shares = (1...count).map { ShamirShare(x: UInt64($0), values: []) }
        for chunk in 0..<chunks {
            var coefficients = [chunkValue(secret, chunk)]
            for _ in 1..<threshold { coefficients.append(try PrimeField.random()) }
            for i in shares.indices {
                // Horner's rule from the highest coefficient down.
                let x = shares[i].x
                var y: UInt64 = 0
                for c in coefficients.reversed() { y = PrimeField.add(PrimeField.multiply(y, x), c) }
                shares[i].values.append(y)
            }
        }
        return shares
    }

    /// The secret from the first `threshold` of `shares` (distinct x-coordinates). Throws when
    /// there are too few, or when the chunks found do not fit their bytes (inconsistent shares).
    package func combine(_ shares: [ShamirShare]) throws(SecureAggregationError) -> [UInt8] {
        let used = Array(shares.prefix(threshold))
        guard used.count == threshold else { throw .crypto("\(shares.count) shares, \(threshold) needed") }
        guard Set(used.map(\.x)).count == used.count, used.allSatisfy({ $0.x != 0 && $0.values.count == chunks }) else {
            throw .crypto("shares with repeated or zero x-coordinates, or of the wrong length")
        }
        let weights = lagrangeWeightsAtZero(used.map(\.x))
        var secret: [UInt8] = []
        for chunk in 0..<chunks {
            var value: UInt64 = 0
            for (share, weight) in zip(used, weights) { value = PrimeField.add(value, PrimeField.multiply(share.values[chunk], weight)) }
            let width = chunkWidth(chunk)
            guard value >> UInt64(8 * width) == 0 else { throw .crypto("the shares do not lie on one polynomial") }
            for shift in stride(from: 8 * (width - 1), through: 0, by: -8) { secret.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        return secret
    }

    /// λ_i = Π_{j≠i} x_j / (x_j − x_i): p(0) = Σ λ_i p(x_i).
    private func lagrangeWeightsAtZero(_ xs: [UInt64]) -> [UInt64] {
        xs.indices.map { i in
            var numerator: UInt64 = 1, denominator: UInt64 = 1
            for j in xs.indices where j != i {
                numerator = PrimeField.multiply(numerator, xs[j])
                denominator = PrimeField.multiply(denominator, PrimeField.subtract(xs[j], xs[i]))
            }
            return PrimeField.multiply(numerator, PrimeField.inverse(denominator))
        }
    }

    private func chunkWidth(_ chunk: Int) -> Int {
        min(Self.chunkBytes, secretLength - chunk * Self.chunkBytes)
    }

    /// Chunk `chunk` of `secret` as a big-endian integer.
    private func chunkValue(_ secret: [UInt8], _ chunk: Int) -> UInt64 {
        let start = chunk * Self.chunkBytes
        return secret[start..<(start + chunkWidth(chunk))].reduce(0) { $0 << 8 | UInt64($1) }
    }
}
