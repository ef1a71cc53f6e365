import Foundation
import Testing
import FLTesting
@testable import FLArchive

/// Builds tar archives byte by byte, independently of `TarWriter`, so tests can make archives no
/// honest writer would: hostile paths, wrong checksums, absurd sizes, truncations.
enum RawTar {
    static let block = 512
    static let end = [UInt8](repeating: 0, count: 1024)

    /// One 512-byte header. `edit` may change any byte before the checksum is computed; with
    /// `validChecksum: false` the checksum field is left wrong on purpose.
    static func header(_ name: String, type: Character = "0", size: Int = 0, mode: String = "0000644", link: String = "",
                       prefix: String = "", validChecksum: Bool = true, edit: (inout [UInt8]) -> Void = { _ in }) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: block)
        func put(_ text: [UInt8], at offset: Int, width: Int) {
            precondition(text.count <= width, "field too long for the raw header")
            for (i, byte) in text.enumerated() { h[offset + i] = byte }
        }
        put(Array(name.utf8), at: 0, width: 100)
        put(Array(mode.utf8), at: 100, width: 8)
        put(Array("0000000".utf8), at: 108, width: 8)
        put(Array("0000000".utf8), at: 116, width: 8)
        put(Array(octal(size, digits: 11).utf8), at: 124, width: 12)
        put(Array("00000000000".utf8), at: 136, width: 12)
        h[156] = type.asciiValue!
        put(Array(link.utf8), at: 157, width: 100)
        put(Array("ustar".utf8) + [0] + Array("00".utf8), at: 257, width: 8)
        put(Array(prefix.utf8), at: 345, width: 155)
        edit(&h)
        for i in 148..<156 { h[i] = UInt8(ascii: " ") }
        var sum = h.reduce(0) { $0 + Int($1) }
        if !validChecksum { sum += 1 }
        put(Array(octal(sum, digits: 6).utf8) + [0, UInt8(ascii: " ")], at: 148, width: 8)
        return h
    }

    static func octal(_ value: Int, digits: Int) -> String {
        let text = String(value, radix: 8)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// `bytes` padded with zeros to whole blocks.
    static func data(_ bytes: [UInt8]) -> [UInt8] {
        bytes + [UInt8](repeating: 0, count: (block - bytes.count % block) % block)
    }

    /// A regular file entry: header and padded contents.
    static func file(_ name: String, _ contents: String, mode: String = "0000644") -> [UInt8] {
        header(name, size: contents.utf8.count, mode: mode) + data(Array(contents.utf8))
    }

    /// A PAX `x` header (and its data) with the given records, which apply to the next entry.
    static func pax(_ records: [(String, String)]) -> [UInt8] {
        var body: [UInt8] = []
        for (key, value) in records { body += TarHeader.paxRecord(key: key, value: Array(value.utf8)) }
        return header("././@PaxHeader", type: "x", size: body.count) + data(body)
    }

    /// A GNU long-name (`L`) or long-link (`K`) header and its data.
    static func gnuLong(_ type: Character, _ name: String) -> [UInt8] {
        let body = Array(name.utf8) + [0]
        return header("././@LongLink", type: type, size: body.count) { h in
            // GNU format magic: "ustar  \0".
            for (i, byte) in (Array("ustar  ".utf8) + [0]).enumerated() { h[257 + i] = byte }
        } + data(body)
    }
}

@Suite("Raw tar builder (test helper)")
struct TarHeaderBuilderTests {
    @Test func gnuTarAcceptsRawArchives() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let longName = String(repeating: "n", count: 120) + ".txt"
        let bytes = RawTar.file("hello.txt", "hi\n")
            + RawTar.header("dir/", type: "5", mode: "0000755")
            + RawTar.pax([("path", "dir/" + longName)]) + RawTar.file("placeholder", "pax\n")
            + RawTar.gnuLong("L", "dir/gnu-" + longName) + RawTar.file("placeholder2", "gnu\n")
            + RawTar.end
        let archive = try scratch.write("raw.tar", bytes)
        let listing = try Tools.gnuTar(["-tf", archive])
        #expect(listing.split(separator: "\n").map(String.init) == ["hello.txt", "dir/", "dir/" + longName, "dir/gnu-" + longName])
    }

    @Test func brokenChecksumIsBrokenForGNUTarToo() throws {
        let scratch = try TemporaryDirectory(prefix: "swiftfl-archive")
        defer { scratch.remove() }
        let archive = try scratch.write("bad.tar", RawTar.header("x", validChecksum: false) + RawTar.end)
        let result = try Tools.run(Tools.tar, ["-tf", archive])
        #expect(!result.status.isSuccess)
    }
}
