import Foundation

/// The machine pgha runs on, as a host: commands through `/bin/bash -c` (under `sudo -n` when
/// asked and not root), uploads written directly (temporary file, fchmod/fchown, rename).
public struct LocalTransport: Transport {
    public let host: String
    let endpoint: HostEndpoint

    public init(host: String, useSudo: Bool = false) {
        self.init(endpoint: HostEndpoint(name: host, address: "localhost", user: useSudo && getuid() != 0 ? "local" : "root",
                                         knownHostsFile: "/dev/null", useSudo: useSudo && getuid() != 0))
    }

    public init(endpoint: HostEndpoint) {
        var endpoint = endpoint
        // sudo only matters when pgha itself is not root.
        endpoint.useSudo = endpoint.useSudo && getuid() != 0
        if endpoint.useSudo && endpoint.user == "root" { endpoint.user = ProcessInfo.processInfo.environment["USER"] ?? "local" }
        self.host = endpoint.name
        self.endpoint = endpoint
    }

    public func exec(_ command: String, stdin: Data?, timeout: Duration?) async throws -> ExecResult {
        endpoint.commandLog?(host, command)
        return try await run(command, script: innerScript(command), stdin: stdin, timeout: timeout)
    }

    private func run(_ command: String, script: String, stdin: Data?, timeout: Duration?) async throws -> ExecResult {
        var arguments: [String] = []
        if endpoint.sudo { arguments += ["/usr/bin/sudo", "-n", "--"] }
        if let timeout { arguments += ["/usr/bin/timeout", "-s", "KILL", String(format: "%.3f", max(0.001, timeout.seconds))] }
        arguments += ["/bin/bash", "-c", script]
        // A host's commands see what an SSH login would give them, nothing of pgha's own
        // environment: secrets are referenced there ({env: NAME}), and a server started through
        // this transport would keep them in its environment for ever.
        let mine = ProcessInfo.processInfo.environment
        var environment = ["LC_ALL": "C", "LANG": "C",
                           "PATH": mine["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        for name in ["HOME", "USER", "LOGNAME", "SHELL"] { environment[name] = mine[name] }
        let started = ContinuousClock.now
        let output = try await ProcessRunner.run(arguments[0], Array(arguments.dropFirst()), stdin: stdin,
                                                 timeout: timeout.map { $0 + .seconds(5) }, environment: environment)
        let result = ExecResult(stdout: output.stdout, stderr: output.stderr, exitStatus: output.status,
                                exitSignal: output.signal.map(signalName))
        if let timeout, output.timedOut || (result.exitSignal == "KILL" && ContinuousClock.now - started >= timeout) {
            throw timeoutError(endpoint, command, timeout)
        }
        if let problem = sudoProblem(result, endpoint: endpoint) { throw problem }
        return result
    }

    public func upload(_ bytes: Data, to path: String, mode: UInt32, owner: String?, group: String?) async throws {
        endpoint.commandLog?(host, uploadSummary(path, bytes.count, mode, owner, group))
        if endpoint.sudo {
            let result = try await run("upload \(path)", script: innerScript(uploadScript(to: path, mode: mode, owner: owner, group: group)),
                                       stdin: bytes, timeout: nil)
            guard result.succeeded else {
                throw TransportError(host: host, kind: .upload, "upload to \(path) failed: \(result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            return
        }
        do {
            try Self.write(bytes, to: path, mode: mode, owner: owner, group: group)
        } catch let failure as POSIXFailure {
            throw TransportError(host: host, kind: .upload, "upload to \(path) failed: \(failure)")
        }
    }

    /// Temporary file created exclusively in the target's folder, exact mode and owner set on
    /// the open descriptor, flushed, then renamed over the target.
    static func write(_ bytes: Data, to path: String, mode: UInt32, owner: String?, group: String?) throws {
        var uid: uid_t = uid_t.max, gid: gid_t = gid_t.max   // -1: leave unchanged
        if let owner {
            guard let entry = getpwnam(owner) else { throw POSIXFailure(call: "no such user", path: owner, code: ENOENT) }
            uid = entry.pointee.pw_uid   // like chown(1): the group stays unless given
        }
        if let group {
            guard let entry = getgrnam(group) else { throw POSIXFailure(call: "no such group", path: group, code: ENOENT) }
            gid = entry.pointee.gr_gid
        }
        let temporary = temporaryName(for: path)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw POSIXFailure(call: "create", path: temporary) }
        var ok = false
        defer {
            if !ok { unlink(temporary) }
        }
        do {
            defer { Glibc.close(fd) }
            try bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { throw POSIXFailure(call: "write", path: temporary) }
                }
            }
            if uid != uid_t.max || gid != gid_t.max {
                guard fchown(fd, uid, gid) == 0 else { throw POSIXFailure(call: "chown", path: temporary) }
            }
            guard fchmod(fd, mode_t(mode)) == 0 else { throw POSIXFailure(call: "chmod", path: temporary) }
            guard fsync(fd) == 0 else { throw POSIXFailure(call: "fsync", path: temporary) }
        }
        guard rename(temporary, path) == 0 else { throw POSIXFailure(call: "rename", path: path) }
        ok = true
    }

    public func close() async {}
}
