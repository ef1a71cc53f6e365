import Foundation
import FLCore
import FLWire

// The dashboard: a read-only page, `/metrics` and each experiment's chart, served over HTTP
// (`dashboard.listen`) from a snapshot of the state.
extension Director {
    /// Starts the dashboard's server when `dashboard.listen` is set: plain HTTP on loopback, or mutual
    /// TLS with the Director's certificate for user and admin certificates.
    func startDashboard() throws {
        let settings = settings
        guard let listen = settings.dashboardListen else { return }
        let tls = settings.dashboardTLS ? try TLSContext(settings.tls, side: .server, logger: logger) : nil
        let server = try HTTPServer(.init(host: listen.host, port: listen.port, tls: tls, allowedRoles: Director.userRoles),
                                    logger: logger) { [weak self] request in
            self?.answerDashboard(request) ?? HTTPResponse(HTTPRequestError(503, "the Director is stopping"))
        }
        server.start()
        dashboardServer.withLock { $0 = server }
        emit([.dashboardListening(port: server.port)])
    }

    /// The dashboard's port, once started with `dashboard.listen`.
    public var dashboardPort: Int? { dashboardServer.withLock { $0?.port } }

    /// The state the dashboard shows, copied under the lock.
    public func dashboardSnapshot() -> DashboardSnapshot {
        let (envoys, experiments) = state.withLock { s in (s.envoyInfo(), s.experiments) }
        let traffic = serverBox.withLock { $0 }?.traffic
        return DashboardSnapshot(envoys: envoys, experiments: experiments, history: dashboard.history(),
                                 bytesReceived: traffic?.received ?? 0, bytesSent: traffic?.sent ?? 0,
                                 updatesRejected: dashboard.updatesRejected)
    }

    /// `/` the page, `/metrics` the Prometheus text, `/experiments/NAME.svg` one experiment's chart.
    func answerDashboard(_ request: HTTPRequest) -> HTTPResponse {
        let path = request.path
        if path == "/metrics" {
            return HTTPResponse(contentType: "text/plain; version=0.0.4", text: PrometheusExposition.render(dashboardSnapshot()))
        }
        if path == "/" || path == "/index.html" {
            return HTTPResponse(contentType: "text/html", text: DashboardPage.render(dashboardSnapshot()))
        }
        if path.hasPrefix("/experiments/"), path.hasSuffix(".svg") {
            let name = String(path.dropFirst("/experiments/".count).dropLast(".svg".count))
            if let x = state.withLock({ $0.experiment(name) }) {
                return HTTPResponse(contentType: "image/svg+xml", text: ExperimentChart.chart(for: x).svg())
            }
        }
        return HTTPResponse(status: 404, contentType: "text/plain", text: "nothing at \(path): try / or /metrics\n")
    }
}
