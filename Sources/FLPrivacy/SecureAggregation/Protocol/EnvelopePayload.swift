/// What one envelope carries: the recipient's shares of the sender's self-mask seed b and masking
/// private key s_sk, each with the salt that opens its commitment.
package struct EnvelopePayload: Sendable, Hashable {
    package var selfMaskShare: [UInt8]
    package var selfMaskSalt: [UInt8]
    package var maskingKeyShare: [UInt8]
    package var maskingKeySalt: [UInt8]

    package init(selfMaskShare: [UInt8], selfMaskSalt: [UInt8], maskingKeyShare: [UInt8], maskingKeySalt: [UInt8]) {
        self.selfMaskShare = selfMaskShare
        self.selfMaskSalt = selfMaskSalt
        self.maskingKeyShare = maskingKeyShare
        self.maskingKeySalt = maskingKeySalt
    }

    /// The four fields, each length-prefixed.
    package var bytes: [UInt8] {
        var out = ProtocolBytes()
        for field in [selfMaskShare, selfMaskSalt, maskingKeyShare, maskingKeySalt] { out.append(field) }
        return out.bytes
    }

    /// The payload in `bytes`, or nil when it is not four length-prefixed fields exactly, each of
    /// its exact size (a share of a 32-byte secret, a 32-byte salt).
    package init?(bytes: [UInt8]) {
        var fields: [[UInt8]] = []
        var at = 0
        while at < bytes.count, fields.count < 4 {
            guard bytes.count - at >= 4 else { return nil }
            let length = bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) }
            at += 4
            guard bytes.count - at >= length else { return nil }
            fields.append(Array(bytes[at..<(at + length)]))
            at += length
        }
        guard fields.count == 4, at == bytes.count,
              fields[0].count == ShareCommitment.shareCount, fields[2].count == ShareCommitment.shareCount,
              fields[1].count == ShareCommitment.saltCount, fields[3].count == ShareCommitment.saltCount else { return nil }
        self.init(selfMaskShare: fields[0], selfMaskSalt: fields[1], maskingKeyShare: fields[2], maskingKeySalt: fields[3])
    }

    /// The two commitments the recipient can check: to the self-mask share, then to the masking-key share.
    package var commitments: [UInt8] {
        ShareCommitment.commit(share: selfMaskShare, salt: selfMaskSalt) + ShareCommitment.commit(share: maskingKeyShare, salt: maskingKeySalt)
    }
}
