import Foundation

/// A line chart as a value: series of points drawn against shared axes. `svg()` renders it as a
/// self-contained SVG document (no script, no external fonts or styles), so the same picture serves
/// the Director's dashboard and `fx experiment plot`, and opens in any browser or image viewer.
public struct LineChart: Sendable, Hashable {
    /// One line: a name for the legend and its points, in the order they are joined.
    public struct Series: Sendable, Hashable {
        public var name: String
        public var points: [Point]

        public init(name: String, points: [Point]) {
            self.name = name
            self.points = points
        }
    }

    /// A point in data coordinates.
    public struct Point: Sendable, Hashable {
        public var x: Double
        public var y: Double

        public init(x: Double, y: Double) {
            self.x = x
            self.y = y
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// The size of the whole picture, in pixels.
    public var width: Double
    public var height: Double

    public init(title: String, xLabel: String, yLabel: String, series: [Series], width: Double = 720, height: Double = 400) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.width = width
        self.height = height
    }

    /// The colours lines take in turn: distinguishable for most forms of colour blindness (Okabe–Ito).
    public static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]

    /// Where the plot area sits inside the picture; the legend takes the right margin.
    public var plotArea: (left: Double, top: Double, right: Double, bottom: Double) {
        (left: 70, top: 36, right: width - legendWidth, bottom: height - 48)
    }

    /// Room for the longest name at about 6.5 px a character (11 px sans-serif), within 45 % of the width.
    private var legendWidth: Double {
        guard let longest = series.map(\.name.count).max() else { return 20 }
        return Swift.min(width * 0.45, Swift.max(120, 50 + Double(longest) * 6.5))
    }

    /// The data ranges the axes span: the values' extent widened to round tick values.
    public var scales: (x: ChartScale, y: ChartScale) {
        let points = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        return (x: ChartScale(covering: points.map(\.x)), y: ChartScale(covering: points.map(\.y)))
    }

    /// The pixel position of a data point.
    public func position(_ p: Point) -> (x: Double, y: Double) {
        let area = plotArea
        let (xs, ys) = scales
        return (x: area.left + xs.fraction(p.x) * (area.right - area.left),
                y: area.bottom - ys.fraction(p.y) * (area.bottom - area.top))
    }

    /// The chart as an SVG document.
    public func svg() -> String {
        var out = SVGWriter()
        out.open("svg", ["xmlns": "http://www.w3.org/2000/svg", "width": SVGWriter.number(width), "height": SVGWriter.number(height),
                         "viewBox": "0 0 \(SVGWriter.number(width)) \(SVGWriter.number(height))", "font-family": "sans-serif", "font-size": "12"])
        out.element("rect", ["x": "0", "y": "0", "width": SVGWriter.number(width), "height": SVGWriter.number(height), "fill": "#ffffff"])
        out.element("text", ["x": SVGWriter.number(width / 2), "y": "22", "text-anchor": "middle", "font-size": "15", "font-weight": "bold"], text: title)
        drawAxes(&out)
        drawSeries(&out)
        drawLegend(&out)
        out.close("svg")
        return out.text
    }

    private func drawAxes(_ out: inout SVGWriter) {
        let area = plotArea
        let (xs, ys) = scales
        out.open("g", ["class": "axes", "stroke": "#444444", "fill": "none"])
        out.element("rect", ["x": SVGWriter.number(area.left), "y": SVGWriter.number(area.top),
                             "width": SVGWriter.number(area.right - area.left), "height": SVGWriter.number(area.bottom - area.top)])
        out.close("g")
        out.open("g", ["class": "x-ticks", "font-size": "11", "text-anchor": "middle"])
        for tick in xs.ticks {
            let x = position(Point(x: tick, y: ys.lower)).x
            out.element("line", ["x1": SVGWriter.number(x), "y1": SVGWriter.number(area.bottom), "x2": SVGWriter.number(x),
                                 "y2": SVGWriter.number(area.bottom + 5), "stroke": "#444444"])
            out.element("text", ["x": SVGWriter.number(x), "y": SVGWriter.number(area.bottom + 18)], text: xs.label(tick))
        }
        out.close("g")
        out.open("g", ["class": "y-ticks", "font-size": "11", "text-anchor": "end"])
        for tick in ys.ticks {
            let y = position(Point(x: xs.lower, y: tick)).y
            out.element("line", ["x1": SVGWriter.number(area.left), "y1": SVGWriter.number(y), "x2": SVGWriter.number(area.right),
                                 "y2": SVGWriter.number(y), "stroke": "#e4e4e4"])
            out.element("text", ["x": SVGWriter.number(area.left - 6), "y": SVGWriter.number(y + 4)], text: ys.label(tick))
        }
        out.close("g")
        out.element("text", ["x": SVGWriter.number((area.left + area.right) / 2), "y": SVGWriter.number(height - 10), "text-anchor": "middle"], text: xLabel)
        let midY = SVGWriter.number((area.top + area.bottom) / 2)
        out.element("text", ["x": "16", "y": midY, "text-anchor": "middle", "transform": "rotate(-90 16 \(midY))"], text: yLabel)
    }

    private func drawSeries(_ out: inout SVGWriter) {
        out.open("g", ["class": "series", "fill": "none", "stroke-width": "2"])
        for (index, line) in series.enumerated() {
            let colour = Self.palette[index % Self.palette.count]
            let points = line.points.filter { $0.x.isFinite && $0.y.isFinite }.map { p -> String in
                let (x, y) = position(p)
                return SVGWriter.number(x) + "," + SVGWriter.number(y)
            }
            out.element("polyline", ["data-series": line.name, "stroke": colour, "points": points.joined(separator: " ")])
            // A lone point draws no line: mark the points so one round still shows (while few enough to tell apart).
            for p in points where points.count <= 60 {
                let xy = p.split(separator: ",")
                out.element("circle", ["cx": String(xy[0]), "cy": String(xy[1]), "r": "2.5", "fill": colour, "stroke": "none"])
            }
        }
        out.close("g")
    }

    private func drawLegend(_ out: inout SVGWriter) {
        guard !series.isEmpty else { return }
        let left = plotArea.right + 14
        out.open("g", ["class": "legend", "font-size": "11"])
        for (index, line) in series.enumerated() {
            let y = plotArea.top + 8 + Double(index) * 18
            out.element("line", ["x1": SVGWriter.number(left), "y1": SVGWriter.number(y), "x2": SVGWriter.number(left + 20), "y2": SVGWriter.number(y),
                                 "stroke": Self.palette[index % Self.palette.count], "stroke-width": "3"])
            out.element("text", ["x": SVGWriter.number(left + 26), "y": SVGWriter.number(y + 4)], text: line.name)
        }
        out.close("g")
    }
}
