/// The uniform draws of stochastic rounding: the AES-256-CTR keystream under a seed, handed out a
/// block of 32-bit words at a time through one fixed buffer.
struct RoundingDraws {
    private static let blockWords = 16 * 1024
    let seed: [UInt8]

    init(seed: [UInt8]) {
        self.seed = seed
    }

    /// Calls `body(start, words)` for successive blocks covering 0..<count.
    func forEachBlock(count: Int, _ body: (Int, UnsafeMutableBufferPointer<UInt32>) -> Void) {
        guard count > 0 else { return }
        let scratch = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: min(Self.blockWords, count))
        defer { scratch.deallocate() }
        let stream: AESCTRStream
        do {
            stream = try AESCTRStream(key: seed, counter: [UInt8](repeating: 0, count: 16))
        } catch {
            // Only a broken OpenSSL fails here (the key and counter have the right sizes).
            fatalError("stochastic rounding: \(error)")
        }
        var start = 0
        while start < count {
            let block = UnsafeMutableBufferPointer(rebasing: scratch[0..<min(scratch.count, count - start)])
            do { try stream.words(block) } catch { fatalError("stochastic rounding: \(error)") }
            body(start, block)
            start += block.count
        }
    }
}
