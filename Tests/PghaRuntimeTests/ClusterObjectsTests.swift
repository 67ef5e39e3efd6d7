import Foundation
import PghaRender
import PghaRuntime
import PghaShell
import PghaSpec
import XCTest

/// The spec's own resources, groups and constraints (seeds 002/003: `pacemaker.resources`,
/// `pacemaker.constraints`) through the drift check and the repair, against CIBs made by the
/// real pcs 0.11.5 of this machine (scripts/make-cib-fixtures: cib-testbed-app-*.xml).
final class ClusterObjectsTests: XCTestCase {
    func appSpec() throws -> ClusterSpec {
        let result = SpecLoader.load(path: "\(repositoryRoot)/specs/testbed-app.yaml")
        return try XCTUnwrap(result.value, "\(result.diagnostics)")
    }

    func fixturePath(_ name: String) -> String { "\(repositoryRoot)/Tests/Fixtures/cib-testbed-\(name).xml" }

    func differences(_ name: String) throws -> [String] { try differencesOf(fixturePath(name)) }

    func testConvergedApplicationHasNoDifferences() throws {
        XCTAssertEqual(try differences("app-converged"), [])
    }

    /// The configuration scope of the test bed's CIB after `pgha apply specs/testbed-app.yaml`
    /// (recorded on the bed with `cibadmin --query --scope configuration`, Pacemaker 2.1.5):
    /// nothing differs, and for specs/testbed.yaml the application is foreign.
    func testTheCIBRecordedOnTheBedIsConverged() throws {
        let live = try ClusterConfig.parse(try String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/cib-live-testbed-app-debian12.xml", encoding: .utf8))
        XCTAssertTrue(live.allResourceIDs.isSuperset(of: ["app-group", "app-vip", "app-http"]))
        XCTAssertEqual(ClusterConfig.compare(desired: try ClusterConfig.desired(spec: try appSpec(), dialect: .v0_11), live: live).map(\.description), [])
        var plain = try appSpec()
        plain.pacemaker.resources = []
        plain.pacemaker.constraints = []
        XCTAssertEqual(ClusterConfig.compare(desired: try ClusterConfig.desired(spec: plain, dialect: .v0_11), live: live).map(\.description), [])
    }

    /// Without the application in the spec, its objects are someone else's: not drift.
    func testTheApplicationIsForeignToASpecWithoutIt() throws {
        var spec = try appSpec()
        spec.pacemaker.resources = []
        spec.pacemaker.constraints = []
        let desired = try ClusterConfig.desired(spec: spec, dialect: .v0_11)
        for name in ["app-converged", "app-drifted"] {
            let live = try ClusterConfig.parse(try String(contentsOfFile: fixturePath(name), encoding: .utf8))
            XCTAssertEqual(ClusterConfig.compare(desired: desired, live: live).map(\.description), [], name)
        }
    }

    /// What an operator changed on the application's objects is drift; their `pcs resource ban`
    /// (a cli-ban location) is not, and a location they added to the group is (the spec places
    /// the group itself).
    func testApplicationDriftIsNamedAndTheOperatorsBanIsNot() throws {
        XCTAssertEqual(try differences("app-drifted"), [
            "~ app-vip op monitor: timeout 40s → 20s",
            "~ resource app-http cmdline_options: -m http.server 9090 → -m http.server 8080 --bind 10.77.0.110 --directory /usr/share/doc/pacemaker",
            "+ constraint order promote msPostgresql then start app-group kind=Mandatory",
            "+ constraint location app-group prefers node2=50",
            "- constraint order promote msPostgresql then start app-group kind=Optional (id order-msPostgresql-app-group-Optional)",
            "- constraint location app-group avoids node1=200 (id location-app-group-node1--200)",
        ])
    }

    func testDesiredModelOfTheSeedExamplesInEveryDialect() throws {
        for name in ["seed-002", "seed-003", "testbed-app"] {
            let spec = try XCTUnwrap(SpecLoader.load(path: "\(repositoryRoot)/specs/\(name).yaml").value, name)
            for dialect in ClusterSpec.PcsDialect.allCases {
                let desired = try ClusterConfig.desired(spec: spec, dialect: dialect)
                for resource in spec.pacemaker.resources {
                    XCTAssertTrue(desired.allPrimitives.contains { $0.primitive.id == resource.id && $0.parent == resource.group },
                                  "\(name) \(dialect): \(resource.id)")
                }
            }
        }
        let seed3 = try ClusterConfig.desired(spec: try XCTUnwrap(SpecLoader.load(path: "\(repositoryRoot)/specs/seed-003.yaml").value), dialect: .v0_12)
        XCTAssertTrue(seed3.constraints.contains {
            if case .location(let l) = $0 { return l.rsc == "myfs" && l.node == "node3" && l.score == "-INFINITY" } else { return false }
        })
        XCTAssertTrue(seed3.constraints.contains {
            if case .colocation(let c) = $0 { return c.rsc == "myservice" && c.withRsc == "myvip" && c.score == "INFINITY" && c.withRscRole == nil } else { return false }
        })
        let seed2 = try ClusterConfig.desired(spec: try XCTUnwrap(SpecLoader.load(path: "\(repositoryRoot)/specs/seed-002.yaml").value), dialect: .v0_11)
        guard case .group(let group)? = seed2.resources.first(where: { $0.id == "WebAppGroup" }) else { return XCTFail("no WebAppGroup") }
        XCTAssertEqual(group.members.map(\.id), ["VirtualIP", "NginxService"])
        XCTAssertEqual(group.members[1].agent.description, "systemd:nginx")
    }

    /// The roles a constraint names are written in each dialect's words.
    func testConstraintRolesPerDialect() throws {
        let spec = try appSpec()
        for (dialect, word) in [(ClusterSpec.PcsDialect.v0_9, "master"), (.v0_10, "Master"), (.v0_11, "Promoted"), (.v0_12, "Promoted")] {
            let lines = PcsCommands(spec: spec, dialect: dialect).resourceCommands().map(\.rendered)
            let expected = "pcs -f pgsql_cfg constraint colocation add app-group with \(word) msPostgresql " + (dialect == .v0_9 ? "INFINITY" : "score=INFINITY")
            XCTAssertTrue(lines.contains(expected), "\(dialect): \(lines.filter { $0.contains("app-group with") })")
        }
    }

    /// The repair, run offline with the real pcs and crm_diff, batched as the step runs it: the
    /// application's drift repaired in place, pgha's own objects untouched, the operator's ban kept.
    func testOfflineRepairOfTheApplicationWithRealPcs() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/pcs"),
              FileManager.default.isExecutableFile(atPath: "/usr/sbin/crm_diff") else {
            throw XCTSkip("pcs and pacemaker are not installed")
        }
        let directory = NSTemporaryDirectory() + "pgha-cib-app-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = "\(directory)/repaired.xml"
        let live = try ClusterConfig.parse(try String(contentsOfFile: fixturePath("app-drifted"), encoding: .utf8))
        var script = try XCTUnwrap(try ClusterConfigRepair(spec: try appSpec(), dialect: .v0_11)
            .script(live: live, mode: .offline(input: fixturePath("app-drifted"), output: output)))
        if !FileManager.default.isExecutableFile(atPath: "/usr/sbin/fence_testbed") {
            script = script.replacingOccurrences(of: "stonith create fence-testbed fence_testbed", with: "stonith create fence-testbed fence_testbed --force")
        }
        // As the step runs it: batched (one pcs process for every `pcs -f`), the runner beside it.
        try PcsBatch.runner.write(toFile: "\(directory)/runner.py", atomically: true, encoding: .utf8)
        script = PcsBatch.wrap(script, runner: "\(directory)/runner.py")
        XCTAssertTrue(script.contains("pgha_pcs_flush; fi\ncp new.xml"))
        try script.write(toFile: "\(directory)/repair.sh", atomically: true, encoding: .utf8)
        let rc = try runLocally("bash \(directory)/repair.sh > \(directory)/repair.log 2>&1; echo $?")
        XCTAssertEqual(rc.trimmingCharacters(in: .whitespacesAndNewlines), "0", (try? String(contentsOfFile: "\(directory)/repair.log", encoding: .utf8)) ?? "")
        XCTAssertEqual(try differencesOf(output), [])
        let repaired = try String(contentsOfFile: output, encoding: .utf8)
        XCTAssertTrue(repaired.contains("cli-ban-app-group-on-node3"), "the operator's ban is gone")
        // Against the converged CIB: only the ban, and constraints in another order.
        let diff = try runLocally("crm_diff --no-version --original \(fixturePath("app-converged")) --new \(output); echo \"rc=$?\"")
        let changes = diff.components(separatedBy: "<change ").dropFirst()
        XCTAssertTrue(changes.allSatisfy { $0.hasPrefix("operation=\"move\" path=\"/cib/configuration/constraints/") || $0.contains("cli-ban-app-group-on-node3") },
                      diff)
    }

    func differencesOf(_ path: String) throws -> [String] {
        let desired = try ClusterConfig.desired(spec: try appSpec(), dialect: .v0_11)
        return ClusterConfig.compare(desired: desired, live: try ClusterConfig.parse(try String(contentsOfFile: path, encoding: .utf8))).map(\.description)
    }
}
