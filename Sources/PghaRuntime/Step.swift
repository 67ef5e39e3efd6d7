import Foundation
import PghaRender
import PghaShell
import PghaSpec

/// What the runtime needs of a connection to a host. PghaTransport's transports provide it;
/// keeping it this small lets steps be tested against any of them.
public protocol HostConnection: Sendable {
    var name: String { get }
    /// Runs shell text built by PghaShell (values quoted by its one quoting function), within
    /// the connection's usual time limit (600 s).
    func run(_ command: Shell, stdin: Data?) async throws -> CommandResult
    /// The same within `timeLimit`: long work (a clone, initdb of a big cluster) has its own.
    func run(_ command: Shell, stdin: Data?, timeLimit: Duration) async throws -> CommandResult
    func upload(_ bytes: Data, to path: String, mode: UInt32, owner: String, group: String) async throws
}

extension HostConnection {
    /// Connections without time limits of their own (tests) run it as any other command.
    public func run(_ command: Shell, stdin: Data?, timeLimit: Duration) async throws -> CommandResult {
        try await run(command, stdin: stdin)
    }
}

extension HostConnection {
    /// Runs one program (argv, run-as user, stdin).
    public func run(_ command: Command) async throws -> CommandResult {
        try await run(command.shell, stdin: command.stdin)
    }
}

public struct CommandResult: Sendable {
    public var stdout: String
    public var stderr: String
    public var status: Int32
    public var signal: String?
    public init(stdout: String, stderr: String, status: Int32, signal: String?) {
        self.stdout = stdout
        self.stderr = stderr
        self.status = status
        self.signal = signal
    }
    public var succeeded: Bool { status == 0 && signal == nil }
}

/// A command failed on a host: which step, which command, how, and what it said.
public struct StepFailure: Error, CustomStringConvertible, Sendable {
    public var host: String
    public var step: String
    public var message: String
    public init(host: String, step: String, message: String) {
        self.host = host
        self.step = step
        self.message = message
    }
    public var description: String { "\(host): \(step): \(message)" }
}

/// One idempotent step: read facts → pure decision → commands. After its commands ran, the
/// executor reads its facts again and asks `decide` once more: anything but nil is
/// "did not converge". The steps of a bootstrap are listed, ordered and checked by StepCatalog
/// (docs/architecture.md, "Adding a step").
public protocol Step: Sendable {
    var host: String { get }
    var name: String { get }
    /// What the step makes true, for `pgha plan --offline` (no host contacted).
    var summary: String { get }
    /// More lines under the summary in `plan --offline`.
    var details: [String] { get }
    /// Steps (host/name) that must have finished first, on this host or another. StepCatalog
    /// sets them from the references its builder declares, and refuses one that names no step.
    var dependsOn: [String] { get set }
    func probe(_ script: inout FactScript)
    func decide(_ facts: Facts) throws -> Change?
    func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws
}

/// The part of a run a step belongs to, for the time per phase at the end of an apply.
public enum StepPhase: String, CaseIterable, Codable, Sendable {
    case os = "OS and packages"
    case postgresql = "PostgreSQL and replication"
    case pacemaker = "Pacemaker"
    case pgpool = "pgpool-II"
    case dayTwo = "day two (rejoin, role)"
    case verify = "verify"

    public init(stepName: String) {
        switch stepName {
        case "initdb", "postgresql-conf", "pg-hba", "start-primary", "replication-user", "basebackup", "verify-streaming",
             "stop-standby", "stop-primary": self = .postgresql
        case "hacluster-password", "pcsd", "corosync-default", "pgsql-agent-fix", "resource-agents", "pcs-auth", "cluster-setup", "first-cib",
             "cluster-start", "cluster-nodes", "cib-push": self = .pacemaker
        case "rewind-grants", "replication-password", "rejoin": self = .dayTwo
        case "verify", "pgpool-verify": self = .verify
        case "pgpool-users", "pgpool-service", "pgpool-recovery-extension": self = .pgpool
        case "pgpool-rejoin": self = .dayTwo
        case _ where PgpoolCatalog.fileSteps.contains(where: { $0.name == stepName }): self = .pgpool
        default: self = .os
        }
    }
}

extension Step {
    public var id: String { "\(host)/\(name)" }
    public var details: [String] { [] }
    public var phase: StepPhase { StepPhase(stepName: name) }

    /// A StepFailure of this step.
    public func fail(_ message: String) -> StepFailure { StepFailure(host: host, step: name, message: message) }

    /// Runs a command and turns a failure into a StepFailure naming the command.
    public func run(_ command: Shell, stdin: Data? = nil, on connection: HostConnection,
                    display: String? = nil, timeLimit: Duration? = nil) async throws -> CommandResult {
        let result: CommandResult
        if let timeLimit { result = try await connection.run(command, stdin: stdin, timeLimit: timeLimit) }
        else { result = try await connection.run(command, stdin: stdin) }
        guard result.succeeded else {
            let how = result.signal.map { "was killed by SIG\($0)" } ?? "exited \(result.status)"
            let said = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw StepFailure(host: host, step: name,
                              message: "`\(display ?? command.text)` \(how)\(said.isEmpty ? "" : ": \(said)")")
        }
        return result
    }

    /// Runs one program (argv, run-as user, stdin), as above.
    public func run(_ command: Command, on connection: HostConnection, display: String? = nil,
                    timeLimit: Duration? = nil) async throws -> CommandResult {
        try await run(command.shell, stdin: command.stdin, on: connection, display: display, timeLimit: timeLimit)
    }
}

/// Writes a rendered file when the host's copy differs (content, mode or owner).
public struct FileStep: Step {
    public var host: String
    public var name: String
    public var summary: String
    public var dependsOn: [String]
    public var file: RenderedFile

    public init(host: String, name: String, summary: String? = nil, dependsOn: [String] = [], file: RenderedFile) {
        self.host = host
        self.name = name
        self.summary = summary ?? "write \(file.path)"
        self.dependsOn = dependsOn
        self.file = file
    }

    public func probe(_ script: inout FactScript) { script.file(file.path, sensitive: file.sensitive) }

    public func decide(_ facts: Facts) throws -> Change? {
        guard let fact = facts.file(file.path, sensitive: file.sensitive) else {
            throw StepFailure(host: host, step: name, message: "could not read the state of \(file.path)")
        }
        switch fact.notARegularFile {
        case "symlink"?:
            throw fail("\(file.path) is a symbolic link; pgha never writes through one as root (its owner chose where it points): remove it, then re-run")
        case _?:
            throw fail("\(file.path) is not a regular file; remove or rename what is there, then re-run")
        case nil:
            return FileDecision.decide(file, existing: fact)
        }
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        let existing = facts.file(file.path, sensitive: file.sensitive) ?? .absent
        let content = file.sensitive ? file.content : FileDecision.desiredContent(file, existing: existing)
        // A managed block keeps the host's own mode and owner of the file around it.
        let (mode, owner, group) = file.kind == .managedBlock && existing.exists
            ? (UInt32(existing.mode ?? "644", radix: 8) ?? 0o644, existing.owner ?? "root", existing.group ?? "root")
            : (file.mode, file.owner, file.group)
        // Written without following a link anywhere on the path: .pgpass, postgresql.conf and
        // pg_hba.conf live in directories the PostgreSQL user owns (SafePaths).
        _ = try await run(SafePaths.write(file.path, Data(content.utf8), mode: mode, owner: owner, group: group), on: connection,
                          display: "write \(file.path) (\(String(mode, radix: 8)) \(owner):\(group), content on stdin)")
    }
}
