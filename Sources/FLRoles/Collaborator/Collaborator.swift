import Foundation
import Synchronization
import FLCore
import FLPrivacy
import FLTraining
import FLWire

/// How a collaborator reaches its aggregator and how patient it is.
public struct CollaboratorSettings: Sendable {
    /// This site's name: the common name of its certificate and an entry of the plan's `cols.yaml`.
    public var name: String
    public var experiment: String
    public var aggregator: Endpoint
    /// The common name the aggregator's certificate must carry.
    public var aggregatorName: String
    public var tls: TLSConfiguration
    /// The plan's tasks, by name: what each one does.
    public var tasks: [String: TaskDefinition]
    /// Arguments of each task from the plan (`kwargs`).
    public var taskArguments: [String: [String: TaskArgument]]
    public var limits: FrameLimits
    public var connectTimeout: Double
    /// Longest the aggregator may hold a request for work.
    public var longPollSeconds: Double
    /// Seconds without an answer after which the connection is presumed dead.
    public var idleTimeout: Double
    /// How long to keep trying to reach an aggregator that is gone before giving up.
    public var reconnectWindow: Double
    /// Fewest training rows this site sends feature statistics about: a site with fewer declines,
    /// since sums over a handful of rows say too much about each (the site's choice, not the plan's).
    public var minimumStatisticsRows: Int
    /// The secure aggregation the plan this site holds requires (nil: none). The site checks the
    /// aggregator's offer against it rather than take the aggregator's word: an aggregator offering
    /// none, or other parameters, gets no update at all.
    public var secureAggregation: SecureAggregationParameters?
    /// The plan's differential privacy: with distributed placement this site clips its change and
    /// adds its share of the noise itself, as its own plan says.
    public var differentialPrivacy: DifferentialPrivacyParameters?

    public init(name: String, experiment: String, aggregator: Endpoint, aggregatorName: String = "aggregator", tls: TLSConfiguration, tasks: [String: TaskDefinition],
                taskArguments: [String: [String: TaskArgument]] = [:], limits: FrameLimits = FrameLimits(), connectTimeout: Double = 10,
                longPollSeconds: Double = 30, idleTimeout: Double = 60, reconnectWindow: Double = 300,
                minimumStatisticsRows: Int = CollaboratorSettings.defaultMinimumStatisticsRows,
                secureAggregation: SecureAggregationParameters? = nil, differentialPrivacy: DifferentialPrivacyParameters? = nil) {
        self.name = name
        self.experiment = experiment
        self.aggregator = aggregator
        self.aggregatorName = aggregatorName
        self.tls = tls
        self.tasks = tasks
        self.taskArguments = taskArguments
        self.limits = limits
        self.connectTimeout = connectTimeout
        self.longPollSeconds = longPollSeconds
        self.idleTimeout = idleTimeout
        self.reconnectWindow = reconnectWindow
        self.minimumStatisticsRows = minimumStatisticsRows
        self.secureAggregation = secureAggregation
        self.differentialPrivacy = differentialPrivacy
    }

    /// A site sends statistics about at least 10 rows unless it says otherwise.
    public static let defaultMinimumStatisticsRows = 10
}

/// What a collaborator's run came to.
public struct CollaboratorOutcome: Sendable, Equatable {
    /// Whether the aggregator ended the experiment normally.
    public var succeeded: Bool
    public var reason: String
    /// Tasks this process ran.
    public var tasksRun: Int
}

/// A collaboration failure that is not the network's fault: refused by the aggregator, or a task failed.
public struct CollaboratorError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One site's side of an experiment: it dials out to the aggregator (sites never accept
/// connections), asks for work, runs each task on the local shard through its task runner, and
/// sends back metrics and, for training, the updated model. When the connection drops it reconnects
/// with backoff and carries on from the aggregator's current round.
public final class Collaborator: Sendable {
    public let settings: CollaboratorSettings
    let runner: any TaskRunner
    let logger: Logger
    private let context: TLSContext
    /// Rounds whose secure aggregation this site revealed shares for: it never masks its update for
    /// such a round again (in a later attempt, or after the aggregator restarted), since two unmasked
    /// sums of the same updates over different sites give away their difference.
    let revealedRounds = Mutex<Set<Int>>([])

    public init(settings: CollaboratorSettings, runner: any TaskRunner, logger: Logger) throws {
        self.settings = settings
        self.runner = runner
        self.logger = logger
        self.context = try TLSContext(settings.tls, side: .client)
    }

