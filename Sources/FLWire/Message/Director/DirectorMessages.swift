// The long-lived federation's protocol. Two kinds of peers talk to a Director, each over its own
// mutual-TLS connection, identified by the common name of its certificate:
//
// Envoys (one per data site) dial out, register their shard, then keep two things going on the one
// connection: a heartbeat every period, and a long-poll for work (`WorkRequest`) that the Director
// answers the moment it has something for the site: an experiment to consider (`offer`), to run
// (`run`, with the aggregator's address), or to stop. The archive itself is fetched with
// `ArchiveRequest` and streamed back in chunks.
//
// Data scientists and operators submit experiments (the archive streamed after `SubmitExperiment`),
// list and watch them (a status request may be held until the experiment changes), download models
// and list envoys.

extension MessageRegistry {
    static let directorMessages: [any WireMessage.Type] = [
        EnvoyRegistration.self, EnvoyWelcome.self, EnvoyHeartbeat.self, WorkRequest.self, WorkAssignment.self,
        ArchiveRequest.self, ArchiveReply.self, SiteReport.self,
        SubmitExperiment.self, ExperimentListRequest.self, ExperimentListReply.self, ExperimentStatusRequest.self,
        ExperimentStatusReply.self, ExperimentModelRequest.self, ExperimentModelReply.self, CancelExperiment.self,
        EnvoyListRequest.self, EnvoyListReply.self,
    ]
}
