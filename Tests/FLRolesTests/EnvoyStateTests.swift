import Foundation
import Testing
import FLCore
import FLRoles
import FLTesting

/// What a site carries between rounds under a Director: SCAFFOLD's control variate lives in the
/// Envoy's work folder beside, not inside, the experiment's folder, which an Envoy that restarts
/// deletes and unpacks afresh.
@Suite struct EnvoyStateTests {
    @Test func aSitesControlVariateIsKeptOutsideTheExperimentsFolder() throws {
        let federation = try LiveFederation(envoys: ["hospital_a", "hospital_b"])
        let path = try federation.workspace("scaffold", rounds: 4) {
            $0.replacingOccurrences(of: "    higher_is_better: true\n", with: "    higher_is_better: true\n    aggregation: scaffold\n")
        }
        _ = try federation.client("alice").submit(workspace: Workspace(root: path), name: "scaffold")
        let (status, reason) = try federation.finish("scaffold")
        #expect(status == "succeeded", "\(reason)")
        for site in ["hospital_a", "hospital_b"] {
            let work = "\(federation.fixture.envoyDirectory(site))/work"
            let state = "\(work)/.state/scaffold/scaffold-\(site).safetensors"
            let (kept, metadata) = try Safetensors.read(state)
            #expect(metadata["swiftfl.scaffold.round"] == "3", "\(site): \(metadata)")
            #expect(kept.values.contains { $0 != 0 })
            // Nothing of it inside the experiment's folder, the one a restarted Envoy replaces.
            let inside = FileManager.default.enumerator(atPath: "\(work)/scaffold")?.allObjects as? [String] ?? []
            #expect(!inside.contains { $0.contains("scaffold-\(site)") }, "\(inside)")
        }
    }
}
