import Foundation
import PghaRender
import PghaRuntime
import PghaSpec
import PghaShell
import XCTest

/// What a running server needs after its configuration is repaired: a reload, a restart of a
/// standby through Pacemaker, or — on the primary — a word to the user, never a silent failover.
final class PostgresConfigStepTests: XCTestCase {
    let path = "/var/lib/postgresql/15/pgha/postgresql.conf"
    let desired = "# pgha\nmax_connections = 100\nshared_buffers = 128MB\nwork_mem = 4MB\n"

    func step(hba: Bool = false) -> PostgresConfigStep {
        let file = RenderedFile(node: "node2", path: hba ? "/var/lib/postgresql/15/pgha/pg_hba.conf" : path, content: desired, mode: 0o600,
                                owner: "postgres", group: "postgres", kind: .whole, sensitive: false, template: "postgresql.conf.stencil")
        return PostgresConfigStep(file: FileStep(host: "node2", name: hba ? "pg-hba" : "postgresql-conf", dependsOn: [], file: file),
                                  binDir: "/usr/lib/postgresql/15/bin", dataDir: "/var/lib/postgresql/15/pgha", osUser: "postgres",
                                  port: 5432, clone: "msPostgresql", pgsqlResource: "pgsql", sharedState: SharedFacts.Value(.pg, "true"))
    }

    func facts(_ content: String, role: String = "standby", pending: [String] = [], running: Bool = true, managed: Bool = true, hba: Bool = false) -> Facts {
        let file = hba ? "/var/lib/postgresql/15/pgha/pg_hba.conf" : path
        let settings = (["role=\(role)", "restart=shared_buffers", "restart=max_connections"] + pending.map { "pending=\($0)" }).joined(separator: "\n")
        return Facts(["file:\(file)": "600 postgres postgres\n" + Data(content.utf8).base64EncodedString(),
                      "pg.running": running ? "yes" : "no", "cluster.managed": managed ? "yes" : "no", "pg.settings": settings])
    }

    func testConvergedIsNil() throws {
        XCTAssertNil(try step().decide(facts(desired)))
    }

    func testAReloadableSettingIsReloaded() throws {
        let change = try XCTUnwrap(try step().decide(facts(desired.replacingOccurrences(of: "work_mem = 4MB", with: "work_mem = 64MB"))))
        XCTAssertEqual(change.summary, "update \(path): content differs; reload PostgreSQL")
        XCTAssertTrue(change.diff?.contains("-work_mem = 64MB\n+work_mem = 4MB") == true, change.diff ?? "")
    }

    func testARestartOnlySettingOnAStandbyRestartsItThroughPacemaker() throws {
        let change = try XCTUnwrap(try step().decide(facts(desired + "shared_buffers = 48MB\n")))
        XCTAssertEqual(change.summary, "update \(path): content differs; reload PostgreSQL, then restart it (through Pacemaker) if shared_buffers waits for a restart")
        // Before Pacemaker manages it, pg_ctl does.
        XCTAssertTrue(try step().decide(facts(desired + "shared_buffers = 48MB\n", managed: false))?.summary.contains("(pg_ctl)") == true)
    }

    func testOnThePrimaryARestartIsLeftToTheUser() throws {
        let change = try XCTUnwrap(try step().decide(facts(desired.replacingOccurrences(of: "100", with: "200"), role: "primary")))
        XCTAssertTrue(change.summary.contains("if max_connections waits for a restart of this primary, that is a failover, which pgha leaves to you"), change.summary)
    }

    func testAPendingRestartWithTheFileRightStillShows() throws {
        let change = try XCTUnwrap(try step().decide(facts(desired, pending: ["shared_buffers"])))
        XCTAssertEqual(change.action, .update)
        XCTAssertEqual(change.summary, "reload PostgreSQL, then restart it (through Pacemaker) if shared_buffers waits for a restart")
        // A stopped server needs nothing: it reads the file when Pacemaker starts it.
        XCTAssertNil(try step().decide(facts(desired, pending: ["shared_buffers"], running: false)))
    }

    func testPgHbaIgnoresSettings() throws {
        XCTAssertNil(try step(hba: true).decide(facts(desired, pending: ["shared_buffers"], hba: true)))
        XCTAssertEqual(try step(hba: true).decide(facts("local all all trust\n", hba: true))?.summary.hasSuffix("; reload PostgreSQL"), true)
    }

    func testChangedSettingsComparesValuesNotText() {
        XCTAssertEqual(PostgresConfigStep.changedSettings("a = 1\nb = 'x' # note\ninclude 'r.conf'\n", "b='x'\na = 2\nc = 3\n"), ["a", "c"])
    }
}
