import FLCore
import Foundation
import Testing

/// The one JSON configuration: exact bytes for each layout, and non-finite numbers both ways.
@Suite struct JSONCodingTests {
    struct Sample: Codable, Equatable {
        var path: String
        var value: Double
        var list: [Int]
    }

    @Test func writesOneLineWithSortedKeysAndUnescapedSlashes() throws {
        let sample = Sample(path: "a/b", value: 1.5, list: [1, 2])
        #expect(try JSONCoding.line(sample) == #"{"list":[1,2],"path":"a/b","value":1.5}"#)
        #expect(try JSONCoding.encoder().encode(sample) == Data(#"{"list":[1,2],"path":"a/b","value":1.5}"#.utf8))
    }

    @Test func writesPrettyWithSortedKeys() throws {
        let text = String(decoding: try JSONCoding.encoder(.pretty).encode(Sample(path: "a/b", value: -2, list: [])), as: UTF8.self)
        #expect(text == "{\n  \"list\" : [\n\n  ],\n  \"path\" : \"a/b\",\n  \"value\" : -2\n}")
    }

    @Test func nonFiniteNumbersAreStringsBothWays() throws {
        for (value, text) in [(Double.nan, "nan"), (.infinity, "inf"), (-.infinity, "-inf")] {
            let line = try JSONCoding.line(Sample(path: "", value: value, list: []))
            #expect(line == #"{"list":[],"path":"","value":"\#(text)"}"#)
            let back = try JSONCoding.decoder().decode(Sample.self, from: Data(line.utf8))
            #expect(back.value.bitPattern == value.bitPattern || (value.isNaN && back.value.isNaN))
        }
        // Any other string is still not a number.
        #expect(throws: DecodingError.self) { try JSONCoding.decoder().decode(Sample.self, from: Data(#"{"list":[],"path":"","value":"NaN"}"#.utf8)) }
    }
}
