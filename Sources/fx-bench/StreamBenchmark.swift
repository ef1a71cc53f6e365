import Foundation
import FLCore
import FLWire

/// Receives one stream and reports how fast it arrived and how much memory this process peaked at.
final class StreamSink: FrameHandler, @unchecked Sendable {
    func handle(_ request: Request) {
        guard let stream = request.stream else { return request.responder.fail(.badRequest, "expected a stream") }
        let start = Deadline.now
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var checksum: UInt64 = 0
        do {
            while stream.remaining > 0 {
                let n = min(stream.remaining, buffer.count)
                try buffer.withUnsafeMutableBytes { raw in
                    try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<n]))
                    checksum ^= xorFold(UnsafeRawBufferPointer(rebasing: raw[0..<n]))
                }
            }
        } catch {
            return request.responder.fail(.badRequest, "\(error)")
        }
        let seconds = Double(Deadline.now.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        request.responder.reply(TaskReply(status: .run, round: 0, tasks: ["\(seconds)", "\(ResourceUsage.peakResidentBytes())", "\(checksum)"]))
    }
}

/// XOR of all 8-byte words; cheap enough (tens of GB/s) not to distort a network measurement.
func xorFold(_ raw: UnsafeRawBufferPointer) -> UInt64 {
    var acc: UInt64 = 0
    let words = raw.count / 8
    for i in 0..<words { acc ^= raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }
    return acc
}
