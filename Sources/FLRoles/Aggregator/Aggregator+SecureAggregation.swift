import FLCore
import FLPKI
import FLPrivacy
import FLWire

// Secure aggregation's stage requests, each on its connection's thread. The sender is the name of
// its certificate (`request.peer.name`), never a name inside the message; what to do is decided by
// the RoundMachine (`RoundMachine+SecureAggregation`), which holds the requests until their stage closes.
extension Aggregator {
    /// What the welcome says about secure aggregation (nil: off).
    var secureAggregationOffer: SecureAggregationOffer? {
        guard let plan = settings.secureAggregation else { return nil }
        let p = plan.parameters
        return SecureAggregationOffer(threshold: p.threshold, clipRange: p.clipRange, bits: p.bits, uniformWeights: p.weighting == .uniform,
                                      stageTimeout: plan.stageTimeout)
    }

    /// The federation's CA, which the secure aggregation server checks the sites' advertisement
    /// certificates against (nil when secure aggregation is off).
    static func secureAggregationTrust(_ settings: AggregatorSettings) throws -> SecureAggregationTrust? {
        guard settings.secureAggregation != nil else { return nil }
        return SecureAggregationTrust(authority: try Certificate.load(path: settings.server.tls.caCertificatePath))
    }

    /// Handles a secure aggregation message; false when `request` is not one.
    func handleSecureAggregation(_ request: Request) -> Bool {
        let name = request.peer.name
        let waiter = request.responder
        switch request.message {
        case let keys as SecAggKeys:
            mutate { $0.receiveKeys(keys, from: name, waiter: waiter) }
        case let shares as SecAggShares:
            mutate { $0.receiveShares(shares, from: name, waiter: waiter) }
        case let input as SecAggMaskedInput:
            receiveMaskedInput(input, request)
        case let reveal as SecAggReveal:
            mutate { $0.receiveReveal(reveal, from: name, waiter: waiter) }
        default:
            return false
        }
        return true
    }

    /// Checks the announcement before reading anything (the vector's size is bounded by the model's),
    /// reads the masked vector off the lock into a staging buffer (their number bounds memory; further
    /// uploads wait, slowed by TCP), then hands it to the machine, which adds it into the running sum
    /// (masked: no site's update is ever held in the clear).
    private func receiveMaskedInput(_ input: SecAggMaskedInput, _ request: Request) {
        let name = request.peer.name
        if let refusal = machine.withLock({ m in
            m.judgeMaskedInput(input, from: name, streamBytes: request.stream?.byteCount) ?? m.reserveMaskedUpload(from: name)
        }) {
            logger.warning("secure aggregation: refused the masked input of \(name): \(refusal.message)", ["peer": name])
            onEvent(.updateRejected(collaborator: name, reason: "secure aggregation, round \(input.round): \(refusal.message)"))
            return request.responder.fail(refusal.code, refusal.message)
        }
        do {
            try maskedStaging.withBuffer(timeout: settings.server.idleTimeout) { buffer in
                // The staging buffers hold 32-bit floats; the masked values are read into the same bytes.
                try buffer.withUnsafeMutableBytes { raw in
                    try request.stream!.read(into: raw)
                    raw.withMemoryRebound(to: UInt32.self) { values in
                        mutate { $0.receiveMaskedInput(input, values: UnsafeBufferPointer(values), from: name, waiter: request.responder) }
                    }
                }
            }
        } catch {
            logger.warning("lost the masked input of \(name) for round \(input.round): \(error)", ["peer": name])
            mutate { $0.releaseMaskedUpload(from: name) }
            request.peer.close()
        }
    }
}
