#if canImport(Glibc)
import Glibc
#endif
import FLCore

/// A model file the Director is about to serve or keep. The paths come from a submitted plan, so
/// the file is reached inside the experiment's folder without following a link at any step, and
/// only handed on once it reads back as safetensors of F32 tensors (of the experiment's model,
/// when known): whatever the plan says, nothing else on the Director's disk leaves through it.
enum VerifiedModel {
    /// Opens `relative` inside `root` and checks it; returns the descriptor (at offset 0), which
    /// the caller owns.
    static func open(_ relative: String, inside root: String, layout: ModelLayout?) throws -> Int32 {
        let fd = try ContainedPath.openForReading(relative, inside: root)
        let path = "\(root)/\(relative)"
        do {
            let header = try SafetensorsHeader.read(descriptor: fd, path: path)
            if let other = header.entries.first(where: { $0.spec.dtype != .float32 }) {
                throw SafetensorsError(path: path, reason: "tensor '\(other.spec.name)' is \(other.spec.dtype.rawValue); models are F32")
            }
            let found = try ModelLayout(header.entries.map(\.spec))
            if let layout, let difference = layout.difference(from: found) {
                throw SafetensorsError(path: path, reason: "not the experiment's model: \(difference)")
            }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }
}
