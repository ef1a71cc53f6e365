import FLCore
import FLTraining
import FLWire

extension RoundMachine {
    /// What becomes of a task's result.
    enum Verdict {
        /// Accepted, with the weight it carries: the claimed sample count, capped by the site's registration.
        case accept(TaskDefinition, weight: Int)
        /// Refused, but it was the collaborator's task: the task counts as reported, its content is left out.
        case exclude(String)
        /// Refused outright: not this collaborator's task now.
        case refuse(ErrorReply.Code, String)
    }

    /// Judges `result` from `name` before its model (`streamBytes` long, if any) is read.
    func judge(_ result: TaskResultMessage, from name: String, streamBytes: Int?) -> Verdict {
        guard phase != .done else { return .refuse(.conflict, "the experiment is over") }
        guard result.round == round, phase != .loadingBestModel else {
            return .refuse(.conflict, "result for round \(result.round) but the current round is \(round)"
                           + (phase == .loadingBestModel ? " (closed)" : ""))
        }
        guard let pending = pending[name], pending.contains(result.task) else {
            let assigned = assignments[name] ?? []
            return .refuse(.rejected, assigned.contains(result.task)
                ? "task '\(result.task)' of round \(result.round) was already reported"
                : "task '\(result.task)' is not assigned to '\(name)' in round \(result.round)")
        }
        let definition = settings.tasks[result.task] ?? TaskDefinition(name: result.task, function: .validate)
        if definition.function == .train, settings.secureAggregation != nil {
            return .refuse(.rejected, "secure aggregation is on: a training result goes through its stages (SecAggKeys…), not in the clear")
        }
        guard result.sampleCount > 0 else { return .exclude("sample count is \(result.sampleCount); it must be positive") }
        guard result.sampleCount <= settings.maximumSampleCount else {
            return .exclude("sample count \(result.sampleCount) exceeds the plausible maximum \(settings.maximumSampleCount)")
        }
        if let (metric, value) = result.metrics.first(where: { !$0.value.isFinite }) {
            return .exclude("metric '\(metric)' is \(value)")
        }
        if definition.function == .train {
            guard let received = result.layout else { return .exclude("a training result must carry a model") }
            if let difference = layout.difference(from: received) { return .exclude("model does not match the experiment's: \(difference)") }
            guard let streamBytes, streamBytes == layout.byteCount else {
                return .exclude("model stream has \(streamBytes ?? 0) bytes, expected \(layout.byteCount)")
            }
        }
        return .accept(definition, weight: min(result.sampleCount, settings.sampleCaps[name] ?? .max))
    }

    /// Folds an accepted training result's model (`update`, already checked finite) into the round's
    /// aggregate and records its metrics. Throws the reply the collaborator gets when it cannot count.
    mutating func fold(_ update: inout [Float], _ result: TaskResultMessage, from name: String, weight: Int) throws(ErrorReply) {
        guard phase.collectsResults, round == result.round, pending[name]?.contains(result.task) == true else {
            throw ErrorReply(.conflict, "round \(result.round) closed while the update was arriving")
        }
        switch aggregation.add(&update, weight: foldWeight(weight)) {
        case .added: updatesFolded += 1
        case let .refused(index):
            let (tensor, element) = layout.position(of: index)
            throw ErrorReply(.rejected, "weighted by its \(weight) samples, model tensor '\(tensor)' overflows the running sum "
                             + "at element \(element) (beyond float32's range); the update is left out")
        case let .notKept(reason):
            log(.error, "could not keep the update of \(name) for round \(result.round): \(reason)", ["peer": name])
            throw ErrorReply(.rejected, "the aggregator could not keep the update (\(reason)); it is left out")
        }
        record(result, from: name, weight: weight)
    }

    /// Adds an accepted result's metrics, weighted by `weight` (its capped sample count), and marks the task reported.
    mutating func record(_ result: TaskResultMessage, from name: String, weight: Int) {
        // A result judged just before its round closed counts toward neither that round nor the next.
        guard phase.collectsResults, round == result.round, pending[name]?.contains(result.task) == true else { return }
        var records: [MetricRecord] = []
        for key in result.metrics.keys.sorted() {
            let value = result.metrics[key]!
            records.append(MetricRecord(round: round, origin: name, task: result.task, metric: key, value: value))
            let id = "\(result.task)/\(key)"
            siteMetrics[name, default: [:]][id] = value
            let old = metricSums[id] ?? (0, 0)
            metricSums[id] = (old.sum + value * Double(weight), old.weight + Double(weight))
        }
        emit(.metrics(records))
        markReported(name, task: result.task, round: result.round)
    }

    /// A task `name` was given in `round` is reported (its result counted or left out).
    mutating func markReported(_ name: String, task: String, round: Int) {
        // A result still arriving when the experiment ended (failed) must not close a round again.
        guard phase.collectsResults, round == self.round, var tasks = pending[name], let i = tasks.firstIndex(of: task) else { return }
        tasks.remove(at: i)
        pending[name] = tasks
        guard tasks.isEmpty else { return }
        completed.insert(name)
        if completed.count == assignments.count { closeRound() } else { closeIfOnlyAbsentRemain() }
    }
}

extension ModelLayout {
    /// The tensor holding the value at `index` of the model's flat values, and its index within that tensor.
    func position(of index: Int) -> (tensor: String, element: Int) {
        let i = offsets.lastIndex { $0 <= index } ?? 0
        return (tensors[i].name, index - offsets[i])
    }
}
