import Foundation
import FLCore
import FLWire

/// The Director's state and store without its server or runner: the path a change of an experiment
/// takes to disk inside a Director (`DirectorState` marks the experiment changed,
/// `saveChangedExperiments` hands its record to the store, the store journals it on its queue), for
/// `fx-bench --only journal`. Not for use beside a running Director on the same state directory.
package struct DirectorStateHarness {
    package let store: DirectorStore
    private var state: DirectorState

    /// Reads the state directory as a starting Director does.
    package init(stateDirectory: String, logger: Logger) throws {
        store = try DirectorStore(root: stateDirectory, logger: logger)
        state = DirectorState(settings: DirectorSettings(sampleShape: [1], targetShape: [1], stateDirectory: stateDirectory,
                                                         certificateDirectory: stateDirectory, aggregatorAddress: "127.0.0.1"))
        state.restore(envoys: try store.loadEnvoys(), experiments: try store.loadExperiments())
        _ = state.saveChangedExperiments(to: store)
    }

    /// How many experiments the state holds.
    package var count: Int { state.experiments.count }

    /// Adds submitted experiments, in one change (as one call of `Director.mutate` would).
    package mutating func submit(_ experiments: [ExperimentInfo]) {
        for x in experiments { state.append(x) }
        _ = state.saveChangedExperiments(to: store)
    }

    /// Changes one experiment as the Director's runner does (a round closed, a site's state).
    package mutating func update(_ name: String, _ body: (inout ExperimentInfo) -> Void) {
        state.update(name, body)
        _ = state.saveChangedExperiments(to: store)
    }

    /// How many changes of `changeBytes` each a journal started after a snapshot of `snapshotBytes`
    /// takes before it is compacted, for `experiments` experiments (the store's rule).
    package static func changesBetweenCompactions(experiments: Int, snapshotBytes: Int, changeBytes: Int) -> Int {
        let byLines = ExperimentJournal.linesPerExperiment * experiments + ExperimentJournal.minimumLines
        let byBytes = (ExperimentJournal.bytesPerSnapshotByte * snapshotBytes + ExperimentJournal.minimumBytes) / max(1, changeBytes)
        return max(1, min(byLines, byBytes))
    }
}
