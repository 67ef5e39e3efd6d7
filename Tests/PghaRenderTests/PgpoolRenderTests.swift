import Foundation
import PghaRender
import PghaSpec
import XCTest

/// The pgpool topology's files (seed 004_c3f681306b8e49e1.txt): secrets as pgpool-II's own tools
/// compute them, nothing in clear text outside the files that must hold it.
final class PgpoolRenderTests: XCTestCase {
    /// Recorded with Debian 12's pgpool2 4.3.5 on this machine kind: `pg_enc -k KEYFILE PASSWORD`
    /// with the key file holding "k3y", and `pg_md5 secretpw`.
    func testPoolPasswdAndPcpEntriesAreWhatPgpoolsToolsWrite() {
        XCTAssertEqual(PgpoolSecrets.aesPassword("secretpw", key: "k3y"), "AESHf1XWul6L/x8sNNwtSB3MQ==")
        XCTAssertEqual(PgpoolSecrets.aesPassword("pässwörd with spaces!", key: "k3y"), "AESn7nV3FZwBsYJrOmh3lGtaSKdKgXKDORjCutlhQZcScU=")
        XCTAssertEqual(PgpoolSecrets.md5Hex("secretpw"), "51149f6fea1a3179b364f1994e06e4d4")
    }

    /// The derived SSH key is a key OpenSSH reads: ssh-keygen -y prints its public half.
    func testDerivedSSHKeyIsReadByOpenSSH() throws {
        let key = try XCTUnwrap(PgpoolSecrets.sshKey(key: "k3y", cluster: "c1"))
        XCTAssertEqual(PgpoolSecrets.sshKey(key: "k3y", cluster: "c1")?.privateFile, key.privateFile, "the same on every run")
        XCTAssertNotEqual(PgpoolSecrets.sshKey(key: "k3y", cluster: "c2")?.publicLine, key.publicLine)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgha-sshkey-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("id").path
        FileManager.default.createFile(atPath: path, contents: Data(key.privateFile.utf8), attributes: [.posixPermissions: 0o600])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        process.arguments = ["-y", "-f", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let printed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertEqual(printed.trimmingCharacters(in: .whitespacesAndNewlines), key.publicLine)
    }

    func testTestbedFiles() throws {
        let files = try render(try loadSpec("testbed-pgpool"))
        XCTAssertTrue(files.allSatisfy { $0.template != "pcs-setup.sh.stencil" && $0.node != nil }, "no pcs script in this topology")
        // 4.2+: one pgpool.conf for every node, each node's id in its own file.
        let confs = Set(files.filter { $0.path == "/etc/pgpool2/pgpool.conf" }.map(\.content))
        XCTAssertEqual(confs.count, 1)
        let ids = files.filter { $0.path == "/etc/pgpool2/pgpool_node_id" }.map { $0.content }
        XCTAssertEqual(ids, ["0\n", "1\n", "2\n"])
        let conf = try XCTUnwrap(confs.first)
        XCTAssertTrue(conf.contains("backend_clustering_mode = 'streaming_replication'"))
        XCTAssertTrue(conf.contains("if_up_cmd = '/usr/bin/sudo -n /usr/bin/ip addr add 10.77.0.102/24 dev eth0 label eth0:0'"))
        XCTAssertTrue(conf.contains("hostname2 = '10.77.0.13'"))
        // No clear-text secret outside the files that must hold it (pgpool's key, .pcppass, .pgpass).
        for file in files where !file.sensitive {
            XCTAssertFalse(file.content.contains("golden-secret"), "\(file.outputPath) holds a secret in clear text")
        }
        let passwd = try XCTUnwrap(files.first { $0.path == "/etc/pgpool2/pool_passwd" })
        XCTAssertTrue(passwd.sensitive)
        XCTAssertFalse(passwd.content.contains("golden-secret"))
        XCTAssertTrue(passwd.content.hasPrefix("pgpool:AES"))
        let sudoers = try XCTUnwrap(files.first { $0.path == "/etc/sudoers.d/pgha-pgpool" })
        XCTAssertEqual(sudoers.mode, 0o440)
        XCTAssertTrue(sudoers.content.contains("NOPASSWD: /usr/bin/ip addr add 10.77.0.102/24 dev eth0 label eth0\\:0, "))
        let conf15 = try XCTUnwrap(files.first { $0.node == "node2" && $0.path.hasSuffix("/postgresql.conf") })
        XCTAssertTrue(conf15.content.contains("include_if_exists = 'pgha-standby.conf'"))
    }

    /// Seed 004's 4.0 names: one file per node, each naming the others.
    func testSeed004UsesThe40Names() throws {
        let files = try render(try loadSpec("seed-004"))
        let conf = try XCTUnwrap(files.first { $0.node == "pgsql-slave01" && $0.path == "/etc/pgpool-II/pgpool.conf" }).content
        for line in ["master_slave_mode = on", "wd_hostname = '192.168.20.17'", "other_pgpool_hostname0 = '192.168.20.16'",
                     "heartbeat_destination0 = '192.168.20.16'", "delegate_IP = '192.168.20.50'", "follow_master_command = "] {
            XCTAssertTrue(conf.contains(line), line)
        }
        XCTAssertFalse(conf.contains("backend_clustering_mode"))
        XCTAssertFalse(files.contains { $0.path.hasSuffix("pgpool_node_id") })
        XCTAssertFalse(try XCTUnwrap(files.first { $0.path.hasSuffix("/postgresql.conf") }).content.contains("include_if_exists"),
                       "PostgreSQL 10 reads recovery.conf itself")
    }
}
