import Testing
@testable import FLWire

/// The format `WireEncoder` writes for each kind of field, checked byte for byte against
/// `WireWriter`, and read back by `WireDecoder`.
@Suite struct WireEncoderTests {
    struct Sample: Codable, Equatable {
        var flag: Bool
        var small: UInt8
        var port: UInt16
        var version: UInt64
        var delta: Int
        var ratio: Double
        var name: String
        var payload: [UInt8]
        var dims: [Int]
        var names: [String]
        var present: Double?
        var absent: Int?
        var labels: [String: String]
        var nested: [String: [String: Double]]
    }

    static let sample = Sample(flag: true, small: 7, port: 50051, version: .max, delta: -2, ratio: 0.5, name: "grüße", payload: [1, 2, 255],
                               dims: [28, 28], names: ["a", ""], present: 1.5, absent: nil, labels: ["z": "1", "a": "2"],
                               nested: ["s2": ["acc": 0.5], "s1": [:]])

    @Test func eachKindOfFieldHasItsBytes() throws {
        var expected = WireWriter()
        expected.bool(true); expected.u8(7); expected.u16(50051); expected.u64(.max); expected.int(-2); expected.f64(0.5); expected.string("grüße")
        expected.u32(3); expected.u8(1); expected.u8(2); expected.u8(255)
        expected.list([28, 28]) { $0.int($1) }
        expected.list(["a", ""]) { $0.string($1) }
        expected.u8(1); expected.f64(1.5)
        expected.u8(0)
        expected.u32(2); expected.string("a"); expected.string("2"); expected.string("z"); expected.string("1")
        expected.u32(2); expected.string("s1"); expected.u32(0); expected.string("s2"); expected.u32(1); expected.string("acc"); expected.f64(0.5)
        var w = WireWriter()
        WireEncoder.encode(Self.sample, into: &w)
        #expect(w.bytes == expected.bytes)
        var r = WireReader(w.bytes, context: "Sample")
        #expect(try WireDecoder.decode(Sample.self, from: &r) == Self.sample)
        try r.finish()
    }

    @Test func encodingAppendsToWhatTheWriterHolds() {
        var w = WireWriter()
        w.u8(0xAA)
        WireEncoder.encode(ModelRequest(round: 1), into: &w)
        #expect(w.bytes == [0xAA] + ModelRequest(round: 1).encoded())
    }
}
