import Testing
import FLPKI
import FLPrivacy
import FLTesting

/// A whole round of secure aggregation in one process: a server and one client per site, with
/// hooks to make sites drop out between stages and to look at what the server receives.
struct SecureAggregationHarness {
    let parameters: SecureAggregationParameters
    let round: SecureAggregationRound
    let sites: [String]
    let length: Int
    /// The federation's CA and each site's envoy identity from it.
    let pki: TestPKI
    let trust: SecureAggregationTrust
    var identities: [String: SecureAggregationIdentity] = [:]
    var clients: [String: SecureAggregationClient] = [:]
    var server: SecureAggregationServer
    /// What each site sent the server in stage 2.
    var masked: [String: [UInt32]] = [:]

    init(sites count: Int, threshold: Int, bits: Int = 32, length: Int, round: SecureAggregationRound = SecureAggregationRound(experiment: "exp", round: 3, attempt: 0)) throws {
        parameters = SecureAggregationParameters(threshold: threshold, clipRange: 1, bits: bits, weighting: .samples)
        // The values the sites agree: the cohort and the vector length unless the test set them.
        var round = round
        round.cohortSize = round.cohortSize ?? count
        round.vectorLength = round.vectorLength ?? length
        self.round = round
        sites = (1...count).map { "site-\($0)" }
        self.length = length
        pki = try TestPKI()
        trust = SecureAggregationTrust(authority: pki.authority.certificate)
        server = SecureAggregationServer(round: round, parameters: parameters, cohort: sites, vectorLength: length, trust: trust)
        for site in sites {
            identities[site] = try identity(site)
            clients[site] = try client(site)
        }
    }

    /// A new envoy certificate and key for `name` from this harness's CA (or with `role`).
    func identity(_ name: String, role: CertificateRole = .envoy, validity: Validity = .defaultCertificate,
                  authority: CertificateAuthority? = nil) throws -> SecureAggregationIdentity {
        let key = try PrivateKey.generate()
        let certificate = try (authority ?? pki.authority).sign(CertificateRequest(name: name, key: key), role: role, validity: validity)
        return SecureAggregationIdentity(certificate: certificate, key: key)
    }

    /// A fresh client for `site` (its identity from this CA unless given), trusting this CA.
    func client(_ site: String, round: SecureAggregationRound? = nil, parameters: SecureAggregationParameters? = nil,
                identity: SecureAggregationIdentity? = nil) throws -> SecureAggregationClient {
        try SecureAggregationClient(site: site, round: round ?? self.round, parameters: parameters ?? self.parameters,
                                    identity: identity ?? identities[site] ?? self.identity(site), trust: trust)
    }

    /// Stage 0 for every site not in `absent`; returns the roster.
    mutating func advertise(absent: Set<String> = []) throws -> [KeyAdvertisement] {
        for site in sites where !absent.contains(site) { try server.receiveAdvertisement(clients[site]!.advertisement, from: site) }
        return try server.closeAdvertisements()
    }

    /// Stage 1 for every roster member not in `absent`; returns U2.
    mutating func shareKeys(_ roster: [KeyAdvertisement], absent: Set<String> = []) throws -> [String] {
        for advertisement in roster where !absent.contains(advertisement.site) {
            let envelopes = try clients[advertisement.site]!.shareKeys(roster: roster)
            try server.receiveShares(envelopes, from: advertisement.site)
        }
        return try server.closeShares()
    }

    /// Stage 2 for every U2 member not in `absent`, with `inputs[site]` as its encoded vector.
    mutating func maskInputs(_ members: [String], inputs: [String: [UInt32]], absent: Set<String> = []) throws -> (survivors: [String], dropped: [String]) {
        for site in members where !absent.contains(site) {
            let y = try clients[site]!.maskInput(inputs[site]!, received: server.envelopes(for: site))
            masked[site] = y
            try y.withUnsafeBufferPointer { (values) in try server.receiveMaskedInput(values, from: site) }
        }
        return try server.closeMaskedInputs()
    }

    /// Stage 3 for every survivor not in `absent`, each reveal passed through `tamper` first.
    mutating func reveal(survivors: [String], dropped: [String], absent: Set<String> = [],
                         tamper: (String, [RevealedShare]) -> [RevealedShare] = { $1 }) throws -> UnmaskedSum {
        for site in survivors where !absent.contains(site) {
            let shares = try clients[site]!.reveal(survivors: survivors, dropped: dropped)
            try server.receiveReveal(tamper(site, shares), from: site)
        }
        return try server.unmask()
    }

    /// Every stage, every site present: the unmasked sum.
    mutating func run(inputs: [String: [UInt32]]) throws -> UnmaskedSum {
        let roster = try advertise()
        let members = try shareKeys(roster)
        let (survivors, dropped) = try maskInputs(members, inputs: inputs)
        return try reveal(survivors: survivors, dropped: dropped)
    }

    /// Random encoded vectors below 2^bits / sites, so their sum cannot wrap.
    func randomInputs(using generator: inout some RandomNumberGenerator) -> [String: [UInt32]] {
        let limit = UInt32((UInt64(1) << UInt64(parameters.bits) - 1) / UInt64(sites.count))
        return Dictionary(uniqueKeysWithValues: sites.map { site in (site, (0..<length).map { _ in UInt32.random(in: 0...limit, using: &generator) }) })
    }

    /// Σ of `sites`' vectors mod 2^bits.
    func plainSum(_ inputs: [String: [UInt32]], of sites: [String]) -> [UInt32] {
        let mask = parameters.bits == 32 ? UInt32.max : UInt32((1 << parameters.bits) - 1)
        return (0..<length).map { i in sites.reduce(UInt32(0)) { $0 &+ inputs[$1]![i] } & mask }
    }
}

/// Runs `body` and expects a SecureAggregationError of `kind` (naming `sites`, at `stage`, when given).
func expectError(_ kind: SecureAggregationError.Kind, sites: [String]? = nil, stage: SecureAggregationError.Stage? = nil,
                 _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        try body()
        Issue.record("expected a \(kind) refusal", sourceLocation: sourceLocation)
    } catch let error as SecureAggregationError {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        if let sites { #expect(error.sites == sites, "\(error)", sourceLocation: sourceLocation) }
        if let stage { #expect(error.stage == stage, "\(error)", sourceLocation: sourceLocation) }
    } catch {
        Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
    }
}
