import Testing
import FLCore
@testable import FLWire

@Suite struct FrameAssemblerTests {
    static let layout = try! ModelLayout([TensorSpec(name: "w", shape: [2])])

    /// Four frames back to back, with the bytes each should come out as.
    static func frames() -> [[UInt8]] {
        [
            FrameChannel.encodeFrame(Ping(), id: 1, flags: [], streamLength: nil),
            FrameChannel.encodeFrame(TaskRequest(round: 7, maximumWaitSeconds: 3), id: 2, flags: [], streamLength: nil),
            FrameChannel.encodeFrame(ErrorReply(.badRequest, "no such thing"), id: 3, flags: .reply, streamLength: nil),
            FrameChannel.encodeFrame(ModelRequest(round: 4), id: 4, flags: [], streamLength: nil),
        ]
    }

    /// Each frame's bytes as encoded again from what the assembler decoded.
    static func reencoded(_ frame: IncomingFrame) -> [UInt8] {
        FrameChannel.encodeFrame(frame.message, id: frame.header.id, flags: frame.header.flags, streamLength: nil)
    }

    @Test func framesSplitAtEveryByteBoundaryComeOutWhole() throws {
        let expected = FrameAssemblerTests.frames()
        let bytes = expected.flatMap { $0 }
        for split in 0...bytes.count {
            var assembler = FrameAssembler(limits: FrameLimits())
            var got: [[UInt8]] = []
            assembler.append(Array(bytes[..<split]))
            while let frame = try assembler.next() { got.append(FrameAssemblerTests.reencoded(frame)) }
            assembler.append(Array(bytes[split...]))
            while let frame = try assembler.next() { got.append(FrameAssemblerTests.reencoded(frame)) }
            #expect(got == expected, "split at byte \(split)")
            #expect(!assembler.holdsPartialFrame && assembler.bufferedByteCount == 0)
        }
    }

    @Test func framesFedAByteAtATimeComeOutWhole() throws {
        let expected = FrameAssemblerTests.frames()
        var assembler = FrameAssembler(limits: FrameLimits())
        var got: [[UInt8]] = []
        for byte in expected.flatMap({ $0 }) {
            assembler.append([byte])
            while let frame = try assembler.next() { got.append(FrameAssemblerTests.reencoded(frame)) }
        }
        #expect(got == expected)
    }

    @Test func anOverLimitLengthIsRefusedFromTheHeaderAlone() throws {
        var assembler = FrameAssembler(limits: FrameLimits(maximumMessageSize: 1024))
        // Only the 16 header bytes are there: the refusal cannot have waited for (or made room for) the payload.
        assembler.append(FrameHeader(length: 100 << 30, type: Ping.type.rawValue, id: 1).bytes)
        #expect(throws: FrameError.tooLarge(length: 100 << 30, limit: 1024)) { try assembler.next() }
        var justOver = FrameAssembler(limits: FrameLimits(maximumMessageSize: 1024))
        justOver.append(FrameHeader(length: 1025, type: ModelRequest.type.rawValue, id: 1).bytes)
        #expect(throws: FrameError.tooLarge(length: 1025, limit: 1024)) { try justOver.next() }
        var atTheLimit = FrameAssembler(limits: FrameLimits(maximumMessageSize: 1024))
        atTheLimit.append(FrameHeader(length: 1024, type: ModelRequest.type.rawValue, id: 1).bytes)
        #expect(try atTheLimit.next() == nil)
        #expect(atTheLimit.truncation == .truncated(expected: 1024, got: 0))
    }

    @Test func aStreamLongerThanTheLimitIsRefused() throws {
        var assembler = FrameAssembler(limits: FrameLimits(maximumStreamSize: 1 << 20))
        let update = TaskResultMessage(round: 0, task: "train", sampleCount: 1, metrics: [:], layout: FrameAssemblerTests.layout)
        assembler.append(FrameChannel.encodeFrame(update, id: 1, flags: .stream, streamLength: (1 << 20) + 1))
        #expect(throws: WireDecodingError.self) { try assembler.next() }
    }

    @Test func aChunkOutsideAStreamIsRefused() throws {
        var assembler = FrameAssembler(limits: FrameLimits())
        assembler.append(FrameHeader(length: 4, type: MessageType.chunk.rawValue, id: 5).bytes)
        #expect(throws: FrameError.unexpectedChunk("chunk with id 5 outside any stream")) { try assembler.next() }
    }

    @Test func theBytesAfterAStreamHeaderAreHandedOverAsTheyCame() throws {
        let update = TaskResultMessage(round: 2, task: "train", sampleCount: 1, metrics: [:], layout: FrameAssemblerTests.layout)
        let chunk = FrameHeader(length: 8, type: MessageType.chunk.rawValue, id: 1).bytes + [UInt8](repeating: 9, count: 8)
        let after = FrameChannel.encodeFrame(Ping(), id: 2, flags: [], streamLength: nil)
        var assembler = FrameAssembler(limits: FrameLimits())
        assembler.append(FrameChannel.encodeFrame(update, id: 1, flags: .stream, streamLength: 8) + chunk + after)
        let frame = try #require(try assembler.next())
        #expect(frame.streamLength == 8 && frame.header.flags.contains(.stream) && frame.message is TaskResultMessage)
        #expect(assembler.takeBuffered() == chunk + after)
        #expect(assembler.bufferedByteCount == 0)
        #expect(try assembler.next() == nil)
    }

    @Test func aCutFrameIsReportedAsFrameChannelDoes() throws {
        var assembler = FrameAssembler(limits: FrameLimits())
        #expect(assembler.truncation == nil)
        assembler.append([1, 2, 3])
        #expect(assembler.truncation == .truncated(expected: FrameHeader.size, got: 3))
        var partial = FrameAssembler(limits: FrameLimits())
        partial.append(FrameHeader(length: 100, type: ModelRequest.type.rawValue, id: 1).bytes + [UInt8](repeating: 0, count: 10))
        #expect(try partial.next() == nil)
        #expect(partial.truncation == .truncated(expected: 100, got: 10))
    }
}
