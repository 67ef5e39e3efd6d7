import Foundation
import PghaRender
import PghaRuntime
import PghaShell
import PghaSpec
import XCTest

func loadSpec(_ name: String) throws -> ClusterSpec {
    let result = SpecLoader.load(path: "\(repositoryRoot)/specs/\(name).yaml", displayPath: "specs/\(name).yaml")
    return try XCTUnwrap(result.value, "\(result.diagnostics)")
}

/// The bootstrap catalog of a spec, files rendered without secrets (nothing runs).
func bootstrapCatalog(_ spec: ClusterSpec, dialect: ClusterSpec.PcsDialect? = nil, files: [RenderedFile]? = nil,
                      rebuild: Set<String> = [], passwords: (String, String) = ("r", "h")) throws -> StepCatalog {
    let dialect = dialect ?? spec.pacemaker.pcsDialect ?? .v0_11
    let files = try files ?? Renderer(spec: spec, dialect: dialect, secrets: nil, pgpoolDialect: spec.pgpool?.dialect ?? .v4_2).renderAll()
    return try StepCatalog.of(BootstrapContext(spec: spec, dialect: dialect, files: files, replicationPassword: passwords.0,
                                                      haclusterPassword: passwords.1, rebuild: rebuild, runID: "20261202-000000"))
}

final class StepCatalogTests: XCTestCase {
    func catalog(_ name: String) throws -> StepCatalog { try bootstrapCatalog(try loadSpec(name)) }

    func testEveryDependencyComesEarlier() throws {
        for name in ["seed-000", "seed-001", "testbed"] {
            var done = Set<String>()
            for step in try catalog(name).steps {
                for dependency in step.dependsOn {
                    XCTAssertTrue(done.contains(dependency), "\(name): \(step.id) runs before \(dependency)")
                }
                XCTAssertTrue(done.insert(step.id).inserted, "\(name): \(step.id) twice")
            }
        }
    }

    func testCrossHostBarriers() throws {
        let catalog = try catalog("testbed")
        func dependencies(_ id: String) throws -> [String] { try XCTUnwrap(catalog.step(id), id).dependsOn }
        XCTAssertTrue(try dependencies("node2/basebackup").contains("node1/replication-user"))
        XCTAssertTrue(try dependencies("node3/basebackup").contains("node1/replication-user"))
        XCTAssertEqual(Set(try dependencies("node1/stop-primary")), ["node1/pgsql-agent-fix", "node2/stop-standby", "node3/stop-standby"])
        // Pacemaker's preparation runs on a standby before its clone, on the primary after its role exists.
        XCTAssertEqual(try dependencies("node1/hacluster-password"), ["node1/replication-user"])
        XCTAssertEqual(try dependencies("node2/basebackup").first, "node2/pgsql-agent-fix")
        // Every node gets its first CIB after the setup, and the cluster starts after all of them.
        for node in ["node1", "node2", "node3"] { XCTAssertTrue(try dependencies("\(node)/first-cib").contains("node1/cluster-setup"), node) }
        XCTAssertEqual(Set(try dependencies("node1/cluster-start")), ["node1/first-cib", "node2/first-cib", "node3/first-cib"])
        let auth = try dependencies("node1/pcs-auth")
        for node in ["node1", "node2", "node3"] { XCTAssertTrue(auth.contains("\(node)/pcsd"), node) }
        XCTAssertTrue(try dependencies("node1/cib-push").contains("node2/stop-standby"))
        // Only the primary initialises a data directory; standbys clone.
        XCTAssertEqual(catalog.steps.filter { $0.name == "initdb" }.map(\.host), ["node1"])
        XCTAssertEqual(catalog.steps.filter { $0.name == "basebackup" }.map(\.host), ["node2", "node3"])
    }

    func testSourceBuildOnlyForTheSourceMethod() throws {
        XCTAssertTrue(try catalog("seed-000").steps.contains { $0.name == "postgresql-build" })
        XCTAssertFalse(try catalog("testbed").steps.contains { $0.name == "postgresql-build" })
        XCTAssertFalse(try catalog("testbed").steps.contains { $0.name == "selinux" }, "selinux: unmanaged")
    }

