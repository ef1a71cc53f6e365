import Foundation
import FLCore
import FLRoles
import FLWire

/// The options and helpers shared by the commands that talk to a Director as a user.
enum DirectorConnection {
    static let director = Option("--director", value: "HOST:PORT", help: "The Director (default: $SWIFTFL_DIRECTOR).", as: .endpoint)
    static let certificateDirectory = Option(
        "--cert-dir", value: "DIR", help: "Folder with ca.crt, NAME.crt and NAME.key (default: $SWIFTFL_CERT_DIR, or ./cert).")
    static let identity = Option("--identity", value: "NAME", help: "Your certificate name (default: $SWIFTFL_IDENTITY, or $USER).")
    static let directorName = Option("--director-name", value: "NAME", help: "The Director's certificate name (default: director).", default: "director")

    /// What every command that talks to the Director takes.
    static let options: [any CommandArgument] = [director, certificateDirectory, identity, directorName]

    /// `--json` of the commands that print a table or JSON.
    static let json = Flag("--json", help: "Print JSON.")

    /// A client of the Director the options name (or the environment: an option given wins).
    static func client(_ args: ParsedArguments, _ context: CommandContext) throws -> DirectorClient {
        let env = context.environment
        guard let endpoint = try args.value(Self.director, orParsing: env["SWIFTFL_DIRECTOR"]) else {
            throw args.error("missing \(Self.director.spec.synopsis) (or set SWIFTFL_DIRECTOR)")
        }
        guard let identity = args[Self.identity] ?? env["SWIFTFL_IDENTITY"] ?? env["USER"] else {
            throw args.error("missing \(Self.identity.spec.synopsis) (or set SWIFTFL_IDENTITY)")
        }
        let directory = context.absolute(args[Self.certificateDirectory] ?? env["SWIFTFL_CERT_DIR"] ?? "cert")
        return try DirectorClient(director: endpoint, directorName: try args.required(Self.directorName),
                                  tls: TLSConfiguration(certificateDirectory: directory, name: identity))
    }

    /// `value` as pretty JSON with sorted keys.
    static func jsonText(_ value: some Encodable) throws -> String {
        String(decoding: try JSONCoding.encoder(.pretty).encode(value), as: UTF8.self)
    }

    /// Rows as left-aligned columns.
    static func table(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.map(\.count).max() ?? 0)).map { c in rows.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in c == row.count - 1 ? cell : cell.padding(toLength: widths[c] + 2, withPad: " ", startingAt: 0) }.joined()
        }.joined(separator: "\n")
    }

    static func bytes(_ n: Int) -> String {
        if n == 0 { return "-" }
        if n >= 1 << 30 { return String(format: "%.1f GiB", Double(n) / Double(1 << 30)) }
        return String(format: "%.0f MiB", Double(n) / Double(1 << 20))
    }

    static func date(_ seconds: Double?) -> String {
        guard let seconds else { return "-" }
        return ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: seconds))
    }
}
