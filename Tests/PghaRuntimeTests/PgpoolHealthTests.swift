import Foundation
@testable import PghaRuntime
import PghaShell
import PghaSpec
import XCTest

/// `pgha status` of the pgpool topology judged from PgpoolProbes facts recorded on the test bed
/// (Tests/Fixtures/status-pgpool/<state>/: `PGHA_DUMP_FACT_SCRIPTS=DIR pgha status
/// specs/testbed-pgpool.yaml`): healthy after a failover and rejoin (node2 the primary, node3 the
/// watchdog leader holding the VIP); standby-down: node3's postmaster killed, pgpool holds it down.
final class PgpoolHealthTests: XCTestCase {
    func report(_ state: String, drop: [String] = [], edit: ((String, inout [String: String]) -> Void)? = nil) throws -> PgpoolReport {
        let spec = try XCTUnwrap(SpecLoader.load(path: "\(repositoryRoot)/specs/testbed-pgpool.yaml").value)
        var facts: [String: Facts?] = [:]
        for node in ["node1", "node2", "node3"] {
            let text = try String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/status-pgpool/\(state)/\(node).facts", encoding: .utf8)
            var sections = FactScript(marker: FactScript.fixtureMarker).parse(text)
            edit?(node, &sections)
            facts[node] = drop.contains(node) ? Optional<Facts>.none : Facts(sections)
        }
        return PgpoolReport.evaluate(spec: spec, pgpool: try XCTUnwrap(spec.pgpool), facts: facts, errors: ["node1": "connection refused"])
    }

    func testHealthy() throws {
        let report = try report("healthy")
        XCTAssertEqual(report.allProblems, [])
        XCTAssertEqual(report.health, .healthy)
        XCTAssertEqual(report.exitStatus, 0)
        XCTAssertEqual(report.primary, "node2")
        XCTAssertEqual(report.leader, "node3")
        XCTAssertEqual(report.vipHolder, "node3")
        XCTAssertEqual(report.view, "node3")
        XCTAssertTrue(report.quorum)
        XCTAssertEqual(report.nodes.map(\.watchdog), ["STANDBY", "STANDBY", "LEADER"])
        XCTAssertEqual(report.nodes.map { $0.backend?.role }, ["standby", "primary", "standby"])
        XCTAssertEqual(report.nodes.map { $0.replication?.state }, ["streaming", nil, "streaming"])
        XCTAssertEqual(report.nodes.map(\.postgres.role), ["standby", "primary", "standby"])
        XCTAssertTrue(report.summary.hasPrefix("healthy: pgpool on 10.77.0.102 (leader node3), primary node2, 2 of 2 standbys up and streaming"), report.summary)
    }

    func testStandbyDown() throws {
        let report = try report("standby-down")
        XCTAssertEqual(report.health, .degraded)
        XCTAssertEqual(report.exitStatus, 2)
        XCTAssertEqual(report.nodes[2].backend?.status, "down")
        XCTAssertEqual(report.nodes[2].postgres.controlState, "in archive recovery")
        XCTAssertEqual(report.allProblems, ["node3: pgpool holds it down while node2 is the primary: pgha plan shows how it is brought back, pgha apply does it"])
    }

    /// An unreachable node is degraded, not down: the leader's view is used.
    func testUnreachableNode() throws {
        let report = try report("healthy", drop: ["node1"])
        XCTAssertEqual(report.health, .degraded)
        XCTAssertEqual(report.allProblems, ["node1: cannot be reached: connection refused"])
    }

    /// The VIP holder (the leader) unreachable: the VIP still answers from the others, degraded;
    /// the view is another node's.
    func testVIPHolderUnreachable() throws {
        let report = try report("healthy", drop: ["node3"])
        XCTAssertEqual(report.health, .degraded)
        XCTAssertEqual(report.view, "node1")
        XCTAssertEqual(report.problems, ["the delegate VIP 10.77.0.102 answers, on a node pgha cannot read"])
    }

    /// Nobody holds the VIP and pgpool answers on it nowhere: down (exit 3).
    func testNoVIP() throws {
        let report = try report("healthy") { node, sections in
            sections["pgpool.vip-answers"] = "no"
            if node == "node3" { sections["node.addresses"] = "2: eth0    inet 10.77.0.13/24 scope global eth0" }
        }
        XCTAssertEqual(report.health, .down)
        XCTAssertEqual(report.exitStatus, 3)
        XCTAssertEqual(report.problems, ["the delegate VIP 10.77.0.102 is on no node: clients cannot connect"])
        XCTAssertTrue(report.summary.hasPrefix("down: no writes through pgpool on 10.77.0.102"), report.summary)
    }

