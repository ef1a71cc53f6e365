import FLCLI
import Foundation

exit(FX.command.main(Array(CommandLine.arguments.dropFirst()), context: CommandContext()))
