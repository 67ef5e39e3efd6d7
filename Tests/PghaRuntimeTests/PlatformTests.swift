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
            XCTAssertTrue("\(error)".contains("different pcs dialects"), "\(error)")
        }
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
