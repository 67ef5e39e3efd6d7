import Foundation
import PghaTransport
import XCTest

/// One real sshd on 127.0.0.1 for the whole test run (scripts/sshd-fixture: fresh host keys,
/// generated client keys, its own authorized_keys), plus two non-root users for the sudo tests
/// (pghasudo with a NOPASSWD sudoers drop-in, pghanopw without), and the fixture's ssh-agent.
/// Stopped when the test process exits.
final class SSHServer: @unchecked Sendable {
    let directory: String
    let port: Int
    /// An ssh-agent holding id_rsa and id_ecdsa (scripts/sshd-fixture).
    let agentSocket: String
    private let sudoers: String
    let sudoAvailable: Bool

    var knownHosts: String { directory + "/known_hosts" }
    func file(_ name: String) -> String { directory + "/" + name }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let script = repository + "/scripts/sshd-fixture"

    nonisolated(unsafe) private static var started: SSHServer?
    private static let lock = NSLock()
    nonisolated(unsafe) private static var startError: Error?

    /// The shared server, started on first use.
    static func shared() throws -> SSHServer {
        lock.lock()
        defer { lock.unlock() }
        if let started { return started }
        if let startError { throw startError }
        do {
            let server = try SSHServer()
            started = server
            atexit { SSHServer.started?.stop() }
            return server
        } catch {
            startError = error
            throw error
        }
    }

    private init() throws {
        directory = "/tmp/pgha-sshd-\(getpid())-\(UUID().uuidString.prefix(6).lowercased())"
        let output = try sh("\(Self.script) start \(directory)")
        guard let portField = output.split(separator: " ").first(where: { $0.hasPrefix("port=") }),
              let port = Int(portField.dropFirst(5)) else {
            throw TransportError(host: "sshd", "scripts/sshd-fixture printed no port: \(output)")
        }
        self.port = port
        try sh("install -d -m 700 \(directory)/rootonly")

        // Users for the sudo tests: created if absent (kept: idempotent), unlocked ('*' is not
        // a locked password, '!' would make sshd refuse them without PAM), keys in the fixture.
        sudoers = "/etc/sudoers.d/pgha-test-\(getpid())"
        sudoAvailable = (try? sh("command -v sudo")) != nil
        for user in ["pghasudo", "pghanopw"] {
            try sh("id -u \(user) >/dev/null 2>&1 || useradd -m -p '*' -s /bin/bash \(user); usermod -p '*' \(user)")
            try sh("cp \(directory)/id_ed25519.pub \(directory)/keys/\(user) && chmod 644 \(directory)/keys/\(user)")
        }
        if sudoAvailable {
            try sh("mkdir -p /etc/sudoers.d && echo 'pghasudo ALL=(ALL) NOPASSWD: ALL' > \(sudoers) && chmod 440 \(sudoers)")
        }

        agentSocket = directory + "/agent.sock"
    }

    func stop() {
        _ = try? sh("rm -f \(sudoers)")
        _ = try? sh("\(Self.script) stop \(directory)")
    }

    func endpoint(user: String = "root", key: String? = "id_ed25519", knownHosts: String? = nil,
                  policy: HostKeyPolicy = .strict, sudo: Bool = false, passphrase: String? = nil,
                  agent: String? = nil, port: Int? = nil, connectTimeout: Int = 5, log: CommandLog? = nil) -> HostEndpoint {
        HostEndpoint(name: "testhost", address: "127.0.0.1", port: port ?? self.port, user: user,
                     keyFile: key.map(file), keyPassphrase: passphrase, agentSocket: agent,
                     knownHostsFile: knownHosts ?? self.knownHosts, hostKeyPolicy: policy, useSudo: sudo,
                     connectTimeout: connectTimeout, commandLog: log)
    }
}

/// Runs a shell command on this machine; its stdout, or an error with its stderr. Output goes
/// through files, not pipes, so a daemon the command leaves running cannot hold us up.
@discardableResult
func sh(_ command: String) throws -> String {
    let base = NSTemporaryDirectory() + "pgha-sh-\(UUID().uuidString)"
    _ = FileManager.default.createFile(atPath: base + ".out", contents: nil)
    _ = FileManager.default.createFile(atPath: base + ".err", contents: nil)
    defer {
        try? FileManager.default.removeItem(atPath: base + ".out")
        try? FileManager.default.removeItem(atPath: base + ".err")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = ["-c", command]
    process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
    process.standardOutput = FileHandle(forWritingAtPath: base + ".out")
    process.standardError = FileHandle(forWritingAtPath: base + ".err")
    try process.run()
    process.waitUntilExit()
    let output = FileManager.default.contents(atPath: base + ".out") ?? Data()
    let errors = FileManager.default.contents(atPath: base + ".err") ?? Data()
    guard process.terminationStatus == 0 else {
        throw TransportError(host: "local", "`\(command)` exited \(process.terminationStatus): \(String(decoding: errors, as: UTF8.self))")
    }
    return String(decoding: output, as: UTF8.self)
}

/// A port nothing listens on (bound, then closed).
func closedPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A TCP listener that never speaks SSH (the kernel accepts connections into the backlog):
/// for connect timeouts. Close the returned descriptor when done.
func silentListener() -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = listen(fd, 16)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// Asserts that `body` throws a TransportError of `kind` whose message holds every fragment.
func expectError(_ kind: TransportError.Kind, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line,
                 _ body: () async throws -> Void) async {
    do {
        try await body()
        XCTFail("expected a \(kind) error, but it succeeded", file: file, line: line)
    } catch let error as TransportError {
        XCTAssertEqual(error.kind, kind, "wrong kind: \(error.description)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(error.description.contains(fragment), "“\(fragment)” is not in: \(error.description)", file: file, line: line)
        }
    } catch {
        XCTFail("expected a TransportError (\(kind)), got \(error)", file: file, line: line)
    }
}

/// Collects `-v` log lines.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}
