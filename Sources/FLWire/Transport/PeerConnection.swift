import FLPKI
import Foundation

/// An authenticated peer connected to a server.
public final class PeerConnection: Sendable, CustomStringConvertible {
    /// The common name of the peer's verified certificate.
    public let name: String
    /// The role in the peer's verified certificate; nil when it carries none.
    public let role: CertificateRole?
    public let address: String
    /// Distinguishes two connections of the same peer (e.g. before and after a reconnect).
    public let serial: UInt64
    /// The serial number of the peer's certificate (uppercase hexadecimal), as revocation lists name it.
    public let certificateSerial: String
    let channel: FrameChannel
    let writeTimeout: Double

    init(name: String, role: CertificateRole?, address: String, serial: UInt64, certificateSerial: String = "", channel: FrameChannel,
         writeTimeout: Double) {
        self.name = name
        self.role = role
        self.address = address
        self.serial = serial
        self.certificateSerial = certificateSerial
        self.channel = channel
        self.writeTimeout = writeTimeout
    }

    /// Closes the connection; the peer sees it end.
    public func close() { channel.close() }

    public var description: String { "\(name) (\(role.map(\.rawValue) ?? "no role"), \(address))" }
}

/// One request from a peer.
public struct Request: Sendable {
    public let id: UInt32
    public let message: any WireMessage
    /// Tensor bytes that came with the request, to be read during `handle`.
    public let stream: InboundStream?
    public let peer: PeerConnection
    public var responder: Responder { Responder(peer: peer, id: id) }
}
