import Foundation
@testable import PghaRuntime
import PghaShell
import PghaSpec
import XCTest

/// `pgha status` judged from NodeProbes facts recorded on the test bed
/// (Tests/Fixtures/status/<state>/: `PGHA_DUMP_FACT_SCRIPTS=DIR pgha status specs/testbed.yaml`):
/// healthy; node3's replay paused while 46 MB were written (lagging); the ro VIP's address
/// deleted by hand (vip-missing); node1's postmaster killed and node2 promoted (failed-over).
final class ClusterHealthTests: XCTestCase {
    func report(_ state: String, drop: [String] = [], edit: ((inout [String: Facts?]) -> Void)? = nil) throws -> ClusterReport {
        let spec = try XCTUnwrap(SpecLoader.load(path: "\(repositoryRoot)/specs/testbed.yaml").value)
        var facts: [String: Facts?] = [:]
        for node in ["node1", "node2", "node3"] {
            let text = try String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/status/\(state)/\(node).facts", encoding: .utf8)
            facts[node] = drop.contains(node) ? Optional<Facts>.none : Facts(FactScript(marker: FactScript.fixtureMarker).parse(text))
        }
        edit?(&facts)
        return ClusterReport.evaluate(spec: spec, dialect: .v0_11, facts: facts, errors: ["node3": "connection refused"])
    }

    func testHealthy() throws {
        let report = try report("healthy")
        XCTAssertEqual(report.health, .healthy)
        XCTAssertEqual(report.exitStatus, 0)
        XCTAssertEqual(report.primary, "node1")
        XCTAssertEqual(report.allProblems, [])
        XCTAssertEqual(report.nodes.map(\.pacemakerRole), ["Promoted", "Unpromoted", "Unpromoted"])
        XCTAssertEqual(report.nodes.map { $0.replication?.state }, [nil, "streaming", "streaming"])
        XCTAssertEqual(report.nodes.map(\.postgres.role), ["primary", "standby", "standby"])
        XCTAssertEqual(report.vips.map(\.node), ["node1", "node2"])
        XCTAssertEqual(report.vips.map(\.answers), [true, true])
        XCTAssertEqual(report.nodes[1].attributes["pgsql-status"], "HS:async")
        XCTAssertTrue(report.summary.hasPrefix("healthy: primary node1 behind 10.77.0.100, 2 of 2 standbys streaming"), report.summary)
    }

    func testLagging() throws {
        let report = try report("lagging")
        XCTAssertEqual(report.health, .degraded)
        XCTAssertEqual(report.exitStatus, 2)
        XCTAssertEqual(report.allProblems, ["node3: lags 46.1 MiB behind node1"])
        XCTAssertEqual(report.nodes[2].replication?.lagBytes, 48_288_232)
    }

    func testVIPMissing() throws {
        let report = try report("vip-missing")
        XCTAssertEqual(report.health, .degraded)
        XCTAssertEqual(report.allProblems, ["the ro VIP 10.77.0.101 is on no node"])
        XCTAssertNil(report.vips[1].node)
    }

    func testFailedOverWithLock() throws {
        let report = try report("failed-over")
        XCTAssertEqual(report.health, .degraded)
        XCTAssertEqual(report.primary, "node2")
        let node1 = report.nodes[0]
        XCTAssertEqual(node1.lockFile, .present)
        XCTAssertEqual(node1.postgres.running, false)
        XCTAssertEqual(node1.postgres.controlState, "in production")
        XCTAssertEqual(node1.failCounts, ["pgsql": "1"])
        XCTAssertEqual(node1.attributes["pgsql-data-status"], "DISCONNECT")
        XCTAssertTrue(node1.problems.contains { $0.contains("PGSQL.lock is here") }, "\(node1.problems)")
        XCTAssertTrue(node1.problems.contains("failed pgsql_monitor_3000: not running"), "\(node1.problems)")
        XCTAssertEqual(report.nodes[1].problems, [])
    }

    /// A node that cannot be reached is part of the report, not an error; the rest still judged.
    func testNodeUnreachable() throws {
        let report = try report("healthy", drop: ["node3"])
        XCTAssertEqual(report.health, .degraded)
        XCTAssertEqual(report.nodes[2].reachable, false)
        XCTAssertEqual(report.nodes[2].problems.first, "cannot be reached: connection refused")
        XCTAssertEqual(report.primary, "node1")
    }

    /// No writable primary behind the rw VIP: down (exit 3).
    func testDownWithoutThePrimary() throws {
        let report = try report("healthy", drop: ["node1"])
        XCTAssertEqual(report.health, .down)
        XCTAssertEqual(report.exitStatus, 3)
        XCTAssertTrue(report.problems.contains("the rw VIP 10.77.0.100 is on no node: no writes"), "\(report.problems)")
    }

    func testJSONIsStable() throws {
        let data = try JSONEncoder().encode(try report("healthy"))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["format"] as? Int, 1)
        XCTAssertEqual(object["health"] as? String, "healthy")
        let nodes = try XCTUnwrap(object["nodes"] as? [[String: Any]])
        XCTAssertEqual(Set(nodes[1].keys), ["name", "address", "reachable", "membership", "pacemakerRole", "postgres", "replication",
                                            "lockFile", "attributes", "failCounts", "failedActions", "vips", "problems"])
    }
}