    /// Runs until the aggregator says the experiment is over; returns how it ended.
    /// Throws when the aggregator refuses this site or stays unreachable beyond the reconnect window.
    public func run() throws -> CollaboratorOutcome {
        var tasksRun = 0
        var unreachableSince: Deadline?
        let loop = ReconnectLoop(backoff: Backoff(initial: 0.1, maximum: 5))
        let outcome = try loop.run(willWait: { reason, delay in
            logger.info("aggregator not reachable (\(reason)); retrying in \(String(format: "%.1f", delay)) s")
        }) { () throws -> ReconnectStep<CollaboratorOutcome> in
            let client: FrameClient
            let secureAggregation: SecureAggregationOffer?
            do {
                (client, secureAggregation) = try connect()
                unreachableSince = nil
            } catch let error as CollaboratorError {
                throw error
            } catch let error as ErrorReply where Collaborator.isRefusal(error) {
                throw CollaboratorError("aggregator at \(settings.aggregator) refused '\(settings.name)': \(error.message)")
            } catch let error as TLSError where error.isCertificateRefusal {
                throw CollaboratorError("\(error)")
            } catch {
                // Not there yet, restarting, or too busy to answer: try again, for a while.
                let since = unreachableSince ?? .now
                unreachableSince = since
                let waited = since.elapsedSeconds
                if waited > settings.reconnectWindow {
                    throw CollaboratorError("aggregator at \(settings.aggregator) unreachable for \(Int(waited)) s: \(error)")
                }
                return .unreachable(reason: "\(error)")
            }
            defer { client.close() }
            do {
                return .finished(try work(client, secureAggregation: secureAggregation, tasksRun: &tasksRun))
            } catch let error as CollaboratorError {
                throw error
            } catch let error as ErrorReply where Collaborator.isRefusal(error) {
                throw CollaboratorError("aggregator refused '\(settings.name)': \(error.message)")
            } catch {
                logger.warning("lost the aggregator (\(error)); reconnecting")
                unreachableSince = .now
                return .lost(reason: "\(error)", waitFirst: false)
            }
        }
        // Nothing stops this loop but its own attempts.
        guard let outcome else { throw CollaboratorError("stopped before the experiment ended") }
        return outcome
    }

    /// Answers that will not change by asking again: this site is not welcome, or speaks another protocol.
    static func isRefusal(_ error: ErrorReply) -> Bool {
        [.notAllowed, .notFound, .badRequest, .unknownPeer].contains(error.code)
    }

    /// The connection, and what the welcome said about secure aggregation.
    private func connect() throws -> (FrameClient, SecureAggregationOffer?) {
        let client = try FrameClient.connect(to: settings.aggregator, expecting: ExpectedPeer(name: settings.aggregatorName, role: .aggregator),
                                             context: context, limits: settings.limits, timeout: settings.connectTimeout,
                                             idleTimeout: settings.idleTimeout)
        client.startKeepAlive(interval: max(1, settings.idleTimeout / 3))
        let reply = try client.call(CollaboratorHello(collaborator: settings.name, experiment: settings.experiment), timeout: settings.idleTimeout)
        guard let welcome = reply as? AggregatorWelcome else {
            throw CollaboratorError("aggregator answered the hello with \(type(of: reply))")
        }
        if let difference = runner.layout.difference(from: welcome.layout) {
            throw CollaboratorError("the aggregator's model does not match this site's task runner: \(difference)")
        }
        try checkPrivacy(welcome)
        logger.info("joined experiment '\(welcome.experiment)' at round \(welcome.currentRound) of \(welcome.roundsToTrain)")
        if welcome.wantsFeatureStatistics { try sendFeatureStatistics(client) }
        if let offer = welcome.secureAggregation {
            logger.info("updates go masked (secure aggregation, threshold \(offer.threshold), \(offer.bits) bits)")
        }
        return (client, welcome.secureAggregation)
    }

    /// This site's share of the federation's standardizer: the count, sums and sums of squares of its
    /// training features (never a row), or a refusal when it has fewer rows than its minimum.
    private func sendFeatureStatistics(_ client: FrameClient) throws {
        let report: FeatureStatisticsReport
        do {
            if let statistics = try runner.featureStatistics() {
                report = statistics.count < settings.minimumStatisticsRows
                    ? .declining("this site has \(statistics.count) training rows, fewer than the \(settings.minimumStatisticsRows) it sends statistics about")
                    : FeatureStatisticsReport(count: statistics.count, sum: statistics.sum, sumOfSquares: statistics.sumOfSquares)
            } else {
                report = .declining("this site's task runner keeps no feature statistics")
            }
        } catch {
            throw CollaboratorError("cannot compute this site's feature statistics: \(error)")
        }
        do {
            try client.call(report, timeout: settings.idleTimeout)
            logger.info(report.declined.isEmpty ? "sent the feature statistics of \(report.count) training rows" : "declined to send feature statistics: \(report.declined)")
        } catch let error as ErrorReply where error.code == .rejected || error.code == .conflict {
            logger.warning("feature statistics not accepted: \(error.message)")
        }
    }

