/// A word-sized line chart without axes: how a figure moved recently, drawn as inline SVG.
public enum Sparkline {
    /// `values` in order, scaled to fill `width` × `height` (from 0 when all are positive, so a
    /// small wobble is not blown up to full height); a lone value is a dot.
    public static func svg(_ values: [Double], width: Double = 120, height: Double = 24, colour: String = "#0072B2", title: String = "") -> String {
        let finite = values.filter(\.isFinite)
        var out = SVGWriter()
        out.open("svg", ["xmlns": "http://www.w3.org/2000/svg", "class": "sparkline", "width": SVGWriter.number(width),
                         "height": SVGWriter.number(height), "viewBox": "0 0 \(SVGWriter.number(width)) \(SVGWriter.number(height))"])
        if !title.isEmpty { out.element("title", text: title) }
        if !finite.isEmpty {
            let low = Swift.min(0, finite.min()!)
            let high = Swift.max(finite.max()!, low + 1e-9)
            let step = finite.count > 1 ? (width - 2) / Double(finite.count - 1) : 0
            let points = finite.enumerated().map { i, v in
                SVGWriter.number(1 + Double(i) * step) + "," + SVGWriter.number(height - 1 - (v - low) / (high - low) * (height - 2))
            }
            if points.count == 1 {
                let xy = points[0].split(separator: ",")
                out.element("circle", ["cx": String(xy[0]), "cy": String(xy[1]), "r": "1.5", "fill": colour])
            } else {
                out.element("polyline", ["points": points.joined(separator: " "), "fill": "none", "stroke": colour, "stroke-width": "1.5"])
            }
        }
        out.close("svg")
        return out.text
    }
}
