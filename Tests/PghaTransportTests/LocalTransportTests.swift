import Foundation
@testable import PghaTransport
import XCTest

/// The local transport runs on this machine, and the helpers every transport shares.
final class LocalTransportTests: XCTestCase {
    let t = LocalTransport(host: "here")

    func testExecStreamsStatusSignalAndEnvironment() async throws {
        let result = try await t.exec("echo hi; echo oops >&2; exit 4")
        XCTAssertEqual(result.stdoutText, "hi\n")
        XCTAssertEqual(result.stderrText, "oops\n")
        XCTAssertEqual(result.exitStatus, 4)
        let value1 = try await t.exec("echo $LC_ALL $LANG").stdoutText
        XCTAssertEqual(value1, "C C\n")
        let killed = try await t.exec("kill -KILL $$")
        XCTAssertEqual(killed.exitSignal, "KILL")
        XCTAssertFalse(killed.succeeded)
        let value3 = try await t.exec("exit 137").exitSignal
        XCTAssertNil(value3)
    }

    func testMegabytesOnBothStreamsAndStdin() async throws {
        let result = try await t.exec("head -c 4000000 /dev/zero | tr '\\0' a & head -c 3000000 /dev/zero | tr '\\0' b >&2; wait")
        XCTAssertEqual(result.stdout.count, 4_000_000)
        XCTAssertEqual(result.stderr.count, 3_000_000)
        let input = Data((0..<2_000_000).map { UInt8(truncatingIfNeeded: $0) })
        let value4 = try await t.exec("wc -c", stdin: input).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(value4, "2000000")
        let value5 = try await t.exec("echo ignored", stdin: input).stdoutText
        XCTAssertEqual(value5, "ignored\n")
    }

    func testTimeoutKillsTheWholeCommand() async throws {
        let marker = "pgha\(UInt32.random(in: 0...UInt32.max))"
        await expectError(.timeout, ["here: `sleep 30; echo \(marker)` did not finish within 500ms"]) {
            _ = try await self.t.exec("sleep 30; echo \(marker)", stdin: nil, timeout: .milliseconds(500))
        }
        XCTAssertEqual(try sh("pgrep -f 'slee[p] 30; echo \(marker)' | wc -l"), "0\n")
    }

    func testUploadModesOwnersAtomicReplace() async throws {
        let folder = NSTemporaryDirectory() + "pgha-local-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/f.conf"
        try await t.upload(Data("one\n".utf8), to: path, mode: 0o640, owner: "nobody", group: "nogroup")
        XCTAssertEqual(try sh("stat -c '%a %U %G' \(path); cat \(path)"), "640 nobody nogroup\none\n")
        try sh("ln \(path) \(folder)/old")
        try await t.upload(Data("two\n".utf8), to: path, mode: 0o4755, owner: "nobody", group: nil)
        XCTAssertEqual(try sh("stat -c '%a %U %G' \(path); cat \(path) \(folder)/old"), "4755 nobody root\ntwo\none\n")
        await expectError(.upload, ["upload to /nonexistent-pgha/x failed"]) {
            try await self.t.upload(Data(), to: "/nonexistent-pgha/x", mode: 0o600, owner: nil, group: nil)
        }
        await expectError(.upload, ["no-such-user"]) {
            try await self.t.upload(Data(), to: folder + "/y", mode: 0o600, owner: "no-such-user", group: nil)
        }
        XCTAssertEqual(try sh("ls -A \(folder) | tr '\\n' ' '"), "f.conf old ")
    }

    func testMakeTransportLocalAndCommandLog() async throws {
        let lines = LogLines()
        let endpoint = HostEndpoint(name: "self", address: "localhost", knownHostsFile: "/dev/null",
                                    commandLog: CommandLog(secrets: ["pa55word"]) { lines.append("\($0)$ \($1)") })
        let local = try await makeTransport(.local, endpoint: endpoint)
        let value6 = try await local.check("echo pa55word | wc -c").trimmingCharacters(in: .whitespaces)
        XCTAssertEqual(value6, "9\n")
        XCTAssertEqual(lines.all, ["self$ echo *** | wc -c"])
        await expectError(.commandFailed, ["self: `false` failed (exit 1)"]) { try await local.check("false") }
    }
}

final class TransportHelperTests: XCTestCase {
    func testTrailerParsing() {
        let plain = parseTrailer(Data("warning\n\u{1e}pgha-exit:3\n".utf8))
        XCTAssertEqual(plain.map { String(decoding: $0.stderr, as: UTF8.self) }, "warning\n")
        XCTAssertEqual(plain?.status, 3)
        XCTAssertNil(plain?.signal)
        let signalled = parseTrailer(Data("no newline\u{1e}pgha-exit:0:KILL\n".utf8))
        XCTAssertEqual(signalled.map { String(decoding: $0.stderr, as: UTF8.self) }, "no newline")
        XCTAssertEqual(signalled?.signal, "KILL")
        XCTAssertNil(parseTrailer(Data("ssh: connect to host x port 22: Connection refused\n".utf8)))
        XCTAssertNil(parseTrailer(Data("\u{1e}pgha-exit:x\n".utf8)))
        XCTAssertNil(parseTrailer(Data("\u{1e}pgha-exit:1\nmore output after it\n".utf8)))
    }

    func testRedactLongestFirst() {
        XCTAssertEqual(redact("pw=abcdef and abc", secrets: ["abc", "abcdef", "x"]), "pw=*** and ***")
    }

    func testCommandLines() {
        XCTAssertEqual(remoteCommandLine("echo 'a'", sudo: false, timeout: nil), "/bin/bash -c 'echo '\\''a'\\'''")
        XCTAssertEqual(remoteCommandLine("true", sudo: true, timeout: .milliseconds(1500)),
                       "LC_ALL=C sudo -n -- timeout -s KILL 1.500 /bin/bash -c true")
        let temporary = temporaryName(for: "/etc/postgresql/pg_hba.conf")
        XCTAssertTrue(temporary.hasPrefix("/etc/postgresql/.pg_hba.conf.pgha-"), temporary)
        XCTAssertEqual(abbreviated("line one\nline two"), "line one …")
        XCTAssertEqual(describe(.milliseconds(1500)), "1.5s")
    }

    func testPrivateKeyInfo() throws {
        let folder = NSTemporaryDirectory() + "pgha-keys-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try sh("""
            cd \(folder) && ssh-keygen -q -t ed25519 -N '' -f ed && ssh-keygen -q -t ed25519 -N pw -f edpw && \
            ssh-keygen -q -t ecdsa -N '' -f ec && ssh-keygen -q -t rsa -b 1024 -N '' -f rsa && \
            ssh-keygen -q -t rsa -b 1024 -m PEM -N '' -f rsapem && rm -f *.pub
            """)
        XCTAssertEqual(PrivateKeyInfo.read(folder + "/ed"), PrivateKeyInfo(algorithm: "ssh-ed25519", encrypted: false))
        XCTAssertEqual(PrivateKeyInfo.read(folder + "/edpw"), PrivateKeyInfo(algorithm: "ssh-ed25519", encrypted: true))
        XCTAssertEqual(PrivateKeyInfo.read(folder + "/ec"), PrivateKeyInfo(algorithm: "ecdsa-sha2-nistp256", encrypted: false))
        XCTAssertTrue(PrivateKeyInfo.read(folder + "/rsa").isRSA)
        XCTAssertTrue(PrivateKeyInfo.read(folder + "/rsapem").isRSA)
    }
}
