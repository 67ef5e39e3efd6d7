import Foundation
import PghaRuntime
import PghaShell
import PghaSpec
@testable import PghaSession
import XCTest

/// The pure half of `pgha drill`: log lines, what a round measured, the spread over rounds,
/// which node breaks and where the writer runs, the programs it runs (bash -n), the checks
/// before any host is touched.
final class DrillTests: XCTestCase {
    func spec(_ name: String = "testbed") throws -> ClusterSpec {
        try XCTUnwrap(SpecLoader.load(path: "\(repositoryRoot)/specs/\(name).yaml").value)
    }

    func statusReport(_ state: String) throws -> ClusterReport {
        let spec = try spec()
        var facts: [String: Facts?] = [:]
        for node in ["node1", "node2", "node3"] {
            let text = try String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/status/\(state)/\(node).facts", encoding: .utf8)
            facts[node] = Facts(FactScript(marker: FactScript.fixtureMarker).parse(text))
        }
        return ClusterReport.evaluate(spec: spec, dialect: .v0_11, facts: facts, errors: [:])
    }

    func testLogLinesAndHostileOnes() {
        let text = """
            ack 1 1765000000.100000000 1765000000.120000000
            err 2 1765000000.300000000 1765000001.310000000
            fault 1765000000.200000000
            up 1765000000.150000000
            down 1765000000.250000000
            ack 0 1765000000.1 1765000000.2
            ack 3 1765000000.5 1765000000.4
            ack 4 $(reboot) 1765000000.4
            ack 5 1e3 2e3
            nan 1 2 3
            up inf
            """
        XCTAssertEqual(DrillEvent.parse(text), [
            .ack(id: 1, start: 1765000000.1, end: 1765000000.12), .err(id: 2, start: 1765000000.3, end: 1765000001.31),
            .fault(1765000000.2), .up(1765000000.15), .down(1765000000.25),
        ])
    }

    func testMeasureFromTheFault() throws {
        let writes = DrillEvent.parse("""
            ack 1 100.0 100.02
            ack 2 100.1 100.12
            fault 100.15
            err 3 100.2 100.21
            err 4 100.3 101.3
            err 5 101.4 102.4
            ack 6 108.0 108.05
            ack 7 108.1 108.12
            """)
        let reads = DrillEvent.parse("up 100.0\nup 100.2\ndown 101.0\ndown 102.0\nup 103.5\nup 104.0")
        let times = try XCTUnwrap(DrillTimes.measure(writes: writes, reads: reads))
        XCTAssertEqual(times.writeRecovery ?? 0, 7.9, accuracy: 1e-9)
        XCTAssertEqual(times.writeGap ?? 0, 7.93, accuracy: 1e-9)
        XCTAssertEqual(times.failedWrites, 3)
        XCTAssertEqual(times.readRecovery ?? 0, 3.35, accuracy: 1e-9)
        XCTAssertEqual(times.acknowledged, [1, 2, 6, 7])
        // The ro VIP never stopped answering: 0. It stopped and never came back: nil.
        XCTAssertEqual(DrillTimes.measure(writes: writes, reads: DrillEvent.parse("up 100.0\nup 101.0"))?.readRecovery, 0)
        XCTAssertNil(DrillTimes.measure(writes: writes, reads: DrillEvent.parse("up 100.0\ndown 101.0"))?.readRecovery)
        // No write after the fault: no recovery, no gap. No fault marked: nothing measured.
        let none = try XCTUnwrap(DrillTimes.measure(writes: Array(writes.prefix(6)), reads: []))
        XCTAssertNil(none.writeRecovery)
        XCTAssertNil(none.writeGap)
        XCTAssertNil(DrillTimes.measure(writes: DrillEvent.parse("ack 1 1.0 1.1"), reads: []))
        // A fence takes a moment to cut the node off: writes acknowledged until then are not "back".
        let late = try XCTUnwrap(DrillTimes.measure(writes: DrillEvent.parse("ack 1 100.0 100.02\nfault 100.05\nack 2 100.1 100.12\nack 3 100.2 100.22\nerr 4 100.3 101.3\nack 5 104.0 104.1"), reads: []))
        XCTAssertEqual(late.writeRecovery ?? 0, 4.05, accuracy: 1e-9)
        XCTAssertEqual(late.writeGap ?? 0, 3.88, accuracy: 1e-9)
        XCTAssertEqual(late.failedWrites, 1)
        // A standby's fault that never interrupted writes: back at once, no gap.
        let calm = try XCTUnwrap(DrillTimes.measure(writes: DrillEvent.parse("ack 1 100.0 100.02\nfault 100.05\nack 2 100.1 100.12"), reads: []))
        XCTAssertEqual(calm.writeRecovery ?? -1, 0.07, accuracy: 1e-9)
        XCTAssertEqual(calm.writeGap, 0)
        XCTAssertEqual(calm.failedWrites, 0)
    }

    /// Logs a drill kept on the test bed (PGHA_DUMP_DRILL_LOGS: fence of the primary node2, the
    /// writer on node1; the bed's stale-VIP defect of that run did not touch the writes).
    /// The writer's attempts overlap during an outage: lines arrive in the order attempts end.
    /// A hanging attempt started before the recovery ends after a later one that succeeded.
    func testOverlappingAttemptsInAnyOrder() throws {
        let writes = DrillEvent.parse("""
            ack 1 99.90 99.95
            fault 100.00
            ack 2 100.00 100.05
            err 3 100.10 100.20
            err 4 100.20 102.20
            ack 6 102.40 102.45
            err 5 100.30 102.30
            ack 7 102.50 102.52
            """)
        let times = try XCTUnwrap(DrillTimes.measure(writes: writes, reads: []))
        XCTAssertEqual(try XCTUnwrap(times.writeRecovery), 2.45, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(times.writeGap), 2.40, accuracy: 1e-9, "from ack 2's end to ack 6's end")
        XCTAssertEqual(times.failedWrites, 3)
        XCTAssertEqual(times.acknowledged, [1, 2, 6, 7])
    }

