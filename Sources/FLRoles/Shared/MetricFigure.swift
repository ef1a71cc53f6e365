import Foundation

/// How a metric's value is printed on progress lines (`fx experiment watch`, the aggregator's round
/// lines): four decimals, except values too small for them (a δ of 1e-5 would print as 0.0000),
/// which keep three significant digits.
public enum MetricFigure {
    public static func text(_ value: Double) -> String {
        value != 0 && abs(value) < 0.001 ? String(format: "%.3g", value) : String(format: "%.4f", value)
    }
}
