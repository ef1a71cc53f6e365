import Foundation
import Testing
import FLCore
import FLPrivacy
import FLTesting
import FLTraining
import FLWire
@testable import FLRoles

/// An aggregator that welcomes a site, gives it one training task, and then answers the model
/// request with a stream of `streamedFloats` values under a layout of `layoutFloats`.
private final class MismatchedModelAggregator: FrameHandler {
    let layout: ModelLayout
    let streamedFloats: Int
    let secureAggregation: SecureAggregationOffer?

    init(layoutFloats: Int, streamedFloats: Int, secureAggregation: SecureAggregationOffer? = nil) throws {
        layout = try ModelLayout([TensorSpec(name: "parameters", shape: [layoutFloats])])
        self.streamedFloats = streamedFloats
        self.secureAggregation = secureAggregation
    }

    func handle(_ request: Request) {
        switch request.message {
        case is CollaboratorHello:
            request.responder.reply(AggregatorWelcome(experiment: "x", roundsToTrain: 1, currentRound: 0, layout: layout,
                                                      secureAggregation: secureAggregation))
        case is TaskRequest:
            request.responder.reply(TaskReply(status: .run, round: 0, tasks: ["train"]))
        case is ModelRequest:
            request.responder.reply(ModelReply(round: 0, layout: layout),
                                    stream: FloatBufferSource([Float](repeating: 1, count: streamedFloats)))
        default:
            request.responder.fail(.badRequest, "unexpected \(type(of: request.message))")
        }
    }
}

@Suite struct CollaboratorTests {
    /// A model whose stream does not match its layout used to reach `ModelState(layout:values:)`'s
    /// precondition and kill the collaborator; it must end the run with an error naming both sizes.
    @Test(arguments: [3, 5])
    func modelStreamOfTheWrongLengthIsAnError(streamedFloats: Int) throws {
        let pki = try TestPKI()
        let log = LogRecorder()
        let handler = try MismatchedModelAggregator(layoutFloats: 4, streamedFloats: streamedFloats)
        let server = try FrameServer(configuration: ServerConfiguration(tls: try pki.issue(name: "aggregator", role: .aggregator)),
                                     handler: handler, logger: log.logger(label: "aggregator"))
        defer { server.stop() }
        let settings = CollaboratorSettings(name: "site-1", experiment: "x", aggregator: Endpoint(host: "127.0.0.1", port: server.port),
                                            tls: try pki.issue(name: "site-1"),
                                            tasks: ["train": TaskDefinition(name: "train", function: .train)],
                                            connectTimeout: 5, longPollSeconds: 1, idleTimeout: 5, reconnectWindow: 1)
        let collaborator = try Collaborator(settings: settings, runner: NoopTaskRunner(parameterCount: 4), logger: log.logger(label: "site-1"))
        let error = #expect(throws: CollaboratorError.self) { try collaborator.run() }
        #expect(error?.description.contains("streamed \(streamedFloats * 4) bytes for a layout of 16 bytes") == true, "\(String(describing: error))")
    }

    /// A site whose plan requires secure aggregation sends nothing to an aggregator that offers none,
    /// or offers other parameters (a lower threshold would let fewer sites unmask it): it stops at the
    /// welcome, saying why, before asking for any task.
    @Test(arguments: [nil, SecureAggregationOffer(threshold: 2, clipRange: 1, bits: 32, uniformWeights: false, stageTimeout: 60)])
    func aSiteRequiringSecureAggregationRefusesAnAggregatorOfferingLess(_ offer: SecureAggregationOffer?) throws {
        let pki = try TestPKI()
        let log = LogRecorder()
        let handler = try MismatchedModelAggregator(layoutFloats: 4, streamedFloats: 4, secureAggregation: offer)
        let server = try FrameServer(configuration: ServerConfiguration(tls: try pki.issue(name: "aggregator", role: .aggregator)),
                                     handler: handler, logger: log.logger(label: "aggregator"))
        defer { server.stop() }
        var settings = CollaboratorSettings(name: "site-1", experiment: "x", aggregator: Endpoint(host: "127.0.0.1", port: server.port),
                                            tls: try pki.issue(name: "site-1"),
                                            tasks: ["train": TaskDefinition(name: "train", function: .train)],
                                            connectTimeout: 5, longPollSeconds: 1, idleTimeout: 5, reconnectWindow: 1)
        settings.secureAggregation = SecureAggregationParameters(threshold: 3, clipRange: 1, bits: 32, weighting: .samples)
        let collaborator = try Collaborator(settings: settings, runner: NoopTaskRunner(parameterCount: 4), logger: log.logger(label: "site-1"))
        let error = #expect(throws: CollaboratorError.self) { try collaborator.run() }
        let says = offer == nil ? "requires secure aggregation, but the aggregator offers none" : "this site's plan says threshold 3"
        #expect(error?.description.contains(says) == true, "\(String(describing: error))")
    }

    /// The weight terms a site accepts: its cap at least its samples (up to the scale), within the
    /// scale; with uniform weights exactly 1 of 1. An aggregator capping the other sites at 0 or 1
    /// would make the unmasked sum one site's update.
    @Test func weightTermsThatShrinkASiteAreRefused() throws {
        let terms = { (cap: Int, scale: Int) in SecureAggregationTerms(cohortSize: 3, vectorLength: 5, weightCap: cap, weightScale: scale) }
        try Collaborator.checkWeight(terms(20, 40), samples: 20, uniform: false)
        try Collaborator.checkWeight(terms(40, 40), samples: 90, uniform: false)
        try Collaborator.checkWeight(terms(1, 1), samples: 90, uniform: true)
        for (cap, scale, samples, uniform) in [(0, 40, 20, false), (1, 40, 20, false), (19, 40, 20, false), (50, 40, 60, false), (1, 40, 5, true)] {
            #expect(throws: SecureAggregationAbandoned.self, "cap \(cap) of \(scale), \(samples) samples") {
                try Collaborator.checkWeight(terms(cap, scale), samples: samples, uniform: uniform)
            }
        }
    }
}