    private func work(_ client: FrameClient, secureAggregation: SecureAggregationOffer?, tasksRun: inout Int) throws -> CollaboratorOutcome {
        var nextRound = 0
        while true {
            let ask = TaskRequest(round: nextRound, maximumWaitSeconds: settings.longPollSeconds)
            let reply = try client.call(ask, timeout: settings.longPollSeconds + settings.idleTimeout)
            guard let tasks = reply as? TaskReply else { throw CollaboratorError("aggregator answered a task request with \(type(of: reply))") }
            switch tasks.status {
            case .wait:
                continue
            case .done:
                if tasks.reason.isEmpty {
                    logger.info("experiment over after \(tasksRun) tasks")
                    return CollaboratorOutcome(succeeded: true, reason: "experiment completed", tasksRun: tasksRun)
                }
                logger.warning("experiment ended: \(tasks.reason)")
                return CollaboratorOutcome(succeeded: false, reason: tasks.reason, tasksRun: tasksRun)
            case .run:
                do {
                    try runRound(tasks.round, tasks: tasks.tasks, client: client, tasksRun: &tasksRun,
                                 secure: secureAggregation.map { ($0, tasks.attempt, tasks.secureAggregation) })
                } catch let abandoned as SecureAggregationAbandoned {
                    logger.warning("round \(tasks.round): left the round: \(abandoned)")
                }
                nextRound = tasks.round + 1
            }
        }
    }

    private func runRound(_ round: Int, tasks: [String], client: FrameClient, tasksRun: inout Int,
                          secure: (offer: SecureAggregationOffer, attempt: Int, terms: SecureAggregationTerms?)?) throws {
        let fetched: ModelState?
        do {
            fetched = try client.call(ModelRequest(round: round), timeout: settings.idleTimeout) { reply, stream -> ModelState in
                guard let reply = reply as? ModelReply, let stream else { throw CollaboratorError("aggregator sent no model for round \(round)") }
                if let difference = runner.layout.difference(from: reply.layout) { throw CollaboratorError("round \(round) model: \(difference)") }
                // Checked before reading: ModelState traps on a count mismatch, and the stream's size is the peer's claim.
                guard stream.byteCount == reply.layout.byteCount else {
                    throw CollaboratorError("round \(round) model: the aggregator streamed \(stream.byteCount) bytes for a layout of \(reply.layout.byteCount) bytes")
                }
                return ModelState(layout: reply.layout, values: try stream.readFloats())
            }
        } catch let error as ErrorReply where error.code == .conflict {
            // The round closed (a straggler deadline) between the task reply and this request.
            logger.info("round \(round) ended before its model was fetched (\(error.message)); asking for the next")
            fetched = nil
        }
        guard let global = fetched else { return }
        var local: ModelState?
        for name in tasks {
            guard let definition = settings.tasks[name] else {
                throw CollaboratorError("the aggregator asked for task '\(name)', which this site's plan does not define")
            }
            let subject: ModelState
            switch (definition.function, definition.subject) {
            case (.train, _), (.validate, .global):
                subject = global
            case (.validate, .local):
                guard let local else {
                    // Resumed after a crash with the training already reported: there is no local model to measure.
                    logger.warning("round \(round): skipping '\(name)', which needs this round's local model")
                    try send(TaskOutcome(model: nil, metrics: [:], sampleCount: 0), round: round, task: name, client: client)
                    continue
                }
                subject = local
            }
            let started = Deadline.now
            let invocation = TaskInvocation(name: name, function: definition.function, round: round, kwargs: settings.taskArguments[name] ?? [:])
            if definition.function == .train, let secure {
                let context = SecureTask(offer: secure.offer, terms: secure.terms, round: round, attempt: secure.attempt, task: name, client: client)
                local = try trainSecurely(invocation, global: global, context).model
                tasksRun += 1
                continue
            }
            let outcome: TaskOutcome
            do {
                outcome = try runner.run(invocation, model: subject)
            } catch {
                throw CollaboratorError("task '\(name)' of round \(round) failed: \(error)")
            }
            tasksRun += 1
            if definition.function == .train { local = outcome.model }
            let ms = started.elapsedSeconds * 1000
            let shown = outcome.metrics.keys.sorted().map { "\($0)=\(String(format: "%.4f", outcome.metrics[$0]!))" }.joined(separator: " ")
            logger.info("round \(round) \(name): \(shown) (\(outcome.sampleCount) samples, \(Int(ms)) ms)")
            try send(outcome, round: round, task: name, client: client)
        }
    }

    private func send(_ outcome: TaskOutcome, round: Int, task: String, client: FrameClient) throws {
        let message = TaskResultMessage(round: round, task: task, sampleCount: outcome.sampleCount, metrics: outcome.metrics, layout: outcome.model?.layout)
        do {
            if let model = outcome.model {
                try client.call(message, stream: FloatBufferSource(model), timeout: settings.idleTimeout)
            } else {
                try client.call(message, timeout: settings.idleTimeout)
            }
        } catch let error as ErrorReply where error.code == .rejected || error.code == .conflict {
            // The aggregator keeps going without this result; so does this site.
            logger.warning("round \(round) \(task): result not accepted: \(error.message)")
        }
    }
}
