import Foundation
import FLCore
import FLWire

// The collaborators' requests, each on its connection's thread.
extension Aggregator {
    public func connected(_ peer: PeerConnection) throws {
        guard settings.collaborators.contains(peer.name) else {
            throw ErrorReply(.notAllowed, "'\(peer.name)' is not a collaborator of experiment '\(settings.experiment)'")
        }
        if let reason = mutate({ $0.connect(peer.name) }) {
            logger.info("\(peer.name), which had departed (\(reason)), connected again: it takes part from the next round", ["peer": peer.name])
        }
    }

    public func disconnected(_ peer: PeerConnection) {
        mutate { $0.disconnect(peer.name) { $0.peer === peer } }
        peersChanged.signal()
    }

    public func handle(_ request: Request) {
        let peer = request.peer
        switch request.message {
        case let hello as CollaboratorHello:
            handleHello(hello, request)
        case let ask as TaskRequest:
            let wait = min(ask.maximumWaitSeconds, settings.longPollSeconds)
            mutate { $0.requestTasks(from: peer.name, waiter: request.responder, wait: wait) }
        case let ask as ModelRequest:
            handleModelRequest(ask, request)
        case let result as TaskResultMessage:
            handleResult(result, request)
        case let report as FeatureStatisticsReport:
            handleFeatureStatistics(report, request)
        default:
            if handleSecureAggregation(request) { return }
            logger.warning("refused \(type(of: request.message)) from \(peer): not a collaborator request", ["peer": peer.name])
            request.responder.fail(.badRequest, "\(type(of: request.message)) is not something an aggregator answers")
        }
    }

    private func handleHello(_ hello: CollaboratorHello, _ request: Request) {
        let peer = request.peer
        guard hello.collaborator == peer.name else {
            logger.warning("refused \(peer): says it is '\(hello.collaborator)' but its certificate names '\(peer.name)'", ["peer": peer.name])
            request.responder.fail(.notAllowed, "you are '\(peer.name)' by your certificate, not '\(hello.collaborator)'")
            peer.close()
            return
        }
        guard hello.experiment == settings.experiment else {
            request.responder.fail(.notFound, "this aggregator runs experiment '\(settings.experiment)', not '\(hello.experiment)'")
            return
        }
        guard hello.version == CollaboratorHello.protocolVersion else {
            request.responder.fail(.badRequest, "protocol version \(hello.version) is not supported (this aggregator speaks \(CollaboratorHello.protocolVersion))")
            return
        }
        let (round, wantsStatistics) = machine.withLock { ($0.round, $0.phase == .statistics) }
        request.responder.reply(AggregatorWelcome(experiment: settings.experiment, roundsToTrain: settings.roundsToTrain, currentRound: round,
                                                  layout: layout, wantsFeatureStatistics: wantsStatistics,
                                                  secureAggregation: secureAggregationOffer,
                                                  distributedPrivacy: DistributedPrivacyOffer(privacy: settings.differentialPrivacy,
                                                                                              secureAggregation: settings.secureAggregation?.parameters)))
    }

    private func handleModelRequest(_ ask: ModelRequest, _ request: Request) {
        let (snapshot, current) = machine.withLock { ($0.model(forRound: ask.round), $0.round) }
        guard let snapshot else {
            return request.responder.fail(.conflict, "round \(ask.round) is not the current round (\(current))")
        }
        // The snapshot shares the global model's storage; closing the round copies on write instead of
        // changing the bytes being sent.
        request.responder.reply(ModelReply(round: ask.round, layout: layout), stream: FloatBufferSource(snapshot))
    }

    private func handleResult(_ result: TaskResultMessage, _ request: Request) {
        let name = request.peer.name
        switch machine.withLock({ $0.judge(result, from: name, streamBytes: request.stream?.byteCount) }) {
        case let .refuse(code, reason):
            reject(name, result, reason: reason)
            request.responder.fail(code, reason)
        case let .exclude(reason):
            reject(name, result, reason: reason)
            mutate { $0.markReported(name, task: result.task, round: result.round) }
            request.responder.fail(.rejected, reason)
        case let .accept(definition, weight):
            if weight < result.sampleCount {
                logger.warning("capped the weight of \(name)'s \(result.task) result of round \(result.round): it claims \(result.sampleCount) samples, "
                               + "its site registered \(weight)", ["peer": name, "task": result.task])
            }
            if definition.function == .train {
                guard receiveUpdate(result, request, weight: weight) else { return }
            } else {
                mutate { $0.record(result, from: name, weight: weight) }
            }
            request.responder.reply(OkReply())
        }
    }

    /// Reads an accepted training result's model into a staging buffer and folds it in; false when
    /// it was refused (the collaborator has been answered) or lost (the connection is closed).
    private func receiveUpdate(_ result: TaskResultMessage, _ request: Request, weight: Int) -> Bool {
        let name = request.peer.name
        do {
            try staging.withBuffer(timeout: settings.server.idleTimeout) { buffer in
                try buffer.withUnsafeMutableBytes { try request.stream!.read(into: $0) }
                // Checked here, outside the lock, to say precisely what is wrong; folding in checks
                // the weighted sum as well (an overflow of finite values).
                if let index = buffer.withUnsafeBufferPointer({ FloatKernels.firstNonFinite($0) }) {
                    let (tensor, element) = layout.position(of: index)
                    throw ErrorReply(.rejected, "model tensor '\(tensor)' holds \(buffer[index]) at element \(element) (NaN or infinity)")
                }
                let refusal: ErrorReply? = mutate { m in
                    do throws(ErrorReply) {
                        try m.fold(&buffer, result, from: name, weight: weight)
                        return nil
                    } catch {
                        return error
                    }
                }
                if let refusal { throw refusal }
            }
            return true
        } catch let error as ErrorReply {
            reject(name, result, reason: error.message)
            if error.code == .rejected {
                mutate { $0.markReported(name, task: result.task, round: result.round) }
            }
            request.responder.fail(error.code, error.message)
            return false
        } catch {
            logger.warning("lost the update of \(name) for round \(result.round): \(error)", ["peer": name])
            request.peer.close()
            return false
        }
    }

    private func reject(_ name: String, _ result: TaskResultMessage, reason: String) {
        logger.warning("rejected \(result.task) result of round \(result.round) from \(name): \(reason)", ["peer": name, "task": result.task])
        onEvent(.updateRejected(collaborator: name, reason: "\(result.task), round \(result.round): \(reason)"))
    }

    private func handleFeatureStatistics(_ report: FeatureStatisticsReport, _ request: Request) {
        let name = request.peer.name
        if let refusal = mutate({ $0.receiveStatistics(report, from: name) }) {
            logger.warning("refused the feature statistics of \(name): \(refusal)", ["peer": name])
            onEvent(.updateRejected(collaborator: name, reason: "feature statistics: \(refusal)"))
            request.responder.fail(.rejected, refusal)
        } else {
            request.responder.reply(OkReply())
        }
    }
}
