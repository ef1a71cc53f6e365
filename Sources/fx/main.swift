import FLCLI
import Foundation
import FLCore

ProcessStart.prepare()

// Installed, fx-aggregator and fx-collaborator are this same binary under their own names.
let invokedAs = CommandLine.arguments.first.map { ($0 as NSString).lastPathComponent } ?? "fx"
exit(FX.command(invokedAs: invokedAs).main(Array(CommandLine.arguments.dropFirst()), context: CommandContext()))
