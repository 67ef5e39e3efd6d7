import Foundation
import PghaRuntime
import PghaSpec
import XCTest

final class PlatformTests: XCTestCase {
    /// The platform probe, run for real on this Debian 12 machine (pcs 0.11 installed by
    /// scripts/install-deps), finds the OS and pcs's capabilities without starting pcs.
    func testProbeOnThisMachine() throws {
        let platform = Platform(Facts(Platform.probe.parse(try runLocally(Platform.probe.script))))
        XCTAssertEqual(platform.os?.id, "debian")
        let pcs = try XCTUnwrap(platform.pcs, "pcs is installed here: the probe must find it")
        XCTAssertTrue(pcs.version.hasPrefix("0.11"), pcs.version)
        XCTAssertEqual(pcs.dialect, .v0_11)
        XCTAssertEqual(platform.distributionDialect, .v0_11)
        XCTAssertNotNil(platform.version("pacemaker"), "the cluster stack is installed here: its versions are read")
    }

    let debian12 = OSRelease(id: "debian", versionID: "12", idLike: [], prettyName: "Debian GNU/Linux 12 (bookworm)")
    let centos7 = OSRelease(id: "centos", versionID: "7", idLike: ["rhel", "fedora"], prettyName: "CentOS Linux 7 (Core)")
    func pcs(_ text: String) -> PcsCapabilities? { PcsCapabilities.parse(text) }

    func testDetectedDialectWins() throws {
        let hosts = ["node1", "node2"].map { ($0, Platform(os: debian12, pcs: pcs("0.11.5-1 pcmk.cib.roles.promoted-unpromoted pcs.auth.separated-name-and-address"))) }
        let (dialect, note) = try DialectChoice.choose(declared: nil, platforms: hosts)
        XCTAssertEqual(dialect, .v0_11)
        XCTAssertEqual(note, "pcs dialect 0.11: detected on node1, node2 (pcs 0.11.5-1)")
        XCTAssertEqual(try DialectChoice.choose(declared: .v0_11, platforms: hosts).0, .v0_11)
    }

    func testADeclaredDialectTheHostsDoNotRunIsAnError() {
        let hosts = [("node1", Platform(os: debian12, pcs: pcs("0.11.5-1 pcmk.cib.roles.promoted-unpromoted")))]
        XCTAssertThrowsError(try DialectChoice.choose(declared: .v0_9, platforms: hosts)) { error in
            XCTAssertTrue("\(error)".contains("names pcs dialect 0.9, but node1 runs the 0.11 dialect"), "\(error)")
        }
    }

    func testHostsThatDisagreeAreAnError() {
        let hosts = [("db1", Platform(os: centos7, pcs: pcs("0.9.169"))),
                     ("db2", Platform(os: debian12, pcs: pcs("0.11.5 pcmk.cib.roles.promoted-unpromoted")))]
        XCTAssertThrowsError(try DialectChoice.choose(declared: nil, platforms: hosts)) { error in
            XCTAssertTrue("\(error)".contains("the hosts run different releases"), "\(error)")
            XCTAssertTrue("\(error)".contains("pcs 0.9 (db1) and pcs 0.11 drive Corosync 2 and 3"), "\(error)")
        }
    }

    // MARK: each release, from facts recorded on the test bed's hosts (Tests/Fixtures/platform/)

    func recorded(_ release: String, member: Bool = false) throws -> Platform {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../Fixtures/platform/\(release).facts")
        var platform = Platform(Facts(FactScript(marker: FactScript.fixtureMarker).parse(try String(contentsOf: url, encoding: .utf8))))
        if member { platform.clusterConfigured = true }
        return platform
    }

    func testEachReleaseIsReadAsItIs() throws {
        let cases: [(String, ClusterSpec.PcsDialect, String)] = [
            ("debian-11", .v0_10, "Debian GNU/Linux 11 (bullseye): pcs 0.10.8, Pacemaker 2.0.5, Corosync 3.1.2, resource-agents 4.7.0, PostgreSQL 13.16"),
            ("debian-13", .v0_12, "Debian GNU/Linux 13 (trixie): pcs 0.12.0.2, Pacemaker 3.0.0, Corosync 3.1.9, resource-agents 4.16.0, PostgreSQL 17.12"),
        ]
        for (release, dialect, summary) in cases {
            let platform = try recorded(release)
            XCTAssertEqual(platform.pcs?.dialect, dialect, release)
            XCTAssertEqual(platform.distributionDialect, dialect, release)
            XCTAssertEqual(platform.summary, summary)
            XCTAssertFalse(platform.clusterConfigured, release)
        }
        let bookworm = try recorded("debian-12")
        XCTAssertEqual(bookworm.pcs?.dialect, .v0_11)
        XCTAssertTrue(bookworm.summary.hasPrefix("Debian GNU/Linux 12 (bookworm): pcs 0.11.5, Pacemaker 2.1.5, Corosync 3.1.7, resource-agents 4.12.0"), bookworm.summary)
    }

    /// Names and versions come from the host: a hostile one neither crashes pgha nor writes
    /// escape sequences to the terminal.
    func testHostileFactsAreHarmless() {
        let os = OSRelease(id: "debian", versionID: "12", idLike: [], prettyName: "Debian\u{1B}[2J 12")
        let platform = Platform(os: os, pcs: nil, packages: ["postgresql-\u{00BD}": "1", "postgresql-99999999999999999999": "1", "pacemaker": "2.1.5\u{7}-1"])
        XCTAssertEqual(platform.postgresql.count, 0)
        XCTAssertEqual(platform.summary, "Debian?[2J 12: Pacemaker 2.1.5?")
    }