/// The divergence parsers and judgement, from the recorded failover.
final class DivergenceTests: XCTestCase {
    func control(state: String = "in production", timeline: Int = 2, checkpoint: String = "0/4000100") -> ControlData {
        ControlData(systemIdentifier: "7714784320899220093", state: state, timeline: timeline, checkpoint: checkpoint,
                    minRecoveryEnd: "0/0", walLogHints: true, checksums: true)
    }

    func upstream() throws -> UpstreamState {
        try XCTUnwrap(UpstreamState.parse("identify=7714784320899220093|3|0/4080580|\nhistory=1\t0/40000A0\tno recovery target specified\nhistory=\nhistory=2\t0/4080468\tno recovery target specified"))
    }

    func testParsers() throws {
        let up = try upstream()
        XCTAssertEqual(up.timeline, 3)
        XCTAssertEqual(up.forks.mapValues(\.description), [1: "0/40000A0", 2: "0/4080468"])
        let wal = try XCTUnwrap(WALBeyondFork.parse("records=6 first=0/04080468 last=0/040805F0 commits=2 first_commit=2026-12-02_19:15:33 last_commit=2026-12-02_19:15:34"))
        XCTAssertEqual(wal.commits, 2)
        XCTAssertEqual(wal.last?.description, "0/40805F0")
        XCTAssertEqual(wal.lastCommit, "2026-12-02 19:15:34")
        XCTAssertNil(UpstreamState.parse("identify=|||"))
        XCTAssertNil(UpstreamState.parse("identify=12x|3|0/1|"))
        XCTAssertNil(LSN("0/1/2"))
        XCTAssertNil(LSN("G/1"))
        XCTAssertTrue(LSN("1/0")! > LSN("0/FFFFFFFF")!)
    }

    func testJudge() throws {
        let up = try upstream()
        let lost = WALBeyondFork(records: 6, first: LSN("0/4080468"), last: LSN("0/40805F0"), commits: 2, firstCommit: nil, lastCommit: nil)
        var none = lost
        none.commits = 0
        let nothing = WALBeyondFork(records: 0, first: nil, last: nil, commits: 0, firstCommit: nil, lastCommit: nil)
        XCTAssertEqual(Divergence.judge(local: control(), upstream: up, beyond: lost, restartOnPromote: false), .lost(fork: LSN("0/4080468")!, beyond: lost))
        XCTAssertEqual(Divergence.judge(local: control(), upstream: up, beyond: none, restartOnPromote: false), .diverged(fork: LSN("0/4080468")!, beyond: none))
        XCTAssertEqual(Divergence.judge(local: control(), upstream: up, beyond: nothing, restartOnPromote: false), .behind(fork: LSN("0/4080468")!))
        // Nothing past the fork read, yet a checkpoint after it: not trusted.
        guard case .unknown = Divergence.judge(local: control(checkpoint: "0/5000000"), upstream: up, beyond: nothing, restartOnPromote: false) else { return XCTFail() }
        // The WAL could not be read.
        guard case .unknown = Divergence.judge(local: control(), upstream: up, beyond: nil, restartOnPromote: false) else { return XCTFail() }
        // A primary of the primary's own timeline (restart_on_promote=true): only a clone is safe.
        guard case .unknown(let why) = Divergence.judge(local: control(timeline: 3), upstream: up, beyond: nil, restartOnPromote: true) else { return XCTFail() }
        XCTAssertTrue(why.contains("restart_on_promote=true"), why)
        // A standby of the primary's timeline that stopped is just behind.
        XCTAssertEqual(Divergence.judge(local: control(state: "shut down in recovery", timeline: 3), upstream: up, beyond: nil, restartOnPromote: false), .behind(fork: nil))
        // A timeline that is no ancestor.
        guard case .unknown = Divergence.judge(local: control(timeline: 7), upstream: up, beyond: nil, restartOnPromote: false) else { return XCTFail() }
        var foreign = control()
        foreign.systemIdentifier = "1"
        guard case .foreign = Divergence.judge(local: foreign, upstream: up, beyond: lost, restartOnPromote: false) else { return XCTFail() }
    }
}

/// Every fact script pgha sends is valid bash (`bash -n`): a syntax error would end the script
/// early and every later probe would read as "nothing there" — found once, by a rejoin that
/// never converged.
final class FactScriptSyntaxTests: XCTestCase {
    func testEveryHostsScriptParses() throws {
        for name in ["seed-000", "seed-001", "testbed", "testbed-sync", "testbed-source"] {
            let spec = try loadSpec(name)
            let catalog = try bootstrapCatalog(spec, rebuild: Set(spec.nodes.map(\.name)))
            var scripts: [(String, FactScript)] = []
            for host in catalog.hosts {
                var script = FactScript()
                for step in catalog.steps where step.host == host { step.probe(&script) }
                scripts.append(("\(name) \(host)", script))
            }
            var status = FactScript()
            NodeProbes(spec: spec).probe(&status)
            scripts.append(("\(name) status", status))
            for (label, script) in scripts {
                let path = NSTemporaryDirectory() + "pgha-syntax-\(UUID().uuidString).sh"
                try script.script.write(toFile: path, atomically: true, encoding: .utf8)
                defer { try? FileManager.default.removeItem(atPath: path) }
                XCTAssertEqual(try runLocally("bash -n \(quote(path)) 2>&1 && echo ok"), "ok\n", label)
            }
        }
    }
}
