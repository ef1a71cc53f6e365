import FLCLI
import Foundation

exit(CollaboratorProcess.command.main(Array(CommandLine.arguments.dropFirst()), context: CommandContext()))
