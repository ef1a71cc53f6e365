import FLCLI
import Foundation
import FLCore

ProcessSetup.prepare()

exit(CollaboratorProcess.command.main(Array(CommandLine.arguments.dropFirst()), context: CommandContext()))
