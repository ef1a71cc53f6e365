import FLCore
import FLTraining
import FLWire

/// What a task does, as far as the aggregator is concerned.
public struct TaskDefinition: Sendable, Hashable {
    /// Which model a validation measures.
    public enum Subject: String, Sendable, Hashable {
        /// The aggregated model the round started from.
        case global
        /// The model the collaborator just trained in this round.
        case local
    }

    public var name: String
    /// Training returns a model; validation returns metrics only.
    public var function: TaskFunction
    /// For validations: which model is measured.
    public var subject: Subject

    public init(name: String, function: TaskFunction, subject: Subject = .global) {
        self.name = name
        self.function = function
        self.subject = subject
    }
}

/// A group of collaborators that run the same tasks in a round (OpenFL's task groups).
public struct TaskGroup: Sendable, Hashable {
    public var name: String
    /// Share of the collaborators in this group each round; the shares of all groups add up to 1.
    public var percentage: Double
    /// Tasks run in this order.
    public var tasks: [String]

    public init(name: String, percentage: Double = 1, tasks: [String]) {
        self.name = name
        self.percentage = percentage
        self.tasks = tasks
    }
}
