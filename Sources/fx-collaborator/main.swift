import FLCLI
import Foundation
import FLCore

ProcessStart.prepare()

exit(CollaboratorProcess.command.main(Array(CommandLine.arguments.dropFirst()), context: CommandContext()))
