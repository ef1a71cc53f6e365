import Testing
import FLCore
@testable import FLWire

@Suite struct WireReaderTests {
    private func reader(_ build: (inout WireWriter) -> Void) -> WireReader {
        var w = WireWriter()
        build(&w)
        return WireReader(w.bytes, context: "test")
    }

    @Test func primitivesRoundTrip() throws {
        var r = reader { w in
            w.u8(0xAB); w.bool(true); w.u16(0xBEEF); w.u32(0xDEAD_BEEF); w.u64(.max); w.i64(-5); w.int(Int.min); w.f64(-0.25)
            w.string("grüße"); w.list(["a", "", "c"]) { $0.string($1) }
        }
        #expect(try r.u8("a") == 0xAB)
        #expect(try r.bool("b"))
        #expect(try r.u16("c") == 0xBEEF)
        #expect(try r.u32("d") == 0xDEAD_BEEF)
        #expect(try r.u64("e") == .max)
        #expect(try r.i64("f") == -5)
        #expect(try r.int("g") == Int.min)
        #expect(try r.f64("h") == -0.25)
        #expect(try r.string("i") == "grüße")
        #expect(try r.list("m", minimumElementSize: 4) { try $0.string("m") } == ["a", "", "c"])
        try r.finish()
    }

    @Test func listClaimingFourBillionElementsIsRefusedBeforeAllocating() {
        var r = reader { $0.u32(.max); $0.u32(1) }
        let error = #expect(throws: WireDecodingError.self) { try r.list("tasks", minimumElementSize: 4) { try $0.string("tasks") } }
        #expect(error?.field == "tasks")
        #expect(error?.reason.contains("claims 4294967295 elements") == true)
        var layout = reader { $0.u32(1 << 31) }
        #expect(throws: WireDecodingError.self) { try layout.layout("layout") }
    }

    @Test func lengthsPastTheEndAreRefused() {
        var string = reader { $0.u32(100); $0.u8(65) }
        let error = #expect(throws: WireDecodingError.self) { try string.string("name") }
        #expect(error?.reason == "needs 100 bytes, 1 left")
        var list = reader { $0.u32(.max) }
        #expect(throws: WireDecodingError.self) { try list.list("data") { try $0.u8("data") } }
        var empty = WireReader([], context: "test")
        #expect(throws: WireDecodingError.self) { try empty.u64("x") }
    }

    @Test func trailingBytesAreRefused() throws {
        var bytes = ModelRequest(round: 3).encoded()
        #expect(try ModelRequest.decode(bytes).round == 3)
        bytes.append(0)
        let error = #expect(throws: WireDecodingError.self) { try ModelRequest.decode(bytes) }
        #expect(error?.description == "malformed ModelRequest: field 'end' 1 unexpected trailing bytes")
    }

    @Test func invalidValuesAreRefused() {
        var utf8 = reader { $0.u32(2); $0.u8(0xC3); $0.u8(0x28) }
        #expect(throws: WireDecodingError.self) { try utf8.string("s") }
        var bool = reader { $0.u8(2) }
        #expect(throws: WireDecodingError.self) { try bool.bool("b") }
        var negative = reader { $0.i64(-1) }
        #expect(throws: WireDecodingError.self) { try negative.count("n", limit: 10) }
        var big = reader { $0.i64(11) }
        #expect(throws: WireDecodingError.self) { try big.count("n", limit: 10) }
        var status = TaskReply(status: .run, round: 0).encoded()
        status[0] = 99
        #expect(throws: WireDecodingError.self) { try TaskReply.decode(status) }
        var wait = TaskRequest(round: 0, maximumWaitSeconds: .nan).encoded()
        #expect(throws: WireDecodingError.self) { try TaskRequest.decode(wait) }
        wait = TaskRequest(round: 0, maximumWaitSeconds: -1).encoded()
        #expect(throws: WireDecodingError.self) { try TaskRequest.decode(wait) }
    }

    @Test func layoutsAreChecked() {
        func encoded(_ name: String, _ dtype: String, _ shape: [Int]) -> [UInt8] {
            var w = WireWriter()
            w.u32(1)
            w.string(name); w.string(dtype); w.list(shape) { $0.int($1) }
            return w.bytes
        }
        for (name, dtype, shape) in [("w", "Q8", [2]), ("w", "F32", [-1]), ("w", "F32", [1 << 33, 1 << 33]), ("", "F32", [1]), ("w", "I8", [1])] {
            var r = WireReader(encoded(name, dtype, shape), context: "test")
            #expect(throws: WireDecodingError.self, "\(name) \(dtype) \(shape)") { try r.layout("layout") }
        }
    }

    /// Every message, cut short at every byte or with any single byte changed, decodes or throws a
    /// typed error: never a crash, never a huge allocation.
    @Test func damagedMessagesNeverCrash() throws {
        let layout = try ModelLayout([TensorSpec(name: "conv.weight", shape: [3, 3]), TensorSpec(name: "bias", shape: [3])])
        let messages: [any WireMessage] = [
            ErrorReply(.notAllowed, "no"), CollaboratorHello(collaborator: "site-1", experiment: "mnist"),
            AggregatorWelcome(experiment: "mnist", roundsToTrain: 10, currentRound: 2, layout: layout),
            TaskRequest(round: 3, maximumWaitSeconds: 30), TaskReply(status: .run, round: 3, tasks: ["train", "validate"], reason: "x"),
            ModelRequest(round: 1), ModelReply(round: 1, layout: layout),
            TaskResultMessage(round: 1, task: "train", sampleCount: 60, metrics: ["loss": 0.1], layout: layout),
        ]
        var random = SplitMix64(state: 0x5EED)
        var decodedDamaged = 0
        for message in messages {
            let type = Swift.type(of: message).type.rawValue
            let bytes = message.encoded()
            let again = try MessageRegistry.decode(type: type, payload: bytes)
            #expect(again.encoded() == bytes, "\(Swift.type(of: message)) round trip")
            // Fields appended at a message's end (issue 15) leave the older, shorter message readable.
            let older: Set<Int> = message is AggregatorWelcome ? [bytes.count - 2, bytes.count - 1] : message is TaskReply ? [bytes.count - 9, bytes.count - 1] : []
            for cut in 0..<bytes.count where !older.contains(cut) {
                #expect(throws: WireDecodingError.self) { try MessageRegistry.decode(type: type, payload: Array(bytes.prefix(cut))) }
            }
            for _ in 0..<200 {
                var damaged = bytes
                damaged[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
                do {
                    _ = try MessageRegistry.decode(type: type, payload: damaged)
                    decodedDamaged += 1
                } catch is WireDecodingError {
                } catch {
                    Issue.record("unexpected error type \(error)")
                }
            }
        }
        // Some damage (inside a float or a name) still decodes; the point is that nothing else happens.
        #expect(decodedDamaged > 0)
    }
}
