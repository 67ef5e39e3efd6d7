import Foundation
import PghaRuntime
import PghaShell
import PghaSpec
import PghaTransport

/// A transport seen as the runtime's HostConnection. Counts round trips, so plans and the
/// benchmark can say how many each host cost.
public struct TransportConnection: HostConnection {
    let transport: any Transport
    let counter: RoundTrips
    /// Redacted from what commands print on stderr: that text ends up in errors and reports.
    let secrets: [String]
    /// An apply's run id: each command records its process group (RunCommands), so an
    /// interruption can stop what still runs.
    let run: String?
    public var name: String { transport.host }

    public init(transport: any Transport, counter: RoundTrips, secrets: [String], run: String? = nil) {
        self.transport = transport
        self.counter = counter
        self.secrets = secrets.filter { !$0.isEmpty }
        self.run = run
    }

    public func run(_ command: Shell, stdin: Data?) async throws -> CommandResult {
        try await run(command, stdin: stdin, timeLimit: .seconds(600))
    }

    public func run(_ command: Shell, stdin: Data?, timeLimit: Duration) async throws -> CommandResult {
        counter.add(name)
        let text = run.map { RunCommands.recording($0).text + command.text } ?? command.text
        let result = try await transport.exec(text, stdin: stdin, timeout: timeLimit)
        return CommandResult(stdout: result.stdoutText, stderr: redact(result.stderrText), status: result.exitStatus, signal: result.exitSignal)
    }

    func redact(_ text: String) -> String {
        secrets.reduce(text) { $0.replacingOccurrences(of: $1, with: "(sensitive)") }
    }

    public func upload(_ bytes: Data, to path: String, mode: UInt32, owner: String, group: String) async throws {
        counter.add(name)
        try await transport.upload(bytes, to: path, mode: mode, owner: owner, group: group)
    }
}

/// Commands (and uploads) sent per host.
public final class RoundTrips: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    public init() {}
    public func add(_ host: String) { lock.lock(); counts[host, default: 0] += 1; lock.unlock() }
    public var perHost: [String: Int] { lock.lock(); defer { lock.unlock() }; return counts }
}

/// Where a session's -v lines go (the CLI: stderr).
public typealias SessionLog = @Sendable (String) -> Void

/// One connection per host, opened in parallel; every failure is reported (SessionFailure), then
/// the run stops. With a `log`, every command is logged by the transport with the secrets redacted.
public func connect(_ spec: ClusterSpec, _ inventory: Inventory, log: SessionLog?, secrets: [String],
                    counter: RoundTrips, run: String? = nil) async throws -> [String: any HostConnection] {
    let results = await connectEach(spec, inventory, log: log, secrets: secrets, counter: counter, run: run)
    var problems: [String] = []
    var connections: [String: any HostConnection] = [:]
    for (name, result) in results {
        switch result {
        case .success(let connection): connections[name] = connection
        case .failure(let error): problems.append("error: \(error)")
        }
    }
    if !problems.isEmpty {
        await closeAll(connections)
        throw SessionFailure(problems.sorted())
    }
    return connections
}

/// A connection to every node the inventory lists, in parallel, each either open or the error
/// that stopped it (`pgha status` reports an unreachable node instead of failing).
public func connectEach(_ spec: ClusterSpec, _ inventory: Inventory, log: SessionLog?, secrets: [String],
                        counter: RoundTrips, run: String? = nil) async -> [String: Result<any HostConnection, Error>] {
    let commandLog = log.map { log in CommandLog(secrets: secrets) { host, line in log("\(host)$ \(line)") } }
    return await withTaskGroup(of: (String, Result<any HostConnection, Error>).self) { group in
        for node in spec.nodes {
            guard let host = inventory.hosts[node.name] else { continue }
            group.addTask {
                do {
                    let passphrase = try host.keyPassphrase?.resolve()
                    let endpoint = HostEndpoint(name: host.name, address: host.address, port: host.port, user: host.user,
                                                keyFile: host.keyFile, keyPassphrase: passphrase, knownHostsFile: host.knownHosts,
                                                hostKeyPolicy: host.hostKeyPolicy == .strict ? .strict : .acceptNew,
                                                useSudo: host.sudo, sshConfig: host.sshConfig, connectTimeout: host.connectTimeout,
                                                commandLog: commandLog)
                    let kind = TransportKind(rawValue: host.transport.rawValue) ?? .libssh2
                    let transport = try await makeTransport(kind, endpoint: endpoint)
                    return (node.name, .success(TransportConnection(transport: transport, counter: counter, secrets: secrets, run: run)))
                } catch {
                    return (node.name, .failure(error))
                }
            }
        }
        var results: [String: Result<any HostConnection, Error>] = [:]
        for await (name, result) in group { results[name] = result }
        return results
    }
}

public func closeAll(_ connections: [String: any HostConnection]) async {
    for connection in connections.values { await (connection as? TransportConnection)?.transport.close() }
}
