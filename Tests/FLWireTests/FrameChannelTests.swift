import Testing
import FLCore
@testable import FLWire

@Suite struct FrameChannelTests {
    let limits = FrameLimits(maximumMessageSize: 1024, chunkSize: 7, maximumStreamSize: 1 << 20)

    /// What a channel writes, read back by another channel whose stream hands out `readSize` bytes per read.
    private func loop(readSize: Int = .max, _ send: (FrameChannel) throws -> Void) throws -> FrameChannel {
        let out = MemoryByteStream()
        try send(FrameChannel(stream: out, limits: limits))
        return FrameChannel(stream: MemoryByteStream(incoming: out.written, readSize: readSize), limits: limits)
    }

    private func channel(reading bytes: [UInt8]) -> FrameChannel {
        FrameChannel(stream: MemoryByteStream(incoming: bytes), limits: limits)
    }

    private func stream(after frame: IncomingFrame, on channel: FrameChannel) -> InboundStream {
        InboundStream(channel: channel, id: frame.header.id, byteCount: frame.streamLength, idleTimeout: 1)
    }

    @Test(arguments: [1, 3, 16, .max])
    func messageRoundTrip(readSize: Int) throws {
        let message = TaskReply(status: .run, round: 4, tasks: ["train", "validate"], reason: "")
        let reader = try loop(readSize: readSize) { try $0.send(message, id: 42, flags: .reply, deadline: .never) }
        let frame = try #require(try reader.readMessage(deadline: .never))
        #expect(frame.header.id == 42)
        #expect(frame.header.flags == .reply)
        #expect(frame.streamLength == 0)
        let reply = try #require(frame.message as? TaskReply)
        #expect(reply.tasks == ["train", "validate"])
        #expect(reply.round == 4)
        #expect(try reader.readMessage(deadline: .never) == nil, "clean end of stream between frames")
    }

    @Test(arguments: [1, 5, .max])
    func streamRoundTripInChunks(readSize: Int) throws {
        let values: [Float] = (0..<11).map { Float($0) * 1.5 }
        let layout = try ModelLayout([TensorSpec(name: "w", shape: [11])])
        let reader = try loop(readSize: readSize) {
            try $0.send(ModelReply(round: 2, layout: layout), id: 9, flags: .reply, stream: FloatBufferSource(values), deadline: .never)
            try $0.send(Ping(), id: 10, deadline: .never)
        }
        let frame = try #require(try reader.readMessage(deadline: .never))
        #expect(frame.header.flags == [.reply, .stream])
        #expect(frame.streamLength == 44)
        let inbound = stream(after: frame, on: reader)
        #expect(try inbound.readFloats() == values)
        #expect(inbound.isFinished)
        // The next frame follows the 7 chunks (44 bytes in chunks of 7) directly.
        let next = try #require(try reader.readMessage(deadline: .never))
        #expect(next.message is Ping)
        #expect(next.header.id == 10)
    }

    @Test func chunksAreFramedAtTheChunkSize() throws {
        let out = MemoryByteStream()
        try FrameChannel(stream: out, limits: limits).send(OkReply(), id: 3, stream: FloatBufferSource([1, 2, 3, 4]), deadline: .never)
        let bytes = out.written
        // message header + u64 stream length, then chunks of 7, 7 and 2 bytes, each with its header.
        #expect(bytes.count == 16 + 8 + (16 + 7) + (16 + 7) + (16 + 2))
        let firstChunk = try bytes[24..<40].withUnsafeBytes { try FrameHeader.decode($0) }
        #expect(firstChunk == FrameHeader(length: 7, type: MessageType.chunk.rawValue, id: 3))
    }

    @Test func oversizedMessageIsRefusedBeforeItsPayloadIsRead() throws {
        // No payload follows the header: reading it would end in `truncated`, so `tooLarge`
        // shows the claim was judged before any read or allocation.
        let channel = channel(reading: FrameHeader(length: 100 << 30, type: Ping.type.rawValue, id: 1).bytes)
        let error = #expect(throws: FrameError.self) { try channel.readMessage(deadline: .never) }
        #expect(error == .tooLarge(length: 100 << 30, limit: 1024))
    }

