import FLCLI
import Foundation

exit(AggregatorProcess.command.main(Array(CommandLine.arguments.dropFirst()), context: CommandContext()))
