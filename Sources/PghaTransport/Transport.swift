import Foundation

/// What a command did on a host: both streams separately, the exit status, and the signal
/// that killed it if one did (a killed command reports exit 0 over SSH: always check both).
public struct ExecResult: Sendable {
    public var stdout: Data
    public var stderr: Data
    public var exitStatus: Int32
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
}

/// One connection to one host. Secrets travel on stdin only, never in a command line.
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
}

public enum TransportKind: String, Sendable, CaseIterable { case libssh2, openssh, local }

public enum HostKeyPolicy: String, Sendable { case strict, acceptNew = "accept-new" }

/// How to reach a host.
public struct HostEndpoint: Sendable {
    public var name: String
    public var address: String
    public var port: Int
    public var user: String
    public var keyFile: String?
    public var keyPassphrase: String?
    public var knownHostsFile: String
    public var hostKeyPolicy: HostKeyPolicy
    public var useSudo: Bool
    public var sshConfig: String?
    public var connectTimeout: Int

    public init(name: String, address: String, port: Int = 22, user: String = "root", keyFile: String? = nil,
                keyPassphrase: String? = nil, knownHostsFile: String, hostKeyPolicy: HostKeyPolicy = .strict,
                useSudo: Bool = false, sshConfig: String? = nil, connectTimeout: Int = 10) {
        self.name = name
        self.address = address
        self.port = port
        self.user = user
        self.keyFile = keyFile
        self.keyPassphrase = keyPassphrase
        self.knownHostsFile = knownHostsFile
        self.hostKeyPolicy = hostKeyPolicy
        self.useSudo = useSudo
        self.sshConfig = sshConfig
        self.connectTimeout = connectTimeout
    }
}

/// Errors that say what happened, where, and what to do about it.
public struct TransportError: Error, CustomStringConvertible, Sendable {
    public var host: String
    public var message: String
    public init(host: String, _ message: String) {
        self.host = host
        self.message = message
    }
    public var description: String { "\(host): \(message)" }
}

/// Every remote command runs with the same environment, so outputs parse the same everywhere;
/// with sudo it runs as root without a password prompt (sudo -n fails instead of asking).
func wrapRemote(_ command: String, sudo: Bool) -> String {
    let inner = "export LC_ALL=C LANG=C; " + command
    let quoted = "'" + inner.replacingOccurrences(of: "'", with: "'\\''") + "'"
    return sudo ? "sudo -n -- /bin/bash -c \(quoted)" : "/bin/bash -c \(quoted)"
}

func shellQuoted(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// The upload recipe shared by the shell-based transports: stdin to a temporary file next to
/// the target, then mode, owner and an atomic rename.
func uploadCommand(to path: String, mode: UInt32, owner: String?, group: String?) -> String {
    let temporary = path + ".pgha-\(UInt32.random(in: 0...UInt32.max))"
    var steps = ["umask 077", "cat > \(shellQuoted(temporary))", "chmod \(String(mode, radix: 8)) \(shellQuoted(temporary))"]
    if let owner { steps.append("chown \(shellQuoted(owner + (group.map { ":\($0)" } ?? ""))) \(shellQuoted(temporary))") }
    else if let group { steps.append("chgrp \(shellQuoted(group)) \(shellQuoted(temporary))") }
    steps.append("mv -f \(shellQuoted(temporary)) \(shellQuoted(path))")
    return "{ " + steps.joined(separator: " && ") + "; } || { rc=$?; rm -f \(shellQuoted(temporary)); exit $rc; }"
}

public func makeTransport(_ kind: TransportKind, endpoint: HostEndpoint) async throws -> any Transport {
    switch kind {
    case .openssh: return try await OpenSSHTransport.connect(endpoint)
    case .local: return LocalTransport(host: endpoint.name, useSudo: endpoint.useSudo)
    case .libssh2:
        throw TransportError(host: endpoint.name, "the libssh2 transport is not built yet; set transport: openssh in the inventory")
    }
}
