import FLWire
import FLPKI

/// `fx pki`: the federation's certificate authority and its participants' certificates.
enum PKICommands {
    static var command: Command {
        Command("pki", abstract: "Create the federation's certificate authority and issue certificates.",
                discussion: """
                Every connection in SwiftFL is mutual TLS 1.3; the common name of a certificate is the identity of its
                holder and its role says what it may do: director, aggregator, envoy (a data site; its collaborators
                use the same certificate), user (submits and follows their own experiments) or admin (every
                experiment). The operator chooses the role when signing. Keys are made where they are used and
                never move: a site runs `request`, sends the .csr to the operator, who runs `sign --role envoy` and
                sends back the .crt and the CA certificate. `certify` does both at once for a federation on one machine.
                `revoke` withdraws a certificate before it expires: it is listed in the CA's crl.pem, which every
                Director, Envoy and aggregator machine is given a copy of.
                """,
                subcommands: [initCommand, requestCommand, signCommand, certifyCommand, revokeCommand])
    }

    static let initCommand = Command(
        "init", abstract: "Create a certificate authority (ca.key and ca.crt) in a folder.",
        arguments: [caFolder, caName]
    ) { args, context in
        let ca = try CertificateAuthority.create(directory: context.absolute(try args.required(Self.caFolder)),
                                                 commonName: try args.required(Self.caName))
        context.console.print("created certificate authority '\(ca.certificate.commonName)'")
        context.console.print("  certificate: \(ca.certificatePath)")
        context.console.print("  key:         \(ca.keyPath) (keep it secret)")
        context.console.print("  SHA-256:     \(ca.certificate.fingerprint)")
        context.console.print("  revocations: \(ca.revocationListPath) (empty for now; give every Director, Envoy and aggregator a copy)")
        return 0
    }

    static let requestCommand = Command(
        "request", abstract: "Make a private key and a certificate signing request at a site.",
        arguments: [requester, hosts, requestFolder]
    ) { args, context in
        let files = try CertificateRequest.create(name: try args.required(Self.requester), hosts: args[Self.hosts],
                                                  directory: context.absolute(try args.required(Self.requestFolder)))
        context.console.print("private key: \(files.keyPath) (stays on this machine)")
        context.console.print("request:     \(files.requestPath) (send it to the federation's operator)")
        return 0
    }

    static let signCommand = Command(
        "sign", abstract: "Sign a certificate request with the CA; prints the certificate's fingerprint.",
        arguments: [request, role, caDirectory, days, certificateOutput]
    ) { args, context in
        let (role, days) = (try args.required(Self.role), try args.required(Self.days))
        let ca = try certificateAuthority(args, context)
        let issued = try ca.sign(requestPath: context.absolute(try args.required(Self.request)), role: role, validity: .days(days),
                                 outputPath: args[Self.certificateOutput].map(context.absolute))
        context.console.print("issued certificate for '\(issued.commonName)' (role \(role)): \(issued.path)")
        context.console.print("SHA-256 fingerprint: \(issued.fingerprint)")
        context.console.print("Compare it with the requester out of band before they use it.")
        return 0
    }

    static let certifyCommand = Command(
        "certify", abstract: "Make a key and a signed certificate in one step (a federation on one machine).",
        arguments: [identity, hosts, role, caDirectory, identityFolder, days]
    ) { args, context in
        let (role, days) = (try args.required(Self.role), try args.required(Self.days))
        let ca = try certificateAuthority(args, context)
        var hosts = args[Self.hosts]
        if role.acceptsConnections && hosts.isEmpty { hosts = ["127.0.0.1", "localhost"] }
        let identity = try ca.certify(name: try args.required(Self.identity), hosts: hosts, role: role,
                                      directory: context.absolute(try args.required(Self.identityFolder)), validity: .days(days))
        context.console.print("\(identity.name) (role \(role)): \(identity.certificatePath) (key \(identity.keyPath))")
        context.console.print("SHA-256 fingerprint: \(identity.fingerprint)")
        return 0
    }

