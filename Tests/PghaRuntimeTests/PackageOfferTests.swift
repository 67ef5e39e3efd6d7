import Foundation
import PghaRuntime
import XCTest

/// The package step refuses, at plan time, a package the host's apt does not know — Debian 13
/// has no postgresql-15 — from `apt-cache policy` output recorded on the test bed's roots
/// (Tests/Fixtures/platform/apt-offer-*.txt).
final class PackageOfferTests: XCTestCase {
    func recorded(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Fixtures/platform/\(name).txt")
        return try String(contentsOf: url, encoding: .utf8)
    }

    let step = PackagesStep(host: "node3", name: "postgresql-packages", packages: ["postgresql-15", "postgresql-contrib-15"], summary: "")

    func testDebian13HasNoPostgresql15AndSaysWhatItHas() throws {
        let facts = Facts(["packages:postgresql-packages": "", "packages-offered:postgresql-packages": try recorded("apt-offer-debian-13-postgresql-15")])
        XCTAssertThrowsError(try step.decide(facts)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("postgresql-15, postgresql-contrib-15: not offered by node3's package sources"), text)
            XCTAssertTrue(text.contains("this host's sources offer postgresql-17: set postgresql.version to one of those"), text)
        }
    }

    /// Debian 12 knows both — postgresql-contrib-15 is virtual (no candidate, provided by
    /// postgresql-15): apt installs it, so pgha does not refuse it.
    func testDebian12OffersThemVirtualOnesIncluded() throws {
        let offer = try XCTUnwrap(PackageOffer.parse(try recorded("apt-offer-debian-12-postgresql-15")))
        XCTAssertEqual(offer.known, ["postgresql-15", "postgresql-contrib-15"])
        XCTAssertEqual(offer.postgresqlMajors, [15])
        let facts = Facts(["packages:postgresql-packages": "", "packages-offered:postgresql-packages": try recorded("apt-offer-debian-12-postgresql-15")])
        XCTAssertEqual(try step.decide(facts)?.summary, "install postgresql-15 postgresql-contrib-15")
    }

    /// Hosts without apt (yum names a missing package itself): no offer read, nothing refused.
    func testNoAptNoJudgement() throws {
        XCTAssertNil(PackageOffer.parse(""))
        let facts = Facts(["packages:postgresql-packages": "", "packages-offered:postgresql-packages": ""])
        XCTAssertEqual(try step.decide(facts)?.summary, "install postgresql-15 postgresql-contrib-15")
    }

    /// The probe, run for real on this Debian 12 machine: apt-cache (~1 s on a full archive's
    /// lists) is asked only when a package is missing.
    func testProbeOnThisMachine() throws {
        func offer(_ packages: [String]) throws -> PackageOffer? {
            var script = FactScript()
            PackagesStep(host: "here", name: "postgresql-packages", packages: packages, summary: "").probe(&script)
            return PackageOffer.parse(script.parse(try runLocally(script.script))["packages-offered:postgresql-packages"] ?? "")
        }
        XCTAssertNil(try offer(["postgresql-15"]), "everything installed: apt-cache not asked")
        let asked = try XCTUnwrap(try offer(["postgresql-15", "pgha-no-such-package"]))
        XCTAssertEqual(asked.known, ["postgresql-15"])
        XCTAssertTrue(asked.postgresqlMajors.contains(15), "\(asked.postgresqlMajors)")
    }
}