    /// Two nodes' pgpool disagree on the primary; a watchdog without quorum.
    func testSplitViews() throws {
        let report = try report("healthy") { node, sections in
            if node == "node1" { sections["pgpool.backends"] = sections["pgpool.backends"]?.replacingOccurrences(of: "up primary primary", with: "up standby primary") }
            sections["pgpool.watchdog"] = sections["pgpool.watchdog"]?.replacingOccurrences(of: "QUORUM EXIST", with: "QUORUM ABSENT")
        }
        XCTAssertEqual(report.health, .degraded)
        XCTAssertEqual(report.problems, ["the watchdog has no quorum: it does not fail over and may release the VIP", "pgpool on node1 sees primary none, on node3 node2"])
    }

    func testBackendParsing() {
        // pgpool-II 4.3+ (pg_status, pg_role) and 4.1/4.2 layouts.
        let new = PgpoolBackend.parse("10.77.0.11 5432 3 0.333333 down up standby primary 0 none none 2026-12-07 11:48:50\n")
        XCTAssertEqual(new, [PgpoolBackend(address: "10.77.0.11", port: 5432, status: "down", role: "standby", postgresStatus: "up", postgresRole: "primary",
                                           delayBytes: 0, replicationState: nil, syncState: nil)])
        let old = PgpoolBackend.parse("192.168.1.2 5432 2 0.500000 up standby 0 streaming async 2021-01-01 10:00:00\n")
        XCTAssertEqual(old.first?.role, "standby")
        XCTAssertEqual(old.first?.status, "up")
        XCTAssertEqual(old.first?.replicationState, "streaming")
        XCTAssertEqual(PgpoolBackend.parse("garbage\n; rm -rf /\n"), [])
    }

    func testWatchdogParsing() throws {
        let text = try String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/status-pgpool/healthy/node1.facts", encoding: .utf8)
        let facts = Facts(FactScript(marker: FactScript.fixtureMarker).parse(text))
        let spec = try XCTUnwrap(SpecLoader.load(path: "\(repositoryRoot)/specs/testbed-pgpool.yaml").value)
        let watchdog = try XCTUnwrap(facts[PgpoolProbes(spec: spec, pgpool: try XCTUnwrap(spec.pgpool)).watchdog])
        XCTAssertEqual(watchdog.leaderHost, "10.77.0.13")
        XCTAssertEqual(watchdog.members.map(\.host).sorted(), ["10.77.0.11", "10.77.0.12", "10.77.0.13"])
        XCTAssertNil(PgpoolWatchdog.parse(""))
    }
}

/// The rejoin step's choice for a node pgpool holds down, from facts recorded on the bed
/// (standby-down: node3's postmaster killed while node2 is pgpool's primary).
final class PgpoolRejoinDecisionTests: XCTestCase {
    func testChoice() throws {
        let spec = try XCTUnwrap(SpecLoader.load(path: "\(repositoryRoot)/specs/testbed-pgpool.yaml").value)
        let pgpool = try XCTUnwrap(spec.pgpool)
        let probes = ServerProbes(spec: spec, runID: "20261207-000000")
        let text = try String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/status-pgpool/standby-down/node3.facts", encoding: .utf8)
        let recorded = FactScript(marker: FactScript.fixtureMarker).parse(text)
        func step(_ host: String) -> PgpoolRejoinStep { PgpoolRejoinStep(host: host, probes: probes, pgpool: pgpool, standbyConf: "/etc/pgpool2/pgha-standby-conf") }
        func facts(running: Bool, role: String = "", streaming: String = "", control: String? = nil) -> Facts {
            var s = recorded
            s["pg.running"] = running ? "yes" : "no"
            s["pg.role"] = role
            s["pg.streaming"] = streaming
            if let control { s["node.controldata"] = s["node.controldata"]?.replacingOccurrences(of: "in archive recovery", with: control) }
            return Facts(s)
        }
        // A stopped standby: started as a standby of pgpool's primary (node2), then attached.
        XCTAssertEqual(step("node3").action(facts(running: false)), .start(from: "node2", address: "10.77.0.12"))
        XCTAssertEqual(try step("node3").decide(facts(running: false))?.action, .update)
        XCTAssertEqual(step("node3").action(facts(running: false, control: "shut down in recovery")), .start(from: "node2", address: "10.77.0.12"))
        // Stopped, but it was a primary (crashed or shut down): its WAL may be past the fork: recovered.
        XCTAssertEqual(step("node3").action(facts(running: false, control: "in production")), .recover(from: "node2"))
        XCTAssertEqual(step("node3").action(facts(running: false, control: "shut down")), .recover(from: "node2"))
        XCTAssertEqual(try step("node3").decide(facts(running: false, control: "shut down"))?.action, .destructive)
        // Running and streaming: attached; running but not streaming: recovered.
        XCTAssertEqual(step("node3").action(facts(running: true, role: "standby", streaming: "streaming")), .attach)
        XCTAssertEqual(step("node3").action(facts(running: true, role: "primary")), .recover(from: "node2"))
        // Nodes pgpool holds up: nothing.
        XCTAssertNil(step("node1").action(facts(running: true, role: "standby", streaming: "streaming")))
        XCTAssertNil(step("node2").action(facts(running: true, role: "primary")))
    }
}
