import Foundation

/// One axis of a chart: the data range it spans, widened to round numbers, and its tick values.
public struct ChartScale: Sendable, Hashable {
    public var lower: Double
    public var upper: Double
    /// The distance between ticks: 1, 2 or 5 times a power of ten.
    public var step: Double

    /// A scale covering `values` with about `ticks` ticks. No values span 0…1; one value (or equal
    /// ones) spans a unit around it, so a flat line sits in the middle rather than on an edge.
    public init(covering values: [Double], ticks: Int = 5) {
        var low = values.min() ?? 0
        var high = values.max() ?? 1
        if high - low <= 0 {
            let pad = low == 0 ? 1 : abs(low) * 0.1
            low -= pad
            high += pad
        }
        let step = Self.niceStep((high - low) / Double(max(1, ticks)))
        self.step = step
        self.lower = (low / step).rounded(.down) * step
        self.upper = (high / step).rounded(.up) * step
    }

    /// Where `value` falls between `lower` (0) and `upper` (1).
    public func fraction(_ value: Double) -> Double {
        upper > lower ? (value - lower) / (upper - lower) : 0.5
    }

    /// The tick values from `lower` to `upper`, every `step`.
    public var ticks: [Double] {
        let count = Int(((upper - lower) / step).rounded()) + 1
        return (0..<max(1, min(count, 50))).map { lower + Double($0) * step }
    }

    /// A tick's text: as many decimals as the step needs, no more.
    public func label(_ value: Double) -> String {
        let decimals = max(0, min(10, Int((-log10(step)).rounded(.up))))
        let text = String(format: "%.\(decimals)f", value)
        return text == "-" + String(format: "%.\(decimals)f", 0.0) ? String(text.dropFirst()) : text
    }

    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let power = pow(10, (log10(raw)).rounded(.down))
        let fraction = raw / power
        let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        return nice * power
    }
}
