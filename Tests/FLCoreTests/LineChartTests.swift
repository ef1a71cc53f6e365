import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import FLTesting
import FLCore

/// The chart's SVG read back as XML: a polyline per series, one point per value, and the points'
/// pixel positions an increasing linear function of the rounds and a decreasing one of the values
/// (SVG's y axis points down) on one scale shared by every series.
@Suite struct LineChartTests {

    /// `text` read as XML, which it must be.
    static func parse(_ text: String) -> XMLElements {
        let elements = XMLElements.parse(text)
        #expect(elements.problem == nil, "\(elements.problem ?? "")")
        return elements
    }

    static func points(_ attribute: String) throws -> [(x: Double, y: Double)] {
        try attribute.split(separator: " ").map { pair in
            let xy = pair.split(separator: ",").compactMap { Double($0) }
            try #require(xy.count == 2, "bad point \(pair)")
            return (xy[0], xy[1])
        }
    }

    static let series = [
        LineChart.Series(name: "train/loss", points: [.init(x: 1, y: 0.69), .init(x: 2, y: 0.41), .init(x: 3, y: 0.30), .init(x: 4, y: 0.22)]),
        LineChart.Series(name: "val/accuracy <&>", points: [.init(x: 1, y: 0.62), .init(x: 2, y: 0.91), .init(x: 3, y: 0.95), .init(x: 4, y: 0.94)]),
        LineChart.Series(name: "late", points: [.init(x: 3, y: 1.25), .init(x: 4, y: 0.05)]),
    ]

    @Test func eachSeriesIsAPolylineWhosePointsFollowTheValues() throws {
        let chart = LineChart(title: "demo", xLabel: "round", yLabel: "value", series: Self.series)
        let svg = Self.parse(chart.svg())
        #expect(svg.found.first?.name == "svg")
        let lines = svg.found.filter { $0.name == "polyline" }
        #expect(lines.map { $0.attributes["data-series"] } == Self.series.map(\.name))
        var pixels: [(x: Double, y: Double)] = []
        var values: [LineChart.Point] = []
        for (line, series) in zip(lines, Self.series) {
            let points = try Self.points(try #require(line.attributes["points"]))
            #expect(points.count == series.points.count)
            pixels += points
            values += series.points
        }
        // Pixel = a + b·value on each axis, with b > 0 along x and b < 0 along y, for every point of every series.
        let area = chart.plotArea
        for axis in [\LineChart.Point.x, \LineChart.Point.y] {
            let v = values.map { $0[keyPath: axis] }
            let p = axis == \LineChart.Point.x ? pixels.map(\.x) : pixels.map(\.y)
            let (i, j) = (v.firstIndex(of: v.min()!)!, v.firstIndex(of: v.max()!)!)
            let slope = (p[j] - p[i]) / (v[j] - v[i])
            #expect(axis == \LineChart.Point.x ? slope > 0 : slope < 0)
            for k in v.indices {
                #expect(abs(p[i] + slope * (v[k] - v[i]) - p[k]) < 0.02, "point \(k) at \(p[k]) is off the line of the others")
            }
        }
        for p in pixels {
            #expect(p.x >= area.left && p.x <= area.right && p.y >= area.top && p.y <= area.bottom)
        }
        // The lowest value sits lowest in the picture.
        #expect(pixels[values.firstIndex { $0.y == 0.05 }!].y == pixels.map(\.y).max())
    }

    @Test func theAxesHaveLabelledTicksAndTheLegendNamesEachSeries() throws {
        let svg = Self.parse(LineChart(title: "demo", xLabel: "round", yLabel: "value", series: Self.series).svg())
        let texts = svg.found.filter { $0.name == "text" }.map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(texts.contains("demo") && texts.contains("round") && texts.contains("value"))
        for series in Self.series { #expect(texts.contains(series.name)) }
        let scales = LineChart(title: "", xLabel: "", yLabel: "", series: Self.series).scales
        #expect(scales.x.lower <= 1 && scales.x.upper >= 4)
        #expect(scales.y.lower <= 0.05 && scales.y.upper >= 1.25)
        for tick in scales.y.ticks { #expect(texts.contains(scales.y.label(tick))) }
        #expect(scales.y.ticks.count >= 3)
    }

    @Test func noValuesOrOneValueStillDrawAChart() throws {
        let empty = Self.parse(LineChart(title: "none", xLabel: "round", yLabel: "value", series: []).svg())
        #expect(empty.found.filter { $0.name == "polyline" }.isEmpty)
        let one = LineChart(title: "one", xLabel: "round", yLabel: "value", series: [.init(name: "m", points: [.init(x: 1, y: 0.5)])])
        let parsed = Self.parse(one.svg())
        let points = try Self.points(try #require(parsed.found.first { $0.name == "polyline" }?.attributes["points"]))
        let area = one.plotArea
        #expect(points.count == 1)
        // A flat line sits in the middle, not on an edge.
        #expect(abs(points[0].y - (area.top + area.bottom) / 2) < 0.01)
    }

    @Test func scalesTakeRoundSteps() {
        #expect(ChartScale(covering: [0.12, 0.87]).step == 0.2)
        #expect(ChartScale(covering: [1, 20]).step == 5)
        #expect(ChartScale(covering: [0.12, 0.87]).label(0.4) == "0.4")
        #expect(ChartScale(covering: [1, 20]).ticks == [0, 5, 10, 15, 20])
    }
}
