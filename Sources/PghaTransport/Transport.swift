import Foundation

/// What a command did on a host: both streams separately, the exit status, and the signal
/// that killed it if one did (a killed command reports exit 0 over SSH: always check both).
public struct ExecResult: Sendable {
    public var stdout: Data
    public var stderr: Data
    public var exitStatus: Int32
    /// The signal's name without "SIG" ("KILL", "TERM", …) when the command was killed by one.
    public var exitSignal: String?

    public init(stdout: Data, stderr: Data, exitStatus: Int32, exitSignal: String?) {
        self.stdout = stdout
        self.stderr = stderr
        self.exitStatus = exitStatus
        self.exitSignal = exitSignal
    }

    public var succeeded: Bool { exitStatus == 0 && exitSignal == nil }
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    /// "exit 3" or "killed by signal KILL", for messages.
    public var outcome: String { exitSignal.map { "killed by signal \($0)" } ?? "exit \(exitStatus)" }
}

/// One connection to one host. Secrets travel on stdin only, never in a command line.
///
/// Every command runs under `/bin/bash -c` with `LC_ALL=C LANG=C`, and under `sudo -n` when the
/// endpoint says `useSudo` and the user is not root. A `timeout` kills the remote command (its
/// whole process group) and throws a `TransportError` of kind `.timeout`.
public protocol Transport: Sendable {
    /// The host's name for messages, e.g. "node1".
    var host: String { get }
    func exec(_ command: String, stdin: Data?, timeout: Duration?) async throws -> ExecResult
    /// Writes `bytes` to `path` atomically (a temporary name in the same folder, then mv -f)
    /// with exactly `mode` and, when given, `owner`/`group`.
    func upload(_ bytes: Data, to path: String, mode: UInt32, owner: String?, group: String?) async throws
    func close() async
}

extension Transport {
    public func exec(_ command: String, stdin: Data? = nil) async throws -> ExecResult {
        try await exec(command, stdin: stdin, timeout: nil)
    }

    public func exec(_ command: String, timeout: Duration) async throws -> ExecResult {
        try await exec(command, stdin: nil, timeout: timeout)
    }

