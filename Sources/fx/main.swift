import FLCLI
import Foundation
import FLCore

ProcessSetup.prepare()

exit(FX.command.main(Array(CommandLine.arguments.dropFirst()), context: CommandContext()))