    func testRecordedFenceRound() throws {
        let dir = "\(repositoryRoot)/Tests/Fixtures/drill/fence"
        let writes = DrillEvent.parse(try String(contentsOfFile: "\(dir)/round-1.writes", encoding: .utf8))
        let reads = DrillEvent.parse(try String(contentsOfFile: "\(dir)/round-1.reads", encoding: .utf8))
        let times = try XCTUnwrap(DrillTimes.measure(writes: writes, reads: reads))
        let recovery = try XCTUnwrap(times.writeRecovery)
        XCTAssertGreaterThan(recovery, 2, "writes acknowledged while the fence had not yet cut node2 off are not recovery")
        XCTAssertGreaterThan(times.failedWrites, 0)
        XCTAssertEqual(times.acknowledged.count, Set(times.acknowledged).count)
    }

    func testSpread() throws {
        XCTAssertNil(DrillSpread([]))
        let odd = try XCTUnwrap(DrillSpread([9.0, 7.0, 8.0]))
        XCTAssertEqual([odd.min, odd.median, odd.max], [7, 8, 9])
        XCTAssertEqual(DrillSpread([4.0, 1.0, 3.0, 2.0])?.median, 2.5)
    }

    func testTargetAndWriter() throws {
        let report = try statusReport("healthy")
        XCTAssertEqual(try DrillPlan.target(report, node: "primary"), "node1")
        let ro = try XCTUnwrap(report.vips.first { $0.name == "ro" }?.node)
        XCTAssertEqual(try DrillPlan.target(report, node: "standby"), ro, "the standby holding the ro VIP")
        XCTAssertEqual(try DrillPlan.target(report, node: "node3"), "node3")
        XCTAssertThrowsError(try DrillPlan.target(report, node: "node9"))
        XCTAssertEqual(DrillPlan.writerHost(report, target: "node1"), "node2", "a standby, not the target")
        XCTAssertEqual(DrillPlan.writerHost(report, target: "node2"), "node3", "not the primary: pg_hba admits node addresses")
    }

    func testChecksBeforeAnyHost() throws {
        let testbed = try spec()
        XCTAssertNoThrow(try Drill.check(.init(fault: .fence, node: "primary", rounds: 5), spec: testbed))
        XCTAssertThrowsError(try Drill.check(.init(fault: .killPostgres, node: "node9", rounds: 1), spec: testbed)) { error in
            XCTAssertTrue(((error as? SessionFailure)?.lines ?? []).joined(separator: " ").contains("'node9' is not a node"))
        }
        XCTAssertThrowsError(try Drill.check(.init(fault: .killPostgres, node: "primary", rounds: 0), spec: testbed))
        XCTAssertThrowsError(try Drill.check(.init(fault: .killPostgres, node: "primary", rounds: 21), spec: testbed))
        // seed-000 acknowledges stonith-disabled and has no device: no fence, no kill-corosync.
        let seed = try spec("seed-000")
        XCTAssertThrowsError(try Drill.check(.init(fault: .fence, node: "primary", rounds: 1), spec: seed)) { error in
            XCTAssertTrue(((error as? SessionFailure)?.lines ?? []).joined(separator: " ").contains("needs fencing"))
        }
        XCTAssertThrowsError(try Drill.check(.init(fault: .killCorosync, node: "primary", rounds: 1), spec: seed))
        XCTAssertNoThrow(try Drill.check(.init(fault: .stopNode, node: "primary", rounds: 1), spec: seed))
    }

    /// Every program the drill sends parses as bash, and values reach it quoted.
    func testScriptsParse() throws {
        let spec = try spec()
        let scripts = DrillScripts(spec: spec, directory: "/tmp/pgha-drill-20261206-120000-r1", round: 1)
        var texts = [scripts.writer, try XCTUnwrap(scripts.reader), scripts.markFault.shell, scripts.stop.shell, scripts.remove.shell,
                     DrillScripts.createTable(spec).shell, DrillScripts.dropTable(spec).shell, DrillScripts.present(spec, round: 1).shell]
        for fault in DrillFault.allCases { texts.append(DrillScripts.fault(fault, spec: spec, target: "node1", from: "node2").command) }
        for text in texts {
            let check = Process()
            check.executableURL = URL(fileURLWithPath: "/bin/bash")
            check.arguments = ["-n", "-c", text.text]
            try check.run()
            check.waitUntilExit()
            XCTAssertEqual(check.terminationStatus, 0, text.text)
        }
        XCTAssertTrue(scripts.writer.text.contains("runuser -u postgres -- setsid -f timeout 900 bash -c"))
        XCTAssertTrue(scripts.writer.text.hasSuffix(" >/dev/null 2>&1 </dev/null"))
        XCTAssertEqual(DrillScripts.fault(.fence, spec: spec, target: "node1", from: "node2").on, "node2", "a node does not fence itself")
        XCTAssertEqual(DrillScripts.fault(.killPostgres, spec: spec, target: "node1", from: "node2").on, "node1")
    }
}
