import Foundation
import PghaTransport
import XCTest

/// What every SSH transport must do, against the real sshd of SSHServer. LibSSH2TransportTests
/// and OpenSSHTransportTests run each of these for their transport.
struct TransportContract {
    let kind: TransportKind
    let server: SSHServer

    init(_ kind: TransportKind) throws {
        self.kind = kind
        self.server = try SSHServer.shared()
    }

    func connect(_ endpoint: HostEndpoint? = nil) async throws -> any Transport {
        try await makeTransport(kind, endpoint: endpoint ?? server.endpoint())
    }

    /// Opens a transport, runs `body`, closes it whatever happens.
    func with<T>(_ endpoint: HostEndpoint? = nil, _ body: (any Transport) async throws -> T) async throws -> T {
        let transport = try await connect(endpoint)
        do {
            let value = try await body(transport)
            await transport.close()
            return value
        } catch {
            await transport.close()
            throw error
        }
    }

    // MARK: exec

    func exitCodesStreamsAndEnvironment() async throws {
        try await with { t in
            let result = try await t.exec("echo out; echo err >&2; exit 3")
            XCTAssertEqual(result.stdoutText, "out\n")
            XCTAssertEqual(result.stderrText, "err\n")
            XCTAssertEqual(result.exitStatus, 3)
            XCTAssertNil(result.exitSignal)
            XCTAssertFalse(result.succeeded)
            let ok = try await t.exec("true")
            XCTAssertTrue(ok.succeeded)
            XCTAssertEqual(ok.stdout.count + ok.stderr.count, 0)
            let env = try await t.exec("echo \"$LC_ALL $LANG\"; locale 2>/dev/null | grep LC_MESSAGES")
            XCTAssertEqual(env.stdoutText, "C C\nLC_MESSAGES=\"C\"\n")
            let quoting = try await t.exec("printf '%s|' \"it's\" 'a \"b\"' $'tab\\there'")
            XCTAssertEqual(quoting.stdoutText, "it's|a \"b\"|tab\there|")
            let exited = try await t.exec("exit 255")
            XCTAssertEqual(exited.exitStatus, 255)
            XCTAssertNil(exited.exitSignal)
        }
        let closed = try await connect()
        await closed.close()
        await expectError(.closed, ["testhost: the connection was closed"]) { _ = try await closed.exec("true") }
    }

    func killedCommandReportsItsSignal() async throws {
        try await with { t in
            let killed = try await t.exec("echo before; kill -KILL $$; echo after")
            XCTAssertEqual(killed.exitSignal, "KILL")
            XCTAssertFalse(killed.succeeded)
            XCTAssertEqual(killed.stdoutText, "before\n")
            let terminated = try await t.exec("kill -TERM $$")
            XCTAssertFalse(terminated.succeeded)
            if kind == .openssh {
                // The ssh client never reports exit signals; the wrapper can tell only KILL
                // apart (bash runs its EXIT trap for catchable signals), so TERM is 128+15.
                XCTAssertEqual(terminated.exitStatus, 143)
            } else {
                XCTAssertEqual(terminated.exitSignal, "TERM")
            }
            // An exit status above 128 is not a signal.
            let exited = try await t.exec("exit 137")
            XCTAssertEqual(exited.exitStatus, 137)
            XCTAssertNil(exited.exitSignal)
        }
    }

    func megabytesOnBothStreamsAtOnce() async throws {
        try await with { t in
            let result = try await t.exec("head -c 4000000 /dev/zero | tr '\\0' a & head -c 3000000 /dev/zero | tr '\\0' b >&2; wait")
            XCTAssertEqual(result.stdout.count, 4_000_000)
            XCTAssertEqual(result.stderr.count, 3_000_000)
            XCTAssertEqual(Set(result.stdout), [UInt8(ascii: "a")])
            XCTAssertEqual(Set(result.stderr), [UInt8(ascii: "b")])
            XCTAssertTrue(result.succeeded)
            // Interleaved small writes on both streams keep their order within each stream.
            let lines = try await t.exec("for i in $(seq 1 20000); do echo o$i; echo e$i >&2; done")
            XCTAssertEqual(lines.stdoutText, (1...20000).map { "o\($0)\n" }.joined())
            XCTAssertEqual(lines.stderrText, (1...20000).map { "e\($0)\n" }.joined())
        }
    }

