import FLCLI
import Foundation
import FLCore

ProcessSetup.prepare()

exit(AggregatorProcess.command.main(Array(CommandLine.arguments.dropFirst()), context: CommandContext()))