    static let revokeCommand = Command(
        "revoke", abstract: "Revoke a participant's certificates (by name) or one certificate (by file).",
        discussion: """
        By NAME, every unexpired certificate the CA recorded issuing for that name is revoked; with --cert, the one
        certificate in FILE (which this CA must have signed; certificates issued before the CA kept records too).
        The CA's crl.pem is rewritten: copy it to every Director, Envoy and aggregator machine, where the file named
        in their configuration is re-read when it changes; connections of a revoked certificate are then refused,
        and ones already open are closed.
        """,
        arguments: [participant, revokedCertificate, caDirectory]
    ) { args, context in
        let name = args[Self.participant], file = args[Self.revokedCertificate]
        guard (name == nil) != (file == nil) else {
            throw args.error("give either a NAME or \(Self.revokedCertificate.spec.synopsis) (one of them)")
        }
        let ca = try certificateAuthority(args, context)
        let outcome = if let name { try ca.revoke(name: name) } else { try ca.revoke(certificateFile: context.absolute(file!)) }
        for record in outcome.revoked {
            context.console.print("revoked '\(record.commonName)' serial \(record.serialNumber)")
        }
        for record in outcome.alreadyRevoked {
            context.console.print("'\(record.commonName)' serial \(record.serialNumber) was already revoked (\(record.revokedAt))")
        }
        context.console.print("revocation list: \(outcome.revocationListPath)")
        context.console.print("Copy it to every Director, Envoy and aggregator machine (where their configuration names the revocation list);")
        context.console.print("they reload it when it changes: new connections of a revoked certificate are refused, open ones closed.")
        return 0
    }

    static let caFolder = Option("--dir", value: "DIR", help: "Folder for the CA's files (created 0700).", required: true)
    static let caName = Option("--name", value: "CN", help: "The CA's common name (default: SwiftFL CA).", default: "SwiftFL CA")
    static let requester = Option(
        "--name", value: "NAME", help: "The identity: an envoy's, user's, director's or aggregator's name.", required: true)
    static let hosts = RepeatedOption("--host", value: "HOST", help: "A DNS name or IP address the certificate is for (servers).")
    static let requestFolder = Option("--dir", value: "DIR", help: "Where NAME.key and NAME.csr go (default: current folder).", default: ".")
    static let request = Option("--csr", value: "FILE", help: "The request to sign.", required: true)
    static let days = Option("--days", value: "N", help: "Validity in days (default: 365).", default: 365, as: .integer(in: 1...36500))
    static let certificateOutput = Option("--out", value: "FILE", help: "Where the certificate goes (default: NAME.crt beside the request).")
    static let identity = Option("--name", value: "NAME", help: "The identity.", required: true)
    static let identityFolder = Option(
        "--dir", value: "DIR", help: "Where NAME.key, NAME.crt and ca.crt go (default: current folder).", default: ".")
    static let participant = Positional("name", help: "The participant whose certificates to revoke.", required: false)
    static let revokedCertificate = Option("--cert", value: "FILE", help: "Revoke the certificate in this PEM file instead.")
    static let caDirectory = Option("--ca-dir", value: "DIR", help: "The CA's folder (default: ./ca).", default: "ca")
    static let role = Option(
        "--role", value: "ROLE", help: "director, aggregator, envoy, user or admin: what the holder may do (see above).", required: true,
        as: ValueParser { text in
            Result { try CertificateRole.named(text) }.mapError { .refused(($0 as? PKIError)?.reason ?? "\($0)") }
        })

    /// The CA `--ca-dir` names.
    private static func certificateAuthority(_ args: ParsedArguments, _ context: CommandContext) throws -> CertificateAuthority {
        try CertificateAuthority.load(directory: context.absolute(try args.required(caDirectory)))
    }
}