    func stdinReachesTheCommand() async throws {
        let input = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) })
        let expected = try await LocalTransport(host: "here").exec("sha256sum", stdin: input).stdoutText
        try await with { t in
            let result = try await t.exec("sha256sum", stdin: input)
            XCTAssertEqual(result.stdoutText, expected)
            // A command that never reads its stdin does not hang the transport.
            let ignored = try await t.exec("echo done", stdin: input)
            XCTAssertEqual(ignored.stdoutText, "done\n")
            let partial = try await t.exec("head -c 5 | od -An -tx1", stdin: input)
            XCTAssertEqual(partial.stdoutText.split(separator: " ").count, 5)
            let empty = try await t.exec("wc -c", stdin: Data())
            XCTAssertEqual(empty.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines), "0")
            // Secrets travel this way: the command line never holds them.
            let secret = try await t.exec("read -r pw; [ \"$pw\" = 's3cr3t pass' ] && echo match", stdin: Data("s3cr3t pass\n".utf8))
            XCTAssertEqual(secret.stdoutText, "match\n")
        }
    }

    // MARK: upload

    func uploadsExactModesOwnersAndReplacesAtomically() async throws {
        let folder = server.file("uploads-\(kind.rawValue)")
        try sh("rm -rf \(folder) && mkdir -p \(folder)")
        let path = folder + "/pg_hba.conf"
        try await with { t in
            try await t.upload(Data("first\n".utf8), to: path, mode: 0o640, owner: "nobody", group: "nogroup")
            XCTAssertEqual(try sh("stat -c '%a %U %G' \(path); cat \(path)"), "640 nobody nogroup\nfirst\n")
            // A hard link keeps the old inode: if the upload rewrote the file in place instead
            // of renaming a new one over it, the link would show the new content.
            try sh("ln \(path) \(folder)/old-inode")
            try await t.upload(Data("second\n".utf8), to: path, mode: 0o600, owner: nil, group: nil)
            XCTAssertEqual(try sh("stat -c '%a %U' \(path); cat \(path); cat \(folder)/old-inode"), "600 root\nsecond\nfirst\n")
            // setuid survives the owner change; modes are exact whatever the umask.
            try await t.upload(Data("#!/bin/sh\n".utf8), to: folder + "/tool", mode: 0o4755, owner: "nobody", group: nil)
            XCTAssertEqual(try sh("stat -c '%a %U %G' \(folder)/tool"), "4755 nobody root\n")
            try await t.upload(Data(), to: folder + "/empty", mode: 0o777, owner: nil, group: "nogroup")
            XCTAssertEqual(try sh("stat -c '%a %U %G %s' \(folder)/empty"), "777 root nogroup 0\n")
            let big = Data((0..<5_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            try await t.upload(big, to: folder + "/big", mode: 0o644, owner: nil, group: nil)
            XCTAssertEqual(FileManager.default.contents(atPath: folder + "/big"), big)
            // No temporary file is left behind.
            XCTAssertEqual(try sh("ls -A \(folder) | sort | tr '\\n' ' '"), "big empty old-inode pg_hba.conf tool ")

            await expectError(.upload, ["upload to /nonexistent-pgha/f failed"]) {
                try await t.upload(Data("x".utf8), to: "/nonexistent-pgha/f", mode: 0o600, owner: nil, group: nil)
            }
            await expectError(.upload, ["upload to \(folder)/u failed", "no-such-user"]) {
                try await t.upload(Data("x".utf8), to: folder + "/u", mode: 0o600, owner: "no-such-user", group: nil)
            }
            XCTAssertEqual(try sh("ls -A \(folder) | wc -l"), "5\n", "a failed upload left its temporary file")
        }
    }

    // MARK: timeouts and connection loss

    func timeoutKillsTheRemoteCommand() async throws {
        let marker = "pgha\(UInt32.random(in: 0...UInt32.max))"
        try await with { t in
            let started = ContinuousClock.now
            await expectError(.timeout, ["testhost: `sleep 30; echo \(marker)` did not finish within 1s"]) {
                _ = try await t.exec("sleep 30; echo \(marker)", stdin: nil, timeout: .seconds(1))
            }
            XCTAssertLessThan(ContinuousClock.now - started, .seconds(8))
            // The command and everything it started are gone (the pattern does not match itself).
            XCTAssertEqual(try sh("pgrep -f 'slee[p] 30; echo \(marker)' | wc -l"), "0\n")
            // The connection is still usable, and a command that finishes in time is unaffected.
            let after = try await t.exec("echo fine", stdin: nil, timeout: .seconds(5))
            XCTAssertEqual(after.stdoutText, "fine\n")
            let killed = try await t.exec("kill -KILL $$", stdin: nil, timeout: .seconds(10))
            XCTAssertEqual(killed.exitSignal, "KILL", "a command killed before its timeout is not a timeout")
        }
    }

    func lostConnectionIsReportedThenReopened() async throws {
        // Kill the server process that carries this connection, from inside it.
        let killer = sshdOfThisConnection + "; kill -KILL $p; sleep 5"
        try await with { t in
            let value1 = try await t.exec("echo up").stdoutText
            XCTAssertEqual(value1, "up\n")
            await expectError(.connectionLost, ["testhost"]) {
                let result = try await t.exec(killer, stdin: nil, timeout: .seconds(20))
                throw TransportError(host: "test", "the command finished: \(result.outcome) \(result.stderrText)")
            }
            let again = try await t.exec("echo back")
            XCTAssertEqual(again.stdoutText, "back\n")
        }
    }

    /// The server process of this connection stops answering (SIGSTOP) while a command runs:
    /// keepalives (every second here) notice within about three intervals.
    func frozenServerIsDetectedByKeepalives() async throws {
        var endpoint = server.endpoint()
        endpoint.keepaliveInterval = 1
        let marker = server.file("frozen-\(kind.rawValue)-\(UInt32.random(in: 0...UInt32.max))")
        try await with(endpoint) { t in
            let pid = try await t.check(sshdOfThisConnection + "; echo $p").trimmingCharacters(in: .whitespacesAndNewlines)
            guard let serverPID = Int32(pid), serverPID > 1 else { return XCTFail("no sshd process found: \(pid)") }
            defer {
                killCommands(matching: marker)   // first: killing sshd would orphan the sleep
                kill(serverPID, SIGKILL)
            }
            let command = Task { try await t.exec("touch \(marker); sleep 30; : \(marker)") }
            try waitForFile(marker)
            kill(serverPID, SIGSTOP)
            let started = ContinuousClock.now
            do {
                let result = try await command.value
                XCTFail("the command finished: \(result.outcome)")
            } catch let error as TransportError {
                XCTAssertEqual(error.kind, .connectionLost, error.description)
            }
            XCTAssertLessThan(ContinuousClock.now - started, .seconds(10))
            let again = try await t.exec("echo reopened")
            XCTAssertEqual(again.stdoutText, "reopened\n")
        }
    }

    /// Cancelling the task that awaits a command ends the wait promptly; the connection stays
    /// usable.
    func cancellationEndsTheWait() async throws {
        let marker = server.file("cancel-\(kind.rawValue)-\(UInt32.random(in: 0...UInt32.max))")
        defer { killCommands(matching: marker) }
        try await with { t in
            let command = Task { try await t.exec("touch \(marker); sleep 30; : \(marker)") }
            try waitForFile(marker)
            let started = ContinuousClock.now
            command.cancel()
            do {
                let result = try await command.value
                XCTFail("the command finished: \(result.outcome)")
            } catch is CancellationError {
            } catch {
                XCTFail("expected CancellationError, got \(error)")
            }
            XCTAssertLessThan(ContinuousClock.now - started, .seconds(3))
            let after = try await t.exec("echo still here")
            XCTAssertEqual(after.stdoutText, "still here\n")
        }
    }

    /// Kills the test's `touch MARKER; sleep 30; : MARKER` shells and their sleep.
    func killCommands(matching marker: String) {
        // The remote session's process group (sshd starts each session in its own).
        _ = try? sh("for p in $(pgrep -f 'slee[p] 30; : \(marker)'); do g=$(ps -o pgid= -p $p | tr -d ' '); [ -n \"$g\" ] && [ \"$g\" != \"$(ps -o pgid= -p $$ | tr -d ' ')\" ] && kill -KILL -- -$g; done; true")
    }

    /// Waits (polling, up to 10 s) until a command has created `path`.
    func waitForFile(_ path: String) throws {
        for _ in 0..<1000 where !FileManager.default.fileExists(atPath: path) { usleep(10_000) }
        guard FileManager.default.fileExists(atPath: path) else { throw TransportError(host: "test", "\(path) never appeared") }
    }

    /// Shell that finds the sshd process serving this connection: $p.
    let sshdOfThisConnection = "p=$$; while [ \"$p\" -gt 1 ] && [ \"$(cat /proc/$p/comm)\" != sshd ]; do p=$(cut -d' ' -f4 /proc/$p/stat); done"

    // MARK: host keys

    func unknownHostIsRefusedUnlessAcceptNew() async throws {
        let empty = server.file("kh-empty-\(kind.rawValue)")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        for file in [empty, server.file("kh-missing-\(kind.rawValue)")] {
            await expectError(.hostKeyUnknown, ["[127.0.0.1]:\(server.port)", "is not in \(file)", "accept-new"]) {
                _ = try await connect(server.endpoint(knownHosts: file))
            }
        }
        // accept-new records the key (creating file and folder), then strict accepts it.
        let fresh = server.file("kh-new-\(kind.rawValue)/sub/known_hosts")
        try await with(server.endpoint(knownHosts: fresh, policy: .acceptNew)) { t in
            let value2 = try await t.exec("echo in").stdoutText
            XCTAssertEqual(value2, "in\n")
        }
        let recorded = try String(contentsOfFile: fresh, encoding: .utf8)
        // Plain, or hashed where ssh_config says HashKnownHosts (Debian's default for ssh).
        XCTAssertTrue(recorded.hasPrefix("[127.0.0.1]:\(server.port) ssh-ed25519 ") || (recorded.hasPrefix("|1|") && recorded.contains(" ssh-ed25519 ")), recorded)
        XCTAssertEqual(recorded.split(separator: "\n").count, 1, recorded)
        try await with(server.endpoint(knownHosts: fresh)) { t in
            let value3 = try await t.exec("echo strict").stdoutText
            XCTAssertEqual(value3, "strict\n")
        }
        XCTAssertEqual(try String(contentsOfFile: fresh, encoding: .utf8), recorded, "a known host must not be recorded twice")
    }

    /// A key marked @revoked is refused under every policy, even next to a line that records it.
    func revokedHostKeyIsRefused() async throws {
        let file = server.file("kh-revoked-\(kind.rawValue)")
        try sh("cp \(server.knownHosts) \(file) && printf '@revoked * %s\\n' \"$(head -1 \(server.knownHosts) | cut -d' ' -f2-3)\" >> \(file)")
        let lines = try sh("wc -l < \(file)").trimmingCharacters(in: .whitespacesAndNewlines)
        for policy in [HostKeyPolicy.strict, .acceptNew] {
            await expectError(.hostKeyChanged, ["is marked @revoked in \(file):\(lines)", "never accepts it"]) {
                _ = try await connect(server.endpoint(knownHosts: file, policy: policy))
            }
        }
        XCTAssertEqual(try sh("wc -l < \(file)").trimmingCharacters(in: .whitespacesAndNewlines), lines, "nothing recorded")
    }

    func changedHostKeyIsAlwaysAnErrorNamingFileAndLine() async throws {
        let file = server.file("kh-changed-\(kind.rawValue)")
        let other = try sh("cut -d' ' -f1-2 \(server.file("other_ed25519.pub"))").trimmingCharacters(in: .whitespacesAndNewlines)
        try sh("""
            printf '%s\\n' '# pgha test' "otherhost \(other)" "[127.0.0.1]:\(server.port) \(other)" > \(file)
            """)
        for policy in [HostKeyPolicy.strict, .acceptNew] {
            await expectError(.hostKeyChanged, ["[127.0.0.1]:\(server.port)", "\(file):3", "ssh-keygen -R"]) {
                _ = try await connect(server.endpoint(knownHosts: file, policy: policy))
            }
        }
        XCTAssertEqual(try sh("wc -l < \(file)"), "3\n", "accept-new must not add a changed key")
    }

    func hashedAndOtherTypeEntriesAreRecognised() async throws {
        // Hashed entries (ssh-keygen -H), as HashKnownHosts writes them.
        let hashed = server.file("kh-hashed-\(kind.rawValue)")
        try sh("cp \(server.knownHosts) \(hashed) && ssh-keygen -q -H -f \(hashed) && rm -f \(hashed).old && grep -q '^|1|' \(hashed)")
        try await with(server.endpoint(knownHosts: hashed)) { t in
            let value4 = try await t.exec("echo hashed").stdoutText
            XCTAssertEqual(value4, "hashed\n")
        }
        // Only the host's ECDSA key recorded: the client must ask for that type, not call the
        // host unknown or changed because it prefers another.
        let ecdsa = server.file("kh-ecdsa-\(kind.rawValue)")
        try sh("echo \"[127.0.0.1]:\(server.port) $(cut -d' ' -f1-2 \(server.file("host_ecdsa.pub")))\" > \(ecdsa)")
        try await with(server.endpoint(knownHosts: ecdsa)) { t in
            let value5 = try await t.exec("echo ecdsa").stdoutText
            XCTAssertEqual(value5, "ecdsa\n")
        }
    }

    // MARK: authentication

    func wrongUserAndRefusedKey() async throws {
        await expectError(.authentication, ["authentication as nosuchuser failed"]) {
            _ = try await connect(server.endpoint(user: "nosuchuser"))
        }
        await expectError(.authentication, ["authentication as root failed", "other_ed25519"]) {
            _ = try await connect(server.endpoint(key: "other_ed25519"))
        }
        await expectError(.authentication, ["no-such-key"]) {
            _ = try await connect(server.endpoint(key: "no-such-key"))
        }
    }

    func ecdsaAndPassphraseKeys() async throws {
        try await with(server.endpoint(key: "id_ecdsa")) { t in
            let value6 = try await t.exec("echo ecdsa").stdoutText
            XCTAssertEqual(value6, "ecdsa\n")
        }
        try await with(server.endpoint(key: "id_ed25519_pass", passphrase: "correct horse battery")) { t in
            let value7 = try await t.exec("echo unlocked").stdoutText
            XCTAssertEqual(value7, "unlocked\n")
        }
        await expectError(.authentication, ["id_ed25519_pass", "passphrase"]) {
            _ = try await connect(server.endpoint(key: "id_ed25519_pass"))
        }
        await expectError(.authentication, ["wrong passphrase", "id_ed25519_pass"]) {
            _ = try await connect(server.endpoint(key: "id_ed25519_pass", passphrase: "wrong"))
        }
    }

    func agentAuthentication() async throws {
        // The agent holds an RSA key (first) and an ECDSA key.
        try await with(server.endpoint(key: nil, agent: server.agentSocket)) { t in
            let value8 = try await t.exec("echo agent").stdoutText
            XCTAssertEqual(value8, "agent\n")
        }
        await expectError(.authentication, ["authentication as root failed"]) {
            _ = try await connect(server.endpoint(key: nil, agent: server.file("no-agent.sock")))
        }
    }

    // MARK: sudo

    func sudoForANonRootUser() async throws {
        try XCTSkipUnless(server.sudoAvailable, "sudo is not installed (scripts/install-deps installs it)")
        try await with(server.endpoint(user: "pghasudo", sudo: true)) { t in
            let value9 = try await t.exec("id -un; echo $LC_ALL").stdoutText
            XCTAssertEqual(value9, "root\nC\n")
            let value10 = try await t.exec("cat", stdin: Data("through sudo\n".utf8)).stdoutText
            XCTAssertEqual(value10, "through sudo\n")
            let killed = try await t.exec("kill -KILL $$")
            XCTAssertEqual(killed.exitSignal, "KILL")
            let target = server.file("rootonly/by-sudo-\(kind.rawValue)")
            try await t.upload(Data("root-owned\n".utf8), to: target, mode: 0o640, owner: "root", group: "nogroup")
            XCTAssertEqual(try sh("stat -c '%U %G %a' \(target); cat \(target)"), "root nogroup 640\nroot-owned\n")
            await expectError(.timeout, ["did not finish within 1s"]) {
                _ = try await t.exec("sleep 20", stdin: nil, timeout: .seconds(1))
            }
        }
        try await with(server.endpoint(user: "pghasudo", sudo: false)) { t in
            let value11 = try await t.exec("id -un").stdoutText
            XCTAssertEqual(value11, "pghasudo\n")
        }
        try await with(server.endpoint(user: "pghanopw", sudo: true)) { t in
            await expectError(.sudo, ["sudo wants a password for pghanopw", "NOPASSWD"]) {
                _ = try await t.exec("id -u")
            }
            await expectError(.sudo, ["sudo wants a password for pghanopw"]) {
                try await t.upload(Data("x".utf8), to: server.file("rootonly/nope"), mode: 0o600, owner: nil, group: nil)
            }
        }
    }

    // MARK: scale

    func manyCommandsOverOneConnection(_ count: Int) async throws {
        try await with { t in
            let started = ContinuousClock.now
            for i in 0..<count {
                let result = try await t.exec("echo \(i)")
                if result.stdoutText != "\(i)\n" {
                    XCTFail("command \(i) printed \(result.stdoutText.debugDescription)")
                    return
                }
            }
            let elapsed = ContinuousClock.now - started
            print("\(kind.rawValue): \(count) commands over one connection in \(elapsed) (\(elapsed / count) each)")
        }
    }

    func sixteenConcurrentConnections() async throws {
        let endpoint = server.endpoint()
        let kind = self.kind
        let started = ContinuousClock.now
        let outputs = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<16 {
                group.addTask {
                    let t = try await makeTransport(kind, endpoint: endpoint)
                    do {
                        let out = try await t.exec("sleep 0.5; echo \(i)").stdoutText
                        await t.close()
                        return out
                    } catch {
                        await t.close()
                        throw error
                    }
                }
            }
            var all: [String] = []
            for try await out in group { all.append(out) }
            return all
        }
        let elapsed = ContinuousClock.now - started
        XCTAssertEqual(outputs.sorted(), (0..<16).map { "\($0)\n" }.sorted())
        // One after another this is 16 × 0.5 s; in parallel about 0.5 s plus connecting.
        XCTAssertLessThan(elapsed, .seconds(4), "16 connections did not run in parallel")
        print("\(kind.rawValue): 16 connections × (connect + 0.5 s command) in \(elapsed)")
    }

    // MARK: connecting

    func connectFailuresSayWhy() async throws {
        let port = closedPort()
        await expectError(.connect, ["127.0.0.1:\(port)", "refused"]) {
            _ = try await connect(server.endpoint(port: port))
        }
        let silent = silentListener()
        defer { close(silent.fd) }
        let started = ContinuousClock.now
        await expectError(.connect, ["127.0.0.1:\(silent.port)", "1s"]) {
            _ = try await connect(server.endpoint(port: silent.port, connectTimeout: 1))
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5), "the connect timeout was not honoured")
        await expectError(.connect, ["no-such-host.invalid"]) {
            var endpoint = server.endpoint()
            endpoint.address = "no-such-host.invalid"
            _ = try await connect(endpoint)
        }
    }

    func commandLogRedactsSecrets() async throws {
        let lines = LogLines()
        let log = CommandLog(secrets: ["hunter2-secret"]) { host, line in lines.append("\(host)$ \(line)") }
        try await with(server.endpoint(log: log)) { t in
            _ = try await t.exec("echo hunter2-secret > /dev/null")
            try await t.upload(Data("x".utf8), to: server.file("logged-\(kind.rawValue)"), mode: 0o600, owner: "nobody", group: nil)
        }
        XCTAssertEqual(lines.all, ["testhost$ echo *** > /dev/null",
                                   "testhost$ upload \(server.file("logged-\(kind.rawValue)")) (1 bytes, mode 600, nobody)"])
    }
}
