import FLCLI
import Foundation
import FLCore

ProcessStart.prepare()

exit(AggregatorProcess.command.main(Array(CommandLine.arguments.dropFirst()), context: CommandContext()))
