import Foundation
import FLCore
import FLTraining
import FLWire

// What the aggregator and each collaborator run with.
extension ExperimentPlan {
    /// The aggregator's settings for running this plan as experiment `experiment`.
    public func aggregatorSettings(experiment: String, tls: TLSConfiguration, host: String? = nil, port: Int? = nil) -> AggregatorSettings {
        let paths = AggregatorPaths(initialModel: workspace.resolve(aggregator.initialModelPath), bestModel: workspace.resolve(aggregator.bestModelPath),
                                    lastModel: workspace.resolve(aggregator.lastModelPath),
                                    checkpointDirectory: workspace.resolve(aggregator.checkpointDirectory),
                                    metricsLog: workspace.resolve(aggregator.metricsLogPath))
        let server = ServerConfiguration(host: host ?? network.host, port: port ?? network.port, tls: tls,
                                         // + 4: a masked input carries its weight after the model's values.
                                         limits: FrameLimits(maximumStreamSize: max(1 << 20, layout.byteCount + 4)),
                                         handshakeTimeout: network.handshakeTimeout, idleTimeout: network.idleTimeout)
        var settings = AggregatorSettings(experiment: experiment, roundsToTrain: roundsToTrain, collaborators: collaborators, tasks: tasks,
                                          taskGroups: taskGroups, assignerSeed: assignerSeed, bestMetric: aggregator.bestMetric,
                                          higherIsBetter: aggregator.higherIsBetter, finalValidation: aggregator.finalValidation,
                                          aggregation: aggregator.aggregation, straggler: aggregator.straggler,
                                          maximumSampleCount: aggregator.maximumSampleCount, concurrentUpdates: aggregator.concurrentUpdates,
                                          longPollSeconds: collaborator.longPollSeconds, modelMetadata: modelMetadata,
                                          standardizationFeatures: federatedFeatures, paths: paths, server: server)
        settings.fractionPerRound = fractionPerRound
        settings.secureAggregation = aggregator.secureAggregation
        settings.differentialPrivacy = aggregator.differentialPrivacy
        return settings
    }

    /// A collaborator's settings for running this plan as experiment `experiment`.
    public func collaboratorSettings(name: String, experiment: String, aggregator endpoint: Endpoint? = nil, tls: TLSConfiguration) -> CollaboratorSettings {
        CollaboratorSettings(name: name, experiment: experiment,
                             aggregator: endpoint ?? Endpoint(host: network.host, port: network.port), aggregatorName: network.aggregatorName,
                             tls: tls, tasks: tasks, taskArguments: taskArguments,
                             limits: FrameLimits(maximumStreamSize: max(1 << 20, layout.byteCount)), connectTimeout: network.handshakeTimeout,
                             longPollSeconds: collaborator.longPollSeconds, idleTimeout: network.idleTimeout,
                             reconnectWindow: collaborator.reconnectWindow,
                             secureAggregation: aggregator.secureAggregation?.parameters, differentialPrivacy: aggregator.differentialPrivacy)
    }
}
