/// How long a server stops accepting after `accept` failed for lack of resources (no file
/// descriptors, no kernel memory): 10 ms, doubling with each failure in a row up to 1 s, and back
/// to none after the first success.
///
/// Without it, a listening socket with connections waiting stays readable while every `accept`
/// fails, and the accept loop spins at full speed.
struct AcceptBackoff {
    static let first = 0.01
    static let longest = 1.0

    /// The current pause in seconds; 0 while accepts succeed.
    private(set) var delay = 0.0
    /// When accepting may resume; nil while it is not paused.
    private(set) var resumes: Deadline?

    /// An accept failed for lack of resources: pause, longer than last time.
    mutating func failed() {
        delay = delay == 0 ? AcceptBackoff.first : min(AcceptBackoff.longest, delay * 2)
        resumes = .after(seconds: delay)
    }

    /// An accept succeeded.
    mutating func succeeded() {
        delay = 0
        resumes = nil
    }

    /// Whether to poll the listening socket now.
    var allowsAccepting: Bool { resumes.map(\.hasPassed) ?? true }
}
