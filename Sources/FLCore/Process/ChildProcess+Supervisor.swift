#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CShims

/// Children that must not outlive the process that started them: the aggregators a Director
/// starts and the collaborators an Envoy starts. Each child is in a process group of its own (so
/// signals to the parent's group do not reach it), so without this a killed Director would leave its
/// aggregator running on a port nobody knows, and a killed Envoy its collaborator training on.
extension ChildProcess {
    /// Names the supervising process's pid in a child's environment.
    public static let supervisorEnvironmentKey = "SWIFTFL_SUPERVISOR_PID"

    /// This process's environment plus the variable that ties a child to this process
    /// (see `endWithSupervisor`). The kernel signals the child when the *thread* that spawned it
    /// ends, so spawn such children from a thread that lives as long as they should.
    public static func environmentEndingWithThisProcess(_ base: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        var environment = base
        environment[supervisorEnvironmentKey] = "\(getpid())"
        return environment
    }

    /// Called first thing by a role executable: when the environment names a supervisor, asks the
    /// kernel for SIGTERM when it goes, and exits at once if it is already gone.
    public static func endWithSupervisor(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let text = environment[supervisorEnvironmentKey], let supervisor = pid_t(text) else { return }
        _ = fl_set_parent_death_signal(SIGTERM)
        // The supervisor may have died between spawning this process and the call above.
        if getppid() != supervisor { exit(1) }
    }
}
