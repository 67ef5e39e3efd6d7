import Foundation
import PghaPlan
import PghaSpec
import XCTest

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

func plan(_ name: String) throws -> BootstrapPlan {
    let result = SpecLoader.load(path: "\(repositoryRoot)/specs/\(name).yaml", displayPath: "specs/\(name).yaml")
    let spec = try XCTUnwrap(result.value, "\(result.diagnostics)")
    return BootstrapPlan(spec: spec, dialect: try XCTUnwrap(spec.pacemaker.pcsDialect))
}

final class BootstrapPlanTests: XCTestCase {
    func testEveryDependencyComesEarlier() throws {
        for name in ["seed-000", "seed-001", "testbed"] {
            let steps = try plan(name).steps
            var done = Set<String>()
            for step in steps {
                for dependency in step.dependsOn {
                    XCTAssertTrue(done.contains(dependency), "\(name): \(step.id) runs before \(dependency)")
                }
                XCTAssertTrue(done.insert(step.id).inserted, "\(name): \(step.id) twice")
            }
        }
    }

    func testCrossHostBarriers() throws {
        let steps = try plan("testbed").steps
        func step(_ id: String) throws -> PlannedStep { try XCTUnwrap(steps.first { $0.id == id }, id) }
        XCTAssertTrue(try step("node2/basebackup").dependsOn.contains("node1/replication-user"))
        XCTAssertTrue(try step("node3/basebackup").dependsOn.contains("node1/replication-user"))
        XCTAssertEqual(Set(try step("node1/stop-primary").dependsOn), ["node1/replication-user", "node2/stop-standby", "node3/stop-standby"])
        let auth = try step("node1/pcs-auth").dependsOn
        for node in ["node1", "node2", "node3"] { XCTAssertTrue(auth.contains("\(node)/pcsd"), node) }
        XCTAssertTrue(try step("node1/cib-push").dependsOn.contains("node2/stop-standby"))
        // Only the primary initialises a data directory; standbys clone.
        XCTAssertEqual(steps.filter { $0.name == "initdb" }.map(\.host), ["node1"])
        XCTAssertEqual(steps.filter { $0.name == "basebackup" }.map(\.host), ["node2", "node3"])
    }

    func testSourceBuildOnlyForTheSourceMethod() throws {
        XCTAssertTrue(try plan("seed-000").steps.contains { $0.name == "postgresql-build" })
        XCTAssertFalse(try plan("testbed").steps.contains { $0.name == "postgresql-build" })
        XCTAssertFalse(try plan("testbed").steps.contains { $0.name == "selinux" }, "selinux: unmanaged")
    }

    /// The offline plan text is committed; PGHA_UPDATE_GOLDEN=1 rewrites it.
    func testPlanTextMatchesGolden() throws {
        for name in ["seed-000", "testbed"] {
            let text = try plan(name).text()
            let path = "\(repositoryRoot)/Tests/Golden/\(name)/plan.txt"
            if ProcessInfo.processInfo.environment["PGHA_UPDATE_GOLDEN"] == "1" {
                try text.write(toFile: path, atomically: true, encoding: .utf8)
            } else {
                XCTAssertEqual(text, try String(contentsOfFile: path, encoding: .utf8), name)
            }
        }
    }
}