    /// Runs a command that must succeed; otherwise throws with its stderr.
    @discardableResult
    public func check(_ command: String, stdin: Data? = nil, timeout: Duration? = nil) async throws -> String {
        let result = try await exec(command, stdin: stdin, timeout: timeout)
        guard result.succeeded else {
            throw TransportError(host: host, kind: .commandFailed,
                                 "`\(abbreviated(command))` failed (\(result.outcome)): \(result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return result.stdoutText
    }

    public func upload(_ bytes: Data, to path: String, mode: UInt32) async throws {
        try await upload(bytes, to: path, mode: mode, owner: nil, group: nil)
    }
}

public enum TransportKind: String, Sendable, CaseIterable { case libssh2, openssh, local }

public enum HostKeyPolicy: String, Sendable {
    /// The host's key must already be in the known_hosts file.
    case strict
    /// An unknown host's key is recorded in the known_hosts file; a changed key is still an error.
    case acceptNew = "accept-new"
}

/// Where `-v` logging of commands goes: (host, command line or upload summary). Known secret
/// values are replaced by `***` before the sink sees them (commands carry no secrets by
/// construction; this is the second fence).
public struct CommandLog: Sendable {
    public var secrets: [String]
    public var sink: @Sendable (_ host: String, _ line: String) -> Void

    public init(secrets: [String] = [], _ sink: @escaping @Sendable (_ host: String, _ line: String) -> Void) {
        self.secrets = secrets
        self.sink = sink
    }

    public func callAsFunction(_ host: String, _ line: String) { sink(host, redact(line, secrets: secrets)) }
}

/// Replaces every occurrence of each secret (of 3 characters or more) by `***`.
public func redact(_ text: String, secrets: [String]) -> String {
    var text = text
    for secret in secrets.sorted(by: { $0.count > $1.count }) where secret.count >= 3 {
        text = text.replacingOccurrences(of: secret, with: "***")
    }
    return text
}

/// How to reach a host.
public struct HostEndpoint: Sendable {
    /// Display name for messages, e.g. "node1".
    public var name: String
    /// Host name or IP address to connect to; host keys are recorded and looked up under it
    /// (`[address]:port` when the port is not 22).
    public var address: String
    public var port: Int
    public var user: String
    /// Private key file (ed25519 or ECDSA for libssh2; any type for OpenSSH). Without one, the
    /// ssh-agent is asked, then ~/.ssh/id_ed25519 and ~/.ssh/id_ecdsa are tried.
    public var keyFile: String?
    /// The key's passphrase, already resolved from its env/file reference by the caller.
    public var keyPassphrase: String?
    /// The ssh-agent socket; nil means $SSH_AUTH_SOCK.
    public var agentSocket: String?
    public var knownHostsFile: String
    public var hostKeyPolicy: HostKeyPolicy
    /// Run commands as root through `sudo -n` (ignored when `user` is root).
    public var useSudo: Bool
    /// OpenSSH transport only: an ssh_config file passed with -F.
    public var sshConfig: String?
    /// Seconds to establish TCP + SSH + authentication.
    public var connectTimeout: Int
    /// Seconds between keepalives while a connection waits; 3 unanswered in a row and the
    /// connection counts as lost. 0 turns keepalives off.
    public var keepaliveInterval: Int
    /// `-v`: every command (and upload) is reported here before it runs.
    public var commandLog: CommandLog?

    public init(name: String, address: String, port: Int = 22, user: String = "root", keyFile: String? = nil,
                keyPassphrase: String? = nil, agentSocket: String? = nil,
                knownHostsFile: String = "~/.ssh/known_hosts", hostKeyPolicy: HostKeyPolicy = .strict,
                useSudo: Bool = false, sshConfig: String? = nil, connectTimeout: Int = 10,
                keepaliveInterval: Int = 15, commandLog: CommandLog? = nil) {
        self.name = name
        self.address = address
        self.port = port
        self.user = user
        self.keyFile = keyFile
        self.keyPassphrase = keyPassphrase
        self.agentSocket = agentSocket
        self.knownHostsFile = knownHostsFile
        self.hostKeyPolicy = hostKeyPolicy
        self.useSudo = useSudo
        self.sshConfig = sshConfig
        self.connectTimeout = connectTimeout
        self.keepaliveInterval = keepaliveInterval
        self.commandLog = commandLog
    }

    /// sudo is only used for a user that is not root.
    var sudo: Bool { useSudo && user != "root" }
    /// `address:port` or `[address]:port` for messages.
    var display: String { address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)" }
    var knownHostsPath: String { expandTilde(knownHostsFile) }
    var keyPath: String? { keyFile.map(expandTilde) }
    var agentPath: String? {
        if let agentSocket { return expandTilde(agentSocket) }
        return ProcessInfo.processInfo.environment["SSH_AUTH_SOCK"].flatMap { $0.isEmpty ? nil : $0 }
    }
}

func expandTilde(_ path: String) -> String {
    guard path == "~" || path.hasPrefix("~/") else { return path }
    let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
    return home + path.dropFirst()
}

/// Errors that say what happened, where, and what to do about it.
public struct TransportError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        /// DNS, TCP or SSH handshake failure, or the connect timeout.
        case connect
        /// The host's key is not in the known_hosts file (and the policy is strict).
        case hostKeyUnknown
        /// The host presented a key that differs from the one recorded: possible attack.
        case hostKeyChanged
        /// The server refused every key (wrong user, key not authorised, RSA/SHA-1, passphrase).
        case authentication
        /// A command ran longer than its timeout and was killed.
        case timeout
        /// sudo -n wanted a password (or is missing).
        case sudo
        /// The connection broke while in use.
        case connectionLost
        /// An upload could not be written.
        case upload
        /// `check` saw a command fail.
        case commandFailed
        /// The transport was used after close().
        case closed
        case other
    }

    public var host: String
    public var kind: Kind
    public var message: String

    public init(host: String, kind: Kind = .other, _ message: String) {
        self.host = host
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(host): \(message)" }
}

/// The first line of a command, shortened, for messages.
func abbreviated(_ command: String, limit: Int = 80) -> String {
    let firstLine = command.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? command
    let more = firstLine.count < command.count
    if firstLine.count > limit { return String(firstLine.prefix(limit)) + "…" }
    return more ? firstLine + " …" : firstLine
}

/// "1s", "1.5s", "250ms".
func describe(_ duration: Duration) -> String {
    let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
    if seconds == seconds.rounded() { return "\(Int(seconds))s" }
    return String(format: "%.1fs", seconds)
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// A write to a socket or pipe whose reader went away must be an error (EPIPE), not the end
/// of the process: libssh2 1.10 sends without MSG_NOSIGNAL, and a command that exits without
/// reading its stdin closes the pipe under us.
func ignoreSIGPIPE() {
    _ = sigpipeIgnored
}

private let sigpipeIgnored: Bool = {
    signal(SIGPIPE, SIG_IGN)
    return true
}()

/// Connects (and authenticates, and verifies the host key) with the chosen transport.
public func makeTransport(_ kind: TransportKind, endpoint: HostEndpoint) async throws -> any Transport {
    ignoreSIGPIPE()
    switch kind {
    case .libssh2: return try await LibSSH2Transport.connect(endpoint)
    case .openssh: return try await OpenSSHTransport.connect(endpoint)
    case .local: return LocalTransport(endpoint: endpoint)
    }
}
