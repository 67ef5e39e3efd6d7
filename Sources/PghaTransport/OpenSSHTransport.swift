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
    var askpassPath: String { "\(controlDirectory)/askpass" }

    /// Options for every ssh invocation. Commands use ControlMaster=auto so that a master that
    /// went away (ControlPersist ran out while idle) is simply started again.
    func options(master: Bool) -> [String] {
        var options: [String] = []
        if let config = endpoint.sshConfig { options += ["-F", expandTilde(config)] }
        options += [
            // A passphrase can only come from the askpass helper, which BatchMode would refuse.
            "-o", "BatchMode=\(master && endpoint.keyPassphrase != nil ? "no" : "yes")",
            "-o", "NumberOfPasswordPrompts=1",
            "-o", "PasswordAuthentication=no",
            "-o", "KbdInteractiveAuthentication=no",
            "-o", "ConnectTimeout=\(max(1, endpoint.connectTimeout))",
            "-o", "UserKnownHostsFile=\(endpoint.knownHostsPath)",
            "-o", "StrictHostKeyChecking=\(endpoint.hostKeyPolicy == .strict ? "yes" : "accept-new")",
            "-o", "ControlPath=\(controlPath)",
            "-o", master ? "ControlMaster=yes" : "ControlMaster=auto",
            "-o", "ControlPersist=300",
            "-o", "LogLevel=ERROR",
            "-p", String(endpoint.port),
            "-l", endpoint.user,
        ]
        if endpoint.keepaliveInterval > 0 {
            options += ["-o", "ServerAliveInterval=\(endpoint.keepaliveInterval)", "-o", "ServerAliveCountMax=3"]
        }
        if let agent = endpoint.agentSocket { options += ["-o", "IdentityAgent=\(expandTilde(agent))"] }
        if let key = endpoint.keyPath { options += ["-i", key, "-o", "IdentitiesOnly=yes"] }
        return options
    }

    /// The environment for ssh: the passphrase (never in argv) for the askpass helper.
    func environment(master: Bool) -> [String: String]? {
        guard master, let passphrase = endpoint.keyPassphrase else { return nil }
        var environment = ProcessInfo.processInfo.environment
        environment["SSH_ASKPASS"] = askpassPath
        environment["SSH_ASKPASS_REQUIRE"] = "force"
        environment["PGHA_KEY_PASSPHRASE"] = passphrase
        environment["DISPLAY"] = environment["DISPLAY"] ?? "pgha"
        return environment
    }

    /// Opens the master connection (authenticates, verifies the host key) and keeps it.
    public static func connect(_ endpoint: HostEndpoint) async throws -> OpenSSHTransport {
        let directory = NSTemporaryDirectory() + "pgha-ssh-\(UUID().uuidString.prefix(8))"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw TransportError(host: endpoint.name, kind: .connect, "cannot create a private folder for the ssh control socket: \(error)")
        }
        let transport = OpenSSHTransport(endpoint: endpoint, controlDirectory: directory)
        if endpoint.hostKeyPolicy == .acceptNew {
            // ssh records a new key but does not create the file's folder.
            let folder = (endpoint.knownHostsPath as NSString).deletingLastPathComponent
            if !folder.isEmpty { try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) }
        }
        if endpoint.keyPassphrase != nil {
            let script = "#!/bin/sh\nprintf '%s\\n' \"$PGHA_KEY_PASSPHRASE\"\n"
            _ = FileManager.default.createFile(atPath: transport.askpassPath, contents: Data(script.utf8), attributes: [.posixPermissions: 0o700])
        }
        let result: ProcessRunner.Output
        do {
            result = try await ProcessRunner.run("/usr/bin/ssh", transport.options(master: true) + ["-f", "-N", endpoint.address],
                                                 stdin: nil, timeout: .seconds(endpoint.connectTimeout + 5),
                                                 environment: transport.environment(master: true))
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw TransportError(host: endpoint.name, kind: .connect, "cannot run /usr/bin/ssh: \(error); install openssh-client")
        }
        try? FileManager.default.removeItem(atPath: transport.askpassPath)
        guard result.status == 0, !result.timedOut else {
            try? FileManager.default.removeItem(atPath: directory)
            if result.timedOut {
                throw TransportError(host: endpoint.name, kind: .connect, "ssh to \(endpoint.display) did not connect within \(endpoint.connectTimeout)s (connect_timeout)")
            }
            throw explain(String(decoding: result.stderr, as: UTF8.self), endpoint)
        }
        return transport
    }

    /// ssh's own messages as errors a person can act on.
    static func explain(_ stderr: String, _ endpoint: HostEndpoint) -> TransportError {
        let text = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        let field = KnownHostsFile.hostField(endpoint.address, port: endpoint.port)
        let file = endpoint.knownHostsPath
        if text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") || text.contains("has changed and you have requested strict checking") {
            // "Offending ED25519 key in /path/known_hosts:3"
            let location = lines.first { $0.hasPrefix("Offending") }.flatMap { $0.components(separatedBy: " key in ").last } ?? file
            let fingerprint = lines.first { $0.hasPrefix("SHA256:") } ?? ""
            return TransportError(host: endpoint.name, kind: .hostKeyChanged,
                                  "HOST KEY CHANGED for \(field)\(fingerprint.isEmpty ? "" : ": it now presents \(fingerprint)"), but \(location) records a different key. Someone may be intercepting the connection, or the host was reinstalled: verify the new key out of band, then remove the old entry (ssh-keygen -R '\(field)' -f \(file)) and connect again")
        }
        if text.contains("host key is known for") || text.contains("Host key verification failed") {
            return TransportError(host: endpoint.name, kind: .hostKeyUnknown,
                                  "the host key of \(field) is not in \(file); verify the fingerprint, then add it (ssh-keyscan -p \(endpoint.port) \(endpoint.address) >> \(file)) or set host_key_policy: accept-new")
        }
        if text.contains("incorrect passphrase") {
            return TransportError(host: endpoint.name, kind: .authentication, "wrong passphrase for key \(endpoint.keyPath ?? "?")")
        }
        if text.contains("Permission denied"), let keyPath = endpoint.keyPath, PrivateKeyInfo.read(keyPath).encrypted {
            return TransportError(host: endpoint.name, kind: .authentication, endpoint.keyPassphrase == nil
                ? "authentication as \(endpoint.user) failed on \(endpoint.display): key \(keyPath) is protected by a passphrase: give key_passphrase (an env or file reference) or load the key into ssh-agent"
                : "authentication as \(endpoint.user) failed on \(endpoint.display): wrong passphrase for key \(keyPath), or the server refused the key")
        }
        if text.contains("Permission denied") {
            let key = endpoint.keyPath.map { "key \($0)" } ?? "the keys offered"
            return TransportError(host: endpoint.name, kind: .authentication,
                                  "authentication as \(endpoint.user) failed on \(endpoint.display): the server refused \(key) (does the user exist, and is the public key in its authorized_keys?)")
        }
        if text.contains("Could not resolve hostname") {
            return TransportError(host: endpoint.name, kind: .connect, "cannot resolve \(endpoint.address); check the address in the inventory")
        }
        if text.contains("Connection refused") {
            return TransportError(host: endpoint.name, kind: .connect, "cannot connect to \(endpoint.display): connection refused (is sshd running and listening on port \(endpoint.port)?)")
        }
        if text.contains("timed out") {
            return TransportError(host: endpoint.name, kind: .connect, "no answer from \(endpoint.display) within \(endpoint.connectTimeout)s (connect_timeout); is the host up and the port open?")
        }
        return TransportError(host: endpoint.name, kind: .connect, "cannot connect to \(endpoint.display): \(lines.last ?? "ssh failed without a message")")
    }

    private let state = NSLock()
    private var closed = false

    public func exec(_ command: String, stdin: Data?, timeout: Duration?) async throws -> ExecResult {
        endpoint.commandLog?(host, command)
        return try await run(command, script: trailerScript(command), stdin: stdin, timeout: timeout)
    }

    private func run(_ command: String, script: String, stdin: Data?, timeout: Duration?) async throws -> ExecResult {
        let isClosed = state.withLock { closed }
        if isClosed { throw TransportError(host: host, kind: .closed, "the connection was closed; open a new transport") }
        let started = ContinuousClock.now
        let line = remoteCommandLine(script, sudo: endpoint.sudo, timeout: timeout)
        let output = try await ProcessRunner.run("/usr/bin/ssh", options(master: false) + [endpoint.address, line],
                                                 stdin: stdin, timeout: timeout.map { $0 + .seconds(5) })
        if output.timedOut, let timeout { throw timeoutError(endpoint, command, timeout) }
        guard let trailer = parseTrailer(output.stderr) else {
            // The wrapper did not finish: sudo refused, the remote timeout killed the whole
            // group, or ssh itself failed.
            let raw = ExecResult(stdout: output.stdout, stderr: output.stderr, exitStatus: output.status, exitSignal: nil)
            if let problem = sudoProblem(raw, endpoint: endpoint) { throw problem }
            if let timeout, ContinuousClock.now - started >= timeout { throw timeoutError(endpoint, command, timeout) }
            let text = raw.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
            throw TransportError(host: host, kind: .connectionLost,
                                 "`\(abbreviated(command))` did not complete on \(endpoint.display) (ssh exit \(output.status)\(text.isEmpty ? "" : ": \(text)"))")
        }
        let result = ExecResult(stdout: output.stdout, stderr: trailer.stderr, exitStatus: trailer.status, exitSignal: trailer.signal)
        if let timeout, trailer.signal == "KILL", ContinuousClock.now - started >= timeout { throw timeoutError(endpoint, command, timeout) }
        return result
    }

    public func upload(_ bytes: Data, to path: String, mode: UInt32, owner: String?, group: String?) async throws {
        endpoint.commandLog?(host, uploadSummary(path, bytes.count, mode, owner, group))
        let script = uploadScript(to: path, mode: mode, owner: owner, group: group)
        let result = try await run("upload \(path)", script: trailerScript(script), stdin: bytes, timeout: nil)
        guard result.succeeded else {
            throw TransportError(host: host, kind: .upload, "upload to \(path) failed: \(result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    public func close() async {
        state.withLock { closed = true }
        _ = try? await ProcessRunner.run("/usr/bin/ssh", options(master: false) + ["-O", "exit", endpoint.address], stdin: nil, timeout: .seconds(5))
        try? FileManager.default.removeItem(atPath: controlDirectory)
    }
}