    /// The offline plan text is committed; PGHA_UPDATE_GOLDEN=1 rewrites it.
    func testPlanTextMatchesGolden() throws {
        for name in ["seed-000", "testbed"] {
            let text = try catalog(name).text(spec: try loadSpec(name))
            let path = "\(repositoryRoot)/Tests/Golden/\(name)/plan.txt"
            if ProcessInfo.processInfo.environment["PGHA_UPDATE_GOLDEN"] == "1" {
                try text.write(toFile: path, atomically: true, encoding: .utf8)
            } else {
                XCTAssertEqual(text, try String(contentsOfFile: path, encoding: .utf8), name)
            }
        }
    }

    // The catalog's own checks: each defect is refused when the catalog is built.

    struct Probing: Step {
        var host: String
        var name: String
        var dependsOn: [String] = []
        var probeCommand: Shell = "echo one"
        var summary: String { "probe" }
        func probe(_ script: inout FactScript) { script.add("shared.name", probeCommand) }
        func decide(_ facts: Facts) throws -> Change? { nil }
        func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {}
    }

    func testADependencyOnNoStepIsACatalogError() {
        var builder = CatalogBuilder()
        builder.add(Probing(host: "a", name: "one"))
        builder.add(Probing(host: "b", name: "two"), after: ["a/missing"])
        XCTAssertThrowsError(try builder.build()) { error in
            XCTAssertEqual("\(error)", "b/two depends on a/missing, which is no step of this run")
        }
    }

    func testADependencyOnALaterStepIsACatalogError() {
        // A waits for B, B waits for A's host order: the executor would wait for ever.
        var later = Probing(host: "a", name: "first")
        later.dependsOn = ["b/second"]
        XCTAssertThrowsError(try StepCatalog([later, Probing(host: "b", name: "second")])) { error in
            XCTAssertEqual("\(error)", "a/first depends on b/second, which comes after it")
        }
    }

    func testOneIdTwiceIsACatalogError() {
        XCTAssertThrowsError(try StepCatalog([Probing(host: "a", name: "x"), Probing(host: "a", name: "x")])) { error in
            XCTAssertEqual("\(error)", "a/x is in the catalog twice")
        }
    }

    func testTwoProbesOfOneNameWithDifferentCommandsIsACatalogError() throws {
        // The same probe asked by two steps is read once: fine.
        XCTAssertNoThrow(try StepCatalog([Probing(host: "a", name: "x"), Probing(host: "a", name: "y")]))
        // On different hosts: fine too.
        XCTAssertNoThrow(try StepCatalog([Probing(host: "a", name: "x"), Probing(host: "b", name: "y", probeCommand: "echo two")]))
        XCTAssertThrowsError(try StepCatalog([Probing(host: "a", name: "x"), Probing(host: "a", name: "y", probeCommand: "echo two")])) { error in
            XCTAssertEqual("\(error)", "a: probes shared.name are read by two steps with different commands")
        }
    }

    func testAMissingRenderedFileIsACatalogError() throws {
        let spec = try loadSpec("testbed")
        let files = try Renderer(spec: spec, dialect: .v0_11, secrets: nil).renderAll().filter { $0.template != "pcs-resources.sh.stencil" }
        XCTAssertThrowsError(try bootstrapCatalog(spec, files: files)) { error in
            XCTAssertEqual("\(error)", "cluster: no file was rendered from pcs-resources.sh.stencil")
        }
    }

    func testASourceInstallWithoutAPrefixIsACatalogError() throws {
        var spec = try loadSpec("seed-000")
        spec.postgresql.install.prefix = nil
        XCTAssertThrowsError(try bootstrapCatalog(spec)) { error in
            XCTAssertTrue("\(error)".hasSuffix("postgresql-build: the spec's source install names no prefix, tarball or source_version"), "\(error)")
        }
    }

    /// Every spec in specs/ builds a catalog, in each pcs dialect, with --rebuild of every node.
    func testEverySpecBuildsACatalog() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: "\(repositoryRoot)/specs").filter { $0.hasSuffix(".yaml") }
        XCTAssertFalse(names.isEmpty)
        for name in names {
            let spec = try loadSpec(String(name.dropLast(5)))
            for dialect in ClusterSpec.PcsDialect.allCases {
                XCTAssertNoThrow(try bootstrapCatalog(spec, dialect: dialect, rebuild: Set(spec.nodes.map(\.name))), "\(name) \(dialect)")
            }
        }
    }
}
