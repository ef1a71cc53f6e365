import Foundation
import Testing
@testable import FLPrivacy
import FLTesting

/// SwiftFL's accountant against Google's dp_accounting itself (PyPI: dp-accounting, which `.ci/run`
/// installs): Tests/Interop/dp_accounting_interop.py prints what dp_accounting computes for a grid of
/// sampling rates, noise multipliers, steps and δ, and every ε (with its optimal order) and RDP value
/// must agree within 1e-6 relative. Skipped, and reported as skipped, without python3 and the package.
@Suite struct DPAccountingInteropTests {
    static let available: Bool = {
        guard !PythonInterop.skipped else { return false }
        return (try? PythonInterop.run(["-c", "import dp_accounting"], timeout: 60).status.isSuccess) ?? false
    }()

    struct Reference: Decodable {
        struct Epsilon: Decodable {
            var q: Double, sigma: Double, steps: Int, delta: Double, epsilon: Double?, order: Double
        }
        struct RDP: Decodable {
            var q: Double, sigma: Double, steps: Int, orders: [Double], rdp: [Double?]
        }
        var epsilons: [Epsilon]
        var rdp: [RDP]
    }

    /// Equal, or within 1e-6 relative (JSON's null is +∞: no bound).
    static func agree(_ swift: Double, _ python: Double?) -> Bool {
        let python = python ?? .infinity
        return swift == python || abs(swift - python) <= 1e-6 * abs(python)
    }

    @Test(.enabled(if: DPAccountingInteropTests.available, "needs python3 with dp-accounting (pip install dp-accounting)"))
    func epsilonsMatchDPAccounting() throws {
        let output = try PythonInterop.check(["\(PythonInterop.interopDirectory)/dp_accounting_interop.py"], timeout: 300)
        let reference = try JSONDecoder().decode(Reference.self, from: Data(output.utf8))
        #expect(reference.epsilons.count == 96 && reference.rdp.count == 9)
        for r in reference.epsilons {
            var accountant = PrivacyAccountant()
            accountant.compose(samplingRate: r.q, noiseMultiplier: r.sigma, steps: r.steps)
            let (epsilon, order) = accountant.epsilon(delta: r.delta)
            #expect(Self.agree(epsilon, r.epsilon), "q \(r.q) σ \(r.sigma) steps \(r.steps) δ \(r.delta): \(epsilon) vs \(r.epsilon ?? .infinity)")
            #expect(order == r.order, "q \(r.q) σ \(r.sigma) steps \(r.steps) δ \(r.delta): order \(order) vs \(r.order)")
        }
        for r in reference.rdp {
            var accountant = PrivacyAccountant(orders: r.orders)
            accountant.compose(samplingRate: r.q, noiseMultiplier: r.sigma, steps: r.steps)
            for (i, value) in accountant.rdp.enumerated() {
                #expect(Self.agree(value, r.rdp[i]), "q \(r.q) σ \(r.sigma) order \(r.orders[i]): \(value) vs \(r.rdp[i] ?? .infinity)")
            }
        }
    }
}
