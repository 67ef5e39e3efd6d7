import Foundation
import PghaRender
import PghaRuntime
import PghaSpec
import PghaShell
import XCTest

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// Runs a script with bash on this machine, as a transport would on a host.
func runLocally(_ script: Shell) throws -> String { try runLocally(script.text) }

func runLocally(_ script: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = ["-c", script]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

final class FactsTests: XCTestCase {
    /// The fact script, run for real with bash on this Debian machine, parses into the facts
    /// the machine really has.
    func testFactScriptRunsAndParsesOnThisMachine() throws {
        let directory = NSTemporaryDirectory() + "pgha-facts-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "line one\nsecond: 'quoted' ünïcode\n".write(toFile: "\(directory)/plain.conf", atomically: true, encoding: .utf8)
        try "s3cret\n".write(toFile: "\(directory)/.pgpass", atomically: true, encoding: .utf8)
        chmod("\(directory)/.pgpass", 0o600)

        var script = FactScript()
        script.add("os", "cat /etc/os-release")
        script.add("packages", "dpkg-query -W -f='${Package}\\t${Status}\\t${Version}\\n' bash coreutils no-such-package-pgha")
        script.file("\(directory)/plain.conf")
        script.file("\(directory)/.pgpass", sensitive: true)
        script.file("\(directory)/missing file")
        script.add("fails", "false")
        let sections = script.parse(try runLocally(script.script))

        let os = try XCTUnwrap(OSRelease.parse(try XCTUnwrap(sections["os"])))
        XCTAssertEqual(os.family, .debian)
        let packages = parseInstalledPackages(try XCTUnwrap(sections["packages"]))
        XCTAssertNotNil(packages["bash"])
        XCTAssertNil(packages["no-such-package-pgha"])
        let plain = try XCTUnwrap(FileFact.parse(sections["file:\(directory)/plain.conf"]))
        XCTAssertEqual(plain.content, "line one\nsecond: 'quoted' ünïcode\n")
        XCTAssertEqual(plain.owner, "root")
        let secret = try XCTUnwrap(FileFact.parse(sections["file:\(directory)/.pgpass"], sensitive: true))
        XCTAssertEqual(secret.mode, "600")
        XCTAssertNil(secret.content, "a secret's content never comes back")
        XCTAssertEqual(secret.digest, FileDecision.sha256Hex("s3cret\n"))
        XCTAssertEqual(FileFact.parse(sections["file:\(directory)/missing file"]), .absent)
        XCTAssertEqual(sections["fails"], "")
    }

    func testPcsCapabilitiesFromRealOutput() throws {
        let text = try String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/facts-pcs-0.11.5-debian12.txt", encoding: .utf8)
        let pcs = try XCTUnwrap(PcsCapabilities.parse(text))
        XCTAssertEqual(pcs.version, "0.11.5")
        XCTAssertEqual(pcs.versionParts, [0, 11, 5])
        XCTAssertTrue(pcs.capabilities.contains("pcmk.resource.promotable"))
        XCTAssertTrue(pcs.capabilities.contains("pcs.auth.separated-name-and-address"))
    }

    func testParsersOfRecordedOutput() {
        XCTAssertEqual(parseInstalledPackages("pcs\tinstall ok installed\t0.11.5-1+deb12u1\nfoo\tdeinstall ok config-files\t1.0\n"),
                       ["pcs": "0.11.5-1+deb12u1"])
        let centos = OSRelease.parse("NAME=\"CentOS Linux\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\n")
        XCTAssertEqual(centos?.family, .el)
        XCTAssertEqual(centos?.versionID, "7")
    }

    func testSHA256KnownVectors() {
        XCTAssertEqual(SHA256.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Data(String(repeating: "a", count: 1000).utf8)),
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}

final class FileDecisionTests: XCTestCase {
    func file(_ content: String, kind: RenderedFile.Kind = .whole, path: String = "/d/postgresql.conf", sensitive: Bool = false) -> RenderedFile {
        RenderedFile(node: "n1", path: path, content: content, mode: 0o600, owner: "postgres", group: "postgres",
                     kind: kind, sensitive: sensitive, template: "t")
    }

    func testAbsentFileIsCreated() {
        let change = FileDecision.decide(file("a = 1\n"), existing: .absent)
        XCTAssertEqual(change?.action, .create)
        XCTAssertEqual(change?.diff, "--- /dev/null\n+++ /d/postgresql.conf\n@@ -0,0 +1,1 @@\n+a = 1\n")
    }

    func testSameFileIsNoChangeAndDriftIsAnUpdateWithADiff() {
        let fact = FileFact(exists: true, mode: "600", owner: "postgres", group: "postgres", content: "a = 1\nb = 2\n")
        XCTAssertNil(FileDecision.decide(file("a = 1\nb = 2\n"), existing: fact))
        let change = FileDecision.decide(file("a = 1\nb = 3\n"), existing: fact)
        XCTAssertEqual(change?.action, .update)
        XCTAssertEqual(change?.diff, "--- /d/postgresql.conf\n+++ /d/postgresql.conf\n@@ -1,2 +1,2 @@\n a = 1\n-b = 2\n+b = 3\n")
        var loose = fact
        loose.mode = "644"
        XCTAssertEqual(FileDecision.decide(file("a = 1\nb = 2\n"), existing: loose)?.summary, "update /d/postgresql.conf: mode 644 → 600")
    }

    func testAgentIncludeLinesAreNotDrift() {
        let fact = FileFact(exists: true, mode: "600", owner: "postgres", group: "postgres",
                            content: "a = 1\ninclude '/var/lib/pgsql/tmp/rep_mode.conf' # added by pgsql RA\n")
        XCTAssertNil(FileDecision.decide(file("a = 1\n"), existing: fact))
    }

    func testManagedBlockLeavesOtherLinesAlone() {
        let block = "# BEGIN pgha managed block: c\n10.0.0.1 n1\n# END pgha managed block\n"
        let hosts = file(block, kind: .managedBlock, path: "/etc/hosts")
        let fact = FileFact(exists: true, mode: "644", owner: "root", group: "root", content: "127.0.0.1 localhost\n")
        let change = FileDecision.decide(hosts, existing: fact)
        XCTAssertEqual(change?.action, .update)
        XCTAssertEqual(FileDecision.desiredContent(hosts, existing: fact), "127.0.0.1 localhost\n" + block)
        let converged = FileFact(exists: true, mode: "644", owner: "root", group: "root", content: "127.0.0.1 localhost\n" + block)
        XCTAssertNil(FileDecision.decide(hosts, existing: converged))
    }

    func testSensitiveFilesCompareByDigestAndNeverShowTheSecret() {
        let pgpass = file("*:5432:*:repluser:pw\n", path: "/h/.pgpass", sensitive: true)
        let same = FileFact(exists: true, mode: "600", owner: "postgres", group: "postgres", digest: FileDecision.sha256Hex("*:5432:*:repluser:pw\n"))
        XCTAssertNil(FileDecision.decide(pgpass, existing: same))
        var other = same
        other.digest = FileDecision.sha256Hex("old")
        XCTAssertEqual(FileDecision.decide(pgpass, existing: other)?.diff, "(sensitive)")
        XCTAssertEqual(FileDecision.decide(pgpass, existing: .absent)?.diff, "(sensitive)")
    }

    func testUnifiedDiffHunks() {
        let old = (1...20).map { "line \($0)" }.joined(separator: "\n") + "\n"
        let new = old.replacingOccurrences(of: "line 2\n", with: "line two\n").replacingOccurrences(of: "line 19\n", with: "")
        XCTAssertEqual(unifiedDiff(old: old, new: new, oldName: "a", newName: "b"), """
            --- a
            +++ b
            @@ -1,5 +1,5 @@
             line 1
            -line 2
            +line two
             line 3
             line 4
             line 5
            @@ -16,5 +16,4 @@
             line 16
             line 17
             line 18
            -line 19
             line 20

            """)
    }
}

final class DialectDetectionTests: XCTestCase {
    func testDialectFollowsCapabilities() throws {
        let text = try String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/facts-pcs-0.11.5-debian12.txt", encoding: .utf8)
        XCTAssertEqual(PcsCapabilities.parse(text)?.dialect, .v0_11)
        XCTAssertEqual(PcsCapabilities.parse("0.10.8 pcs.auth.separated-name-and-address pcmk.resource.promotable")?.dialect, .v0_10)
        // pcs 0.9.165 lists capabilities too, but none of the newer ones.
        XCTAssertEqual(PcsCapabilities.parse("0.9.165 booth cluster.config.backup-local pcmk.acl.role")?.dialect, .v0_9)
    }
}

final class CrmMonTests: XCTestCase {
    /// Real output of crm_mon 2.1.5 on the converged test-bed cluster.
    func testParsesRealOutput() throws {
        let xml = try String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/crm_mon-testbed-converged.xml", encoding: .utf8)
        let status = try XCTUnwrap(CrmMonStatus.parse(xml))
        XCTAssertTrue(status.quorate)
        XCTAssertEqual(status.onlineNodes, ["node1", "node2", "node3"])
        XCTAssertEqual(status.nodes(of: "pgsql", role: "Promoted"), ["node1"])
        XCTAssertEqual(status.nodes(of: "pgsql", role: "Unpromoted"), ["node2", "node3"])
        XCTAssertEqual(status.nodes(of: "vip-master", role: "Started"), ["node1"])
        XCTAssertEqual(status.nodes(of: "vip-slave", role: "Started").count, 1)
        XCTAssertEqual(status.failures, [])
        XCTAssertNil(CrmMonStatus.parse("not xml"))
    }

    /// crm_mon of the other releases, recorded on converged Debian 11 and 13 beds
    /// (scripts/e2e/platform.sh): Pacemaker 2.0.5 says Master/Slave, 3.0.0 Promoted/Unpromoted;
    /// both read as the promoted and unpromoted instances.
    func testParsesEachReleasesOutput() throws {
        let cases: [(file: String, promoted: String, unpromoted: [String], roles: (String, String))] = [
            ("pacemaker-2.0.5-debian11-converged.xml", "node1", ["node2", "node3"], ("Master", "Slave")),
            ("pacemaker-3.0.0-debian13-converged.xml", "node1", ["node2", "node3"], ("Promoted", "Unpromoted")),
        ]
        for c in cases {
            let xml = try String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/crm_mon/\(c.file)", encoding: .utf8)
            let status = try XCTUnwrap(CrmMonStatus.parse(xml), c.file)
            XCTAssertTrue(status.quorate, c.file)
            XCTAssertEqual(status.onlineNodes, ["node1", "node2", "node3"], c.file)
            XCTAssertEqual(status.nodes(of: "pgsql", role: c.roles.0), [c.promoted], c.file)
            XCTAssertEqual(status.nodes(of: "pgsql", role: c.roles.1), c.unpromoted, c.file)
            XCTAssertTrue(CrmMonStatus.promotedRoles.contains(c.roles.0) && CrmMonStatus.unpromotedRoles.contains(c.roles.1))
            XCTAssertEqual(status.nodes(of: "vip-master", role: "Started"), [c.promoted], c.file)
            XCTAssertEqual(status.nodes(of: "vip-slave", role: "Started").count, 1, c.file)
            XCTAssertEqual(status.failures, [], c.file)
        }
    }
}