    @Test func oversizedStreamIsRefused() throws {
        let frame = FrameChannel.encodeFrame(OkReply(), id: 1, flags: .stream, streamLength: 2 << 20)
        let error = #expect(throws: WireDecodingError.self) { try channel(reading: frame).readMessage(deadline: .never) }
        #expect(error?.field == "streamLength")
    }

    @Test func truncatedHeaderAndPayload() throws {
        let header = FrameHeader(length: 10, type: ModelRequest.type.rawValue, id: 1).bytes
        let short = #expect(throws: FrameError.self) { try channel(reading: Array(header.prefix(5))).readMessage(deadline: .never) }
        #expect(short == .truncated(expected: 16, got: 5))
        let cut = #expect(throws: FrameError.self) { try channel(reading: header + [1, 2, 3]).readMessage(deadline: .never) }
        #expect(cut == .truncated(expected: 10, got: 3))
    }

    @Test func chunkOutsideAStreamIsRefused() throws {
        let bytes = FrameHeader(length: 1, type: MessageType.chunk.rawValue, id: 5).bytes + [0]
        let error = #expect(throws: FrameError.self) { try channel(reading: bytes).readMessage(deadline: .never) }
        #expect(error == .unexpectedChunk("chunk with id 5 outside any stream"))
    }

    @Test func unknownMessageTypeIsRefused() throws {
        let error = #expect(throws: FrameError.self) { try channel(reading: FrameHeader(length: 0, type: 0x7777, id: 1).bytes).readMessage(deadline: .never) }
        #expect(error == .unknownType(0x7777))
    }

    enum BadChunk: CaseIterable, Sendable { case wrongID, notAChunk, overrunsStream, empty, tooLarge, endsEarly }

    @Test(arguments: BadChunk.allCases)
    func inboundStreamChecksEveryChunkHeader(_ kind: BadChunk) throws {
        let start = FrameChannel.encodeFrame(OkReply(), id: 1, flags: .stream, streamLength: 6)
        let chunk = MessageType.chunk.rawValue
        let (rest, expected): ([UInt8], FrameError) = switch kind {
        case .wrongID: (FrameHeader(length: 6, type: chunk, id: 2).bytes + [UInt8](repeating: 0, count: 6), .unexpectedChunk("chunk for id 2 inside stream 1"))
        case .notAChunk: (FrameHeader(length: 0, type: Ping.type.rawValue, id: 1).bytes, .unexpectedChunk("expected a chunk of stream 1, got frame type 18"))
        case .overrunsStream: (FrameHeader(length: 7, type: chunk, id: 1).bytes + [UInt8](repeating: 0, count: 7),
                               .unexpectedChunk("chunk of 7 bytes overruns the stream (6 left)"))
        case .empty: (FrameHeader(length: 0, type: chunk, id: 1).bytes, .unexpectedChunk("empty chunk in stream 1"))
        case .tooLarge: (FrameHeader(length: 100 << 30, type: chunk, id: 1).bytes, .tooLarge(length: 100 << 30, limit: 7))
        case .endsEarly: (FrameHeader(length: 6, type: chunk, id: 1).bytes + [1, 2], .truncated(expected: 6, got: 2))
        }
        let reader = channel(reading: start + rest)
        let frame = try #require(try reader.readMessage(deadline: .never))
        let inbound = stream(after: frame, on: reader)
        var buffer = [UInt8](repeating: 0, count: 6)
        let error = #expect(throws: FrameError.self) { try buffer.withUnsafeMutableBytes { try inbound.read(into: $0) } }
        #expect(error == expected)
        // The connection's place in the stream is lost: later reads fail the same way at once,
        // instead of taking whatever bytes come next for a chunk header.
        let again = #expect(throws: FrameError.self) { try inbound.skipRest() }
        #expect(again == expected)
        #expect(!inbound.isFinished)
    }

    @Test func readerCannotAskForMoreThanTheStreamHolds() throws {
        let reader = try loop { try $0.send(OkReply(), id: 1, stream: FloatBufferSource([1]), deadline: .never) }
        let inbound = stream(after: try #require(try reader.readMessage(deadline: .never)), on: reader)
        var buffer = [UInt8](repeating: 0, count: 8)
        #expect(throws: FrameError.self) { try buffer.withUnsafeMutableBytes { try inbound.read(into: $0) } }
        // That was the caller's mistake, not the connection's: the stream is still readable.
        #expect(try inbound.readFloats() == [1])
    }
}
