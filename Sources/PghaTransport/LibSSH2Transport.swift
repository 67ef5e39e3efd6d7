import Foundation

/// The default transport: libssh2, one SSH connection per host, a channel per command.
///
/// The connection lives on a thread of its own (libssh2 sessions are single-threaded, and
/// blocking work on Swift's cooperative pool — two threads on a 2-core machine — would run 8
/// hosts two at a time); commands are queued to that thread and awaited with a continuation.
/// Commands on one host run one after another; hosts run in parallel.
public final class LibSSH2Transport: Transport, @unchecked Sendable {
    public let host: String
    let endpoint: HostEndpoint
    private let thread: SessionThread

    private init(endpoint: HostEndpoint, thread: SessionThread) {
        self.host = endpoint.name
        self.endpoint = endpoint
        self.thread = thread
    }

    /// Connects, verifies the host key and authenticates.
    public static func connect(_ endpoint: HostEndpoint) async throws -> LibSSH2Transport {
        let thread = SessionThread(connection: LibSSH2Connection(endpoint: endpoint))
        do {
            try await thread.run { try $0.connect() }
        } catch {
            thread.stop()
            throw error
        }
        return LibSSH2Transport(endpoint: endpoint, thread: thread)
    }

    public func exec(_ command: String, stdin: Data?, timeout: Duration?) async throws -> ExecResult {
        endpoint.commandLog?(host, command)
        let cancel = CancelFlag()
        let endpoint = self.endpoint
        let result = try await withTaskCancellationHandler {
            try await thread.run { connection in
                try connection.exec(command, script: innerScript(command), stdin: stdin, timeout: timeout, cancel: cancel)
            }
        } onCancel: {
            cancel.set()
        }
        if let problem = sudoProblem(result, endpoint: endpoint) { throw problem }
        return result
    }

    public func upload(_ bytes: Data, to path: String, mode: UInt32, owner: String?, group: String?) async throws {
        endpoint.commandLog?(host, uploadSummary(path, bytes.count, mode, owner, group))
        let cancel = CancelFlag()
        try await withTaskCancellationHandler {
            try await thread.run { connection in
                try connection.upload(bytes, to: path, mode: mode, owner: owner, group: group, cancel: cancel)
            }
        } onCancel: {
            cancel.set()
        }
    }

    public func close() async {
        _ = try? await thread.run { $0.disconnect() }
        thread.stop()
        // Nothing of the connection outlives close(): the process may exit right after.
        await thread.join()
    }

    deinit { thread.stop() }
}

func uploadSummary(_ path: String, _ count: Int, _ mode: UInt32, _ owner: String?, _ group: String?) -> String {
    let who = owner.map { $0 + (group.map { ":\($0)" } ?? "") } ?? group.map { ":\($0)" } ?? ""
    return "upload \(path) (\(count) bytes, mode \(String(mode, radix: 8))\(who.isEmpty ? "" : ", \(who)"))"
}

/// A dedicated thread that owns one LibSSH2Connection and runs submitted work on it in order;
/// between jobs it sends keepalives.
final class SessionThread: @unchecked Sendable {
    private let condition = NSCondition()
    private let ended = DispatchSemaphore(value: 0)
    private var jobs: [(LibSSH2Connection) -> Void] = []
    private var stopping = false
    private let connection: LibSSH2Connection

    init(connection: LibSSH2Connection) {
        self.connection = connection
        let thread = Thread { [self] in loop() }
        thread.name = "pgha-ssh-\(connection.host)"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Runs `body` on the connection's thread and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable (LibSSH2Connection) throws -> T) async throws -> T {
        let host = connection.host
        return try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            guard !stopping else {
                continuation.resume(throwing: TransportError(host: host, kind: .closed, "the connection was closed; open a new transport"))
                return
            }
            jobs.append { connection in continuation.resume(with: Result { try body(connection) }) }
            condition.signal()
        }
    }

    /// Lets queued work finish, then disconnects and ends the thread.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        let interval = TimeInterval(max(1, connection.endpoint.keepaliveInterval))
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping {
                if !condition.wait(until: Date(timeIntervalSinceNow: interval)) && jobs.isEmpty && !stopping {
                    condition.unlock()
                    connection.idle()
                    condition.lock()
                }
            }
            if jobs.isEmpty {
                condition.unlock()
                break
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job(connection)
        }
        connection.disconnect()
        ended.signal()
    }

    /// Until the thread has ended (after stop()), at most 10 s; any number of callers.
    func join() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async { [ended] in
                if ended.wait(timeout: .now() + 10) == .success { ended.signal() }
                continuation.resume()
            }
        }
    }
}
