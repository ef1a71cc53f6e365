import Foundation
import FLCore
import FLRoles
import FLWire

/// `fx experiment plot`: an experiment's metrics against rounds, as an SVG file.
extension ExperimentCommands {
    static let plotCommand = Command(
        "plot", abstract: "Draw an experiment's metrics against rounds as an SVG chart.",
        discussion: """
        One line per aggregated metric (`task/metric`), the training rounds along the x axis, with a legend.
        The SVG has no script and no external assets: open it in any browser or image viewer.
        The final validation and the best model's validation are not rounds and are left out.
        """,
        arguments: [name, plotOutput] + DirectorConnection.options
    ) { args, context in
        let name = try args.required(Self.name)
        let experiment = try DirectorConnection.client(args, context).statusReport(name).experiment
        let chart = ExperimentChart.chart(for: experiment)
        let output = context.absolute(args[Self.plotOutput] ?? "\(name).svg")
        try AtomicFile.write(string: chart.svg(), to: output)
        let rounds = chart.series.map(\.points.count).max() ?? 0
        context.console.print("wrote \(chart.series.count) metrics over \(rounds) rounds of '\(name)' to \(output)")
        return 0
    }

    static let plotOutput = Option("--output", value: "FILE", help: "Where to write the SVG (default: <name>.svg).")
}
