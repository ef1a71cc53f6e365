import Testing
@testable import FLPrivacy

/// The round, attempt and experiment are bound into every derived key, seed and AAD.
@Suite struct ProtocolKeysTests {
    let rounds = [
        SecureAggregationRound(experiment: "exp", round: 1, attempt: 0),
        SecureAggregationRound(experiment: "exp", round: 1, attempt: 1),
        SecureAggregationRound(experiment: "exp", round: 2, attempt: 0),
        SecureAggregationRound(experiment: "exp2", round: 1, attempt: 0),
    ].map { ProtocolContext(round: $0, parameters: SecureAggregationParameters(threshold: 2, clipRange: 1)) }

    @Test func sameKeysInAnotherRoundGiveOtherKeysAndSeeds() throws {
        let a = try X25519KeyPair.generate(), b = try X25519KeyPair.generate()
        var envelopeKeys = Set<[UInt8]>(), seeds = Set<[UInt8]>(), aads = Set<[UInt8]>()
        for round in rounds {
            envelopeKeys.insert(try ProtocolKeys.envelopeKey(a, peer: b.publicKey, context: round, from: "a", to: "b"))
            envelopeKeys.insert(try ProtocolKeys.envelopeKey(a, peer: b.publicKey, context: round, from: "b", to: "a"))
            seeds.insert(try ProtocolKeys.pairwiseSeed(a, peer: b.publicKey, context: round, between: "a", and: "b"))
            aads.insert(ProtocolKeys.envelopeAAD(context: round, from: "a", to: "b", commitment: []))
            // Either side of a pair derives the same seed.
            #expect(try ProtocolKeys.pairwiseSeed(b, peer: a.publicKey, context: round, between: "b", and: "a")
                    == ProtocolKeys.pairwiseSeed(a, peer: b.publicKey, context: round, between: "a", and: "b"))
        }
        #expect(envelopeKeys.count == 2 * rounds.count)
        #expect(seeds.count == rounds.count)
        #expect(aads.count == rounds.count)
    }

    /// The AAD alone refuses a replay: an envelope sealed for one round does not open with the next
    /// round's AAD even under the very same key.
    @Test func anEnvelopeDoesNotOpenUnderAnotherRoundsAAD() throws {
        let key = [UInt8](repeating: 5, count: 32)
        let sealed = try AESGCM.seal([1, 2, 3], key: key, aad: ProtocolKeys.envelopeAAD(context: rounds[0], from: "a", to: "b", commitment: [9]))
        for round in rounds.dropFirst() {
            #expect(throws: SecureAggregationError.self) {
                try AESGCM.open(sealed, key: key, aad: ProtocolKeys.envelopeAAD(context: round, from: "a", to: "b", commitment: [9]))
            }
        }
        #expect(try AESGCM.open(sealed, key: key, aad: ProtocolKeys.envelopeAAD(context: rounds[0], from: "a", to: "b", commitment: [9])) == [1, 2, 3])
    }

    /// Length prefixes keep names from running into each other ("ab" + "c" is not "a" + "bc").
    @Test func bindingsAreUnambiguous() {
        let round = rounds[0]
        #expect(round.binding("x", sites: ["ab", "c"]) != round.binding("x", sites: ["a", "bc"]))
        #expect(SecureAggregationRound(experiment: "e1", round: 1, attempt: 0).binding("x") != SecureAggregationRound(experiment: "e", round: 11, attempt: 0).binding("x"))
    }

    /// Sites given other terms (parameters or agreed values) derive other keys and seeds: a server
    /// cannot sum one site under another weight scale, say, without the masks failing to cancel.
    @Test func otherTermsGiveOtherKeysAndSeeds() throws {
        let round = SecureAggregationRound(experiment: "exp", round: 1, attempt: 0, cohortSize: 5, vectorLength: 11, weightScale: 100)
        let parameters = SecureAggregationParameters(threshold: 3, clipRange: 1, bits: 32, weighting: .samples)
        var contexts = [ProtocolContext(round: round, parameters: parameters)]
        for change in [\SecureAggregationRound.cohortSize, \.vectorLength, \.weightScale] {
            var other = round
            other[keyPath: change] = (round[keyPath: change] ?? 0) + 1
            contexts.append(ProtocolContext(round: other, parameters: parameters))
            other[keyPath: change] = nil
            contexts.append(ProtocolContext(round: other, parameters: parameters))
        }
        for other in [SecureAggregationParameters(threshold: 4, clipRange: 1, bits: 32, weighting: .samples),
                      SecureAggregationParameters(threshold: 3, clipRange: 2, bits: 32, weighting: .samples),
                      SecureAggregationParameters(threshold: 3, clipRange: 1, bits: 31, weighting: .samples),
                      SecureAggregationParameters(threshold: 3, clipRange: 1, bits: 32, weighting: .uniform)] {
            contexts.append(ProtocolContext(round: round, parameters: other))
        }
        let a = try X25519KeyPair.generate(), b = try X25519KeyPair.generate()
        var seeds = Set<[UInt8]>(), keys = Set<[UInt8]>(), selfSeeds = Set<[UInt8]>()
        for context in contexts {
            seeds.insert(try ProtocolKeys.pairwiseSeed(a, peer: b.publicKey, context: context, between: "a", and: "b"))
            keys.insert(try ProtocolKeys.envelopeKey(a, peer: b.publicKey, context: context, from: "a", to: "b"))
            selfSeeds.insert(try ProtocolKeys.selfMaskSeed([UInt8](repeating: 1, count: 32), context: context, owner: "a"))
        }
        #expect(seeds.count == contexts.count && keys.count == contexts.count && selfSeeds.count == contexts.count)
    }
}
