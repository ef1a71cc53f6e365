import Testing
import FLCore
@testable import FLPrivacy

@Suite struct PrimeFieldTests {
    let p = PrimeField.modulus

    /// Checked against 128-bit integer arithmetic, including the largest elements.
    @Test func multiplicationMatchesWideArithmetic() throws {
        var generator = SplitMix64(state: 61)
        var cases: [(UInt64, UInt64)] = [(0, 0), (1, p - 1), (p - 1, p - 1), (p - 2, p - 1), (1 << 60, 1 << 60)]
        for _ in 0..<1000 { cases.append((generator.next() % p, generator.next() % p)) }
        for (a, b) in cases {
            let expected = UInt64((UInt128(a) * UInt128(b)) % UInt128(p))
            #expect(PrimeField.multiply(a, b) == expected, "\(a) · \(b)")
        }
    }

    @Test func additionSubtractionAndInverse() throws {
        #expect(PrimeField.add(p - 1, 1) == 0)
        #expect(PrimeField.add(p - 1, p - 1) == p - 2)
        #expect(PrimeField.subtract(0, 1) == p - 1)
        var generator = SplitMix64(state: 7)
        for _ in 0..<100 {
            let a = generator.next() % (p - 1) + 1
            #expect(PrimeField.multiply(a, PrimeField.inverse(a)) == 1)
        }
        for _ in 0..<100 { #expect(try PrimeField.random() < p) }
    }
}
