import FLCore

/// What a peer controls, as fuzzing targets: the bytes after the TLS handshake and one control message
/// (archives: `ArchiveFuzzTarget`). Each function takes any bytes and must return (or report a `FuzzFinding`) without
/// trapping, hanging or allocating far beyond its input; decoding errors are the expected outcome
/// for most inputs and are not findings.
///
/// The fuzzer (`fx-fuzz frame|message`) and the corpus replay tests call these functions.
public enum WireFuzzTargets {
    /// Limits small enough that a fuzzer's inputs reach every size check (the defaults allow 16 MiB
    /// messages and 1 MiB chunks, which short inputs could only ever be truncated against).
    public static let frameLimits = FrameLimits(maximumMessageSize: 4096, chunkSize: 256, maximumStreamSize: 1 << 16)

    /// Feeds `bytes` to a `FrameChannel` as a connection's incoming side and reads it the way
    /// `FrameServer` does: control messages one after another, a `Ping` answered, and each announced
    /// stream read as float32 data (when no longer than the input) or skipped, chunk by chunk.
    ///
    /// - Throws: `FuzzFinding` when a stream reports success without having delivered every byte it announced.
    public static func frames(_ bytes: [UInt8]) throws(FuzzFinding) {
        let connection = ReplayByteStream(bytes)
        let channel = FrameChannel(stream: connection, limits: frameLimits)
        while true {
            let incoming: IncomingFrame
            do {
                guard let next = try channel.readMessage(deadline: .never) else { return }
                incoming = next
            } catch {
                return
            }
            if incoming.message is Ping {
                try? channel.send(OkReply(), id: incoming.header.id, flags: .reply, deadline: .never)
                continue
            }
            guard incoming.header.flags.contains(.stream) else { continue }
            let stream = InboundStream(channel: channel, id: incoming.header.id, byteCount: incoming.streamLength, idleTimeout: 1)
            if incoming.streamLength <= bytes.count, let floats = try? stream.readFloats() {
                guard floats.count * 4 == incoming.streamLength, stream.isFinished else {
                    throw FuzzFinding(target: "frame", "readFloats returned \(floats.count) floats for a stream of \(incoming.streamLength) bytes")
                }
            }
            if !stream.isFinished {
                do { try stream.skipRest() } catch { return }
                guard stream.isFinished, stream.remaining == 0 else {
                    throw FuzzFinding(target: "frame", "skipRest returned with \(stream.remaining) bytes of the stream left")
                }
            }
        }
    }

    /// Decodes `bytes[1...]` as the payload of the message type `MessageRegistry` lists at position
    /// `bytes[0] % count` (an index rather than the frame type, so every type is one byte away).
    /// A message that decodes is encoded again, and that encoding must decode to the same length again:
    /// whatever this end accepts, it must also be able to send.
    ///
    /// - Throws: `FuzzFinding` when a decoded message does not survive being encoded and decoded again.
    public static func message(_ bytes: [UInt8]) throws(FuzzFinding) {
        guard let selector = bytes.first else { return }
        let type = MessageRegistry.all[Int(selector) % MessageRegistry.all.count].type
        guard let message = try? MessageRegistry.decode(type: type.rawValue, payload: Array(bytes.dropFirst())) else { return }
        let encoded = message.encoded()
        let again: any WireMessage
        do {
            again = try MessageRegistry.decode(type: type.rawValue, payload: encoded)
        } catch {
            throw FuzzFinding(target: "message", "\(type) decoded, but its own encoding does not: \(error)")
        }
        let reencoded = again.encoded()
        guard reencoded.count == encoded.count else {
            throw FuzzFinding(target: "message", "\(type) encodes to \(encoded.count) bytes, then to \(reencoded.count) after a round trip")
        }
    }
}

/// The incoming side of a connection replayed from memory: reads hand out the bytes in a fixed
/// pattern of sizes (to take the partial-read paths too) and then report a clean end; writes are
/// dropped. Used by one fuzz call on one thread only, hence unchecked.
private final class ReplayByteStream: ByteStream, @unchecked Sendable {
    private let bytes: [UInt8]
    private var position = 0
    private var reads = 0
    private static let readSizes = [4096, 5, 4096, 1]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws -> Int {
        let n = min(buffer.count, ReplayByteStream.readSizes[reads % ReplayByteStream.readSizes.count], bytes.count - position)
        reads += 1
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { raw in
            buffer.baseAddress!.copyMemory(from: raw.baseAddress! + position, byteCount: n)
        }
        position += n
        return n
    }

    func write(_ buffer: UnsafeRawBufferPointer, deadline: Deadline) throws {}

    func close() {}
}
