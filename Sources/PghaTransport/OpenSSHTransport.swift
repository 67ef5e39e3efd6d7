import Foundation

/// The OpenSSH client as a transport: one ControlMaster connection per host, every command a
/// session multiplexed over it. For ~/.ssh/config, ProxyJump, certificates and RSA keys.
public final class OpenSSHTransport: Transport, @unchecked Sendable {
    public let host: String
    let endpoint: HostEndpoint
    let controlDirectory: String

    init(endpoint: HostEndpoint, controlDirectory: String) {
        self.host = endpoint.name
        self.endpoint = endpoint
        self.controlDirectory = controlDirectory
    }

    var controlPath: String { "\(controlDirectory)/master" }

    func options(master: Bool) -> [String] {
        var options = [
            "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=\(endpoint.connectTimeout)",
            "-o", "UserKnownHostsFile=\(endpoint.knownHostsFile)",
            "-o", "StrictHostKeyChecking=\(endpoint.hostKeyPolicy == .strict ? "yes" : "accept-new")",
            "-o", "ServerAliveInterval=15",
            "-o", "ControlPath=\(controlPath)",
            "-o", master ? "ControlMaster=yes" : "ControlMaster=no",
            "-p", String(endpoint.port),
            "-l", endpoint.user,
        ]
        if let config = endpoint.sshConfig { options = ["-F", config] + options }
        if let key = endpoint.keyFile { options += ["-i", key, "-o", "IdentitiesOnly=yes"] }
        return options
    }

    /// Opens the master connection (authenticates, verifies the host key) and keeps it.
    public static func connect(_ endpoint: HostEndpoint) async throws -> OpenSSHTransport {
        let directory = NSTemporaryDirectory() + "pgha-ssh-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let transport = OpenSSHTransport(endpoint: endpoint, controlDirectory: directory)
        let result = try await ProcessRunner.run("/usr/bin/ssh", transport.options(master: true) + ["-o", "ControlPersist=yes", "-f", "-N", endpoint.address],
                                                 stdin: nil, timeout: .seconds(endpoint.connectTimeout + 5))
        guard result.status == 0 else {
            try? FileManager.default.removeItem(atPath: directory)
            throw TransportError(host: endpoint.name, explain(String(decoding: result.stderr, as: UTF8.self), endpoint))
        }
        return transport
    }

    static func explain(_ stderr: String, _ endpoint: HostEndpoint) -> String {
        let text = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") || text.contains("Host key verification failed") {
            let line = text.split(separator: "\n").first { $0.contains("Offending") }.map { " (\($0.trimmingCharacters(in: .whitespaces)))" } ?? ""
            return "the host key of \(endpoint.address) is not the one in \(endpoint.knownHostsFile) or is unknown\(line); verify the host, then fix that file (or use host_key_policy: accept-new for a new host)"
        }
        if text.contains("Permission denied") {
            return "authentication as \(endpoint.user) failed (\(text.split(separator: "\n").last ?? "")); check the key and authorized_keys"
        }
        return "cannot connect to \(endpoint.address):\(endpoint.port): \(text)"
    }

    public func exec(_ command: String, stdin: Data?, timeout: Duration?) async throws -> ExecResult {
        let result = try await ProcessRunner.run("/usr/bin/ssh", options(master: false) + [endpoint.address, wrapRemote(command, sudo: endpoint.useSudo)],
                                                 stdin: stdin, timeout: timeout)
        if result.timedOut {
            throw TransportError(host: host, "`\(command.prefix(80))` did not finish within \(timeout.map { "\($0)" } ?? "?") and was stopped")
        }
        let stderr = String(decoding: result.stderr, as: UTF8.self)
        if result.status == 255 && (stderr.contains("Control socket") || stderr.contains("mux_client") || stderr.contains("Connection closed")) {
            throw TransportError(host: host, "the SSH connection was lost: \(stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        if endpoint.useSudo, result.status == 1, stderr.contains("sudo: a password is required") {
            throw TransportError(host: host, "sudo wants a password for \(endpoint.user); allow NOPASSWD for it or connect as root")
        }
        return ExecResult(stdout: result.stdout, stderr: result.stderr, exitStatus: result.status, exitSignal: nil)
    }

    public func upload(_ bytes: Data, to path: String, mode: UInt32, owner: String?, group: String?) async throws {
        let result = try await exec(uploadCommand(to: path, mode: mode, owner: owner, group: group), stdin: bytes, timeout: .seconds(120))
        guard result.succeeded else {
            throw TransportError(host: host, "upload to \(path) failed: \(result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    public func close() async {
        _ = try? await ProcessRunner.run("/usr/bin/ssh", options(master: false) + ["-O", "exit", endpoint.address], stdin: nil, timeout: .seconds(5))
        try? FileManager.default.removeItem(atPath: controlDirectory)
    }
}