    func testOneReleaseIsNoMix() throws {
        let hosts = try ["node1", "node2", "node3"].map { ($0, try recorded("debian-13")) }
        let (dialect, note) = try DialectChoice.choose(declared: nil, platforms: hosts)
        XCTAssertEqual(dialect, .v0_12)
        XCTAssertFalse(note.contains("Note:"), note)
        XCTAssertEqual(PlatformMix.lines(hosts), ["Debian GNU/Linux 13 (trixie): pcs 0.12.0.2, Pacemaker 3.0.0, Corosync 3.1.9, resource-agents 4.16.0, PostgreSQL 17.12 (node1, node2, node3)"])
    }

    /// Debian 12 → 13 one node at a time: Pacemaker 3.0 takes rolling upgrades from 2.0.0 on,
    /// pcs 0.12 still takes 0.11's commands: allowed, in the 0.11 dialect, and said.
    func testARollingUpgradeFrom12To13IsAllowedInTheOlderDialect() throws {
        let hosts = [("node1", try recorded("debian-12", member: true)), ("node2", try recorded("debian-12", member: true)),
                     ("node3", try recorded("debian-13", member: true))]
        let (dialect, note) = try DialectChoice.choose(declared: nil, platforms: hosts)
        XCTAssertEqual(dialect, .v0_11)
        XCTAssertTrue(note.contains("Note: rolling upgrade under way: Debian GNU/Linux 12 (bookworm): pcs 0.11.5"), note)
        XCTAssertTrue(note.contains("(node1, node2); Debian GNU/Linux 13 (trixie): pcs 0.12.0.2, Pacemaker 3.0.0"), note)
        XCTAssertTrue(note.contains("pgha generates pcs 0.11 commands, which every host's pcs accepts"), note)
        XCTAssertEqual(PlatformMix.lines(hosts).count, 2)
        // 11 → 12 as well (Pacemaker 2.1 from 2.0.5; pcs 0.11 takes 0.10's Master/Slave).
        let older = [("node1", try recorded("debian-11", member: true)), ("node2", try recorded("debian-12", member: true))]
        XCTAssertEqual(try DialectChoice.choose(declared: nil, platforms: older).0, .v0_10)
    }

    func testUnsafeMixesAreRefusedSayingWhatRunsWhere() throws {
        // A new cluster is built on one release.
        let bare = [("node1", try recorded("debian-12")), ("node2", try recorded("debian-13"))]
        XCTAssertThrowsError(try DialectChoice.choose(declared: nil, platforms: bare)) { error in
            XCTAssertTrue("\(error)".contains("none of them is a cluster member yet: pgha builds a new cluster on one release"), "\(error)")
            XCTAssertTrue("\(error)".contains("Debian GNU/Linux 13 (trixie): pcs 0.12.0.2, Pacemaker 3.0.0, Corosync 3.1.9, resource-agents 4.16.0, PostgreSQL 17.12 (node2)"), "\(error)")
        }
        // Debian 11 with 13: no pcs dialect both take.
        let skipped = [("node1", try recorded("debian-11", member: true)), ("node2", try recorded("debian-13", member: true))]
        XCTAssertThrowsError(try DialectChoice.choose(declared: nil, platforms: skipped)) { error in
            XCTAssertTrue("\(error)".contains("pcs 0.12 (node2) rejects the Master/Slave roles that the pcs 0.10 hosts' Pacemaker (node1) needs"), "\(error)")
        }
        // Pacemaker 1.1 with 3.0, Corosync 2 with 3.
        var old = try recorded("debian-11", member: true)
        old.packages["pacemaker"] = "1.1.24-1"
        old.packages["corosync"] = "2.4.5-1"
        XCTAssertThrowsError(try DialectChoice.choose(declared: nil, platforms: [("a", old), ("b", try recorded("debian-13", member: true))])) { error in
            XCTAssertTrue("\(error)".contains("Corosync 2 (a) and 3 (b) do not form one cluster"), "\(error)")
            XCTAssertTrue("\(error)".contains("Pacemaker 3.0.0 (b) takes rolling upgrades from 2.0.0 on, not from 1.1.24 (a)"), "\(error)")
        }
    }

    /// A spec written for 0.11 keeps working after the hosts move to pcs 0.12.
    func testASpecNamingTheOlderDialectOnPcs012() throws {
        let hosts = [("node1", try recorded("debian-13"))]
        let (dialect, note) = try DialectChoice.choose(declared: .v0_11, platforms: hosts)
        XCTAssertEqual(dialect, .v0_11)
        XCTAssertTrue(note.contains("which accepts 0.11's commands"), note)
        XCTAssertThrowsError(try DialectChoice.choose(declared: .v0_10, platforms: hosts))
    }

    func testBareHostsUseTheDistributionsPcs() throws {
        let (dialect, note) = try DialectChoice.choose(declared: nil, platforms: [("db1", Platform(os: centos7, pcs: nil))])
        XCTAssertEqual(dialect, .v0_9)
        XCTAssertTrue(note.contains("pcs not installed yet; CentOS Linux 7 (Core) ships the 0.9 dialect"), note)
        let unknown = Platform(os: OSRelease(id: "arch", versionID: "", idLike: [], prettyName: "Arch"), pcs: nil)
        XCTAssertEqual(try DialectChoice.choose(declared: .v0_10, platforms: [("x", unknown)]).0, .v0_10)
        XCTAssertThrowsError(try DialectChoice.choose(declared: nil, platforms: [("x", unknown)])) { error in
            XCTAssertTrue("\(error)".contains("name pacemaker.pcs_dialect"), "\(error)")
        }
    }
}
