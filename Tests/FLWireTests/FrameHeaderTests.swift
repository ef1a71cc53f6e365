import Testing
@testable import FLWire

@Suite struct FrameHeaderTests {
    @Test func encodesLittleEndianFields() {
        let header = FrameHeader(length: 0x0102_0304_0506_0708, type: 0x0A0B, flags: [.reply, .stream], id: 0x0C0D_0E0F)
        #expect(header.bytes == [0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x0B, 0x0A, 0x03, 0x00, 0x0F, 0x0E, 0x0D, 0x0C])
    }

    @Test(arguments: [
        FrameHeader(length: 0, type: 0, id: 0),
        FrameHeader(length: .max, type: .max, flags: [.reply, .stream], id: .max),
        FrameHeader(length: 16 << 20, type: ModelReply.type.rawValue, flags: .reply, id: 7),
        FrameHeader(length: 1 << 20, type: MessageType.chunk.rawValue, flags: .stream, id: 1),
    ])
    func roundTrips(_ header: FrameHeader) throws {
        let bytes = header.bytes
        #expect(bytes.count == FrameHeader.size)
        let decoded = try bytes.withUnsafeBytes { try FrameHeader.decode($0) }
        #expect(decoded == header)
    }

    @Test func refusesEveryUnknownFlagBit() throws {
        for bit in 2..<16 {
            var bytes = FrameHeader(length: 0, type: Ping.type.rawValue, id: 1).bytes
            let raw = UInt16(1) << UInt16(bit) | FrameFlags.reply.rawValue
            bytes[10] = UInt8(raw & 0xFF)
            bytes[11] = UInt8(raw >> 8)
            let error = #expect(throws: FrameError.self) { try bytes.withUnsafeBytes { try FrameHeader.decode($0) } }
            #expect(error == .unknownFlags(raw))
        }
    }

    @Test func refusesAShortBuffer() {
        let bytes = Array(FrameHeader(length: 1, type: 1, id: 1).bytes.prefix(15))
        let error = #expect(throws: FrameError.self) { try bytes.withUnsafeBytes { try FrameHeader.decode($0) } }
        #expect(error == .truncated(expected: 16, got: 15))
    }
}
