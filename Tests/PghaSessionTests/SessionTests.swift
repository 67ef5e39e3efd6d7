import Foundation
import PghaRuntime
import PghaSession
import PghaShell
import PghaSpec
import PghaTransport
import XCTest

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The live session as a library: what `plan` and `apply` do besides printing. Opening against
/// real hosts is the end-to-end suite's (scripts/e2e); here, everything that must happen, or be
/// refused, before a host is contacted, and the plan, saved plan and report it produces.
final class SessionTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "pgha-session-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    var testbed: SessionInputs { SessionInputs(spec: "\(repositoryRoot)/specs/testbed.yaml", inventory: "\(repositoryRoot)/inventory/testbed.yaml") }

    /// Opens a session whose connect step must never run.
    func open(_ inputs: SessionInputs, rebuild: [String] = []) async throws -> LiveSession {
        try await LiveSession.open(inputs, rebuild: rebuild, connect: { _, _, _, _ in
            XCTFail("a host was contacted")
            throw SessionFailure(["contacted"])
        })
    }

    func diagnostics(_ body: () async throws -> Void) async -> [String] {
        do {
            try await body()
            XCTFail("no error")
            return []
        } catch let error as DiagnosticsError {
            return error.diagnostics.map(\.description)
        } catch {
            XCTFail("not diagnostics: \(error)")
            return []
        }
    }

    func testAnUnknownRebuildNodeIsRefusedBeforeAnyHost() async throws {
        setenv("PGHA_REPLICATION_PASSWORD", "r", 1)
        setenv("PGHA_HACLUSTER_PASSWORD", "h", 1)
        let found = await diagnostics { _ = try await self.open(self.testbed, rebuild: ["node9"]) }
        XCTAssertEqual(found.count, 1)
        XCTAssertTrue(found.first?.contains("'node9' is not a node of") == true, "\(found)")
    }

    func testAMissingSecretIsRefusedBeforeAnyHostNamingTheReference() async throws {
        setenv("PGHA_REPLICATION_PASSWORD", "r", 1)
        unsetenv("PGHA_HACLUSTER_PASSWORD")
        let found = await diagnostics { _ = try await self.open(self.testbed) }
        XCTAssertTrue(found.joined().contains("PGHA_HACLUSTER_PASSWORD"), "\(found)")
        setenv("PGHA_HACLUSTER_PASSWORD", "h", 1)
    }

    func testAnInvalidSpecIsRefusedWithPositions() async throws {
        let spec = directory + "/bad.yaml"
        let text = try String(contentsOfFile: testbed.spec, encoding: .utf8).replacingOccurrences(of: "address: 10.77.0.12", with: "address: \"10.77.0.12$(reboot)\"")
        try text.write(toFile: spec, atomically: true, encoding: .utf8)
        let found = await diagnostics { _ = try await self.open(SessionInputs(spec: spec, inventory: self.testbed.inventory)) }
        XCTAssertFalse(found.isEmpty)
        for line in found { XCTAssertTrue(line.range(of: #"^.*bad\.yaml:\d+:\d+: "#, options: .regularExpression) != nil, line) }
        let noInventory = await diagnostics { _ = try await self.open(SessionInputs(spec: self.testbed.spec)) }
        XCTAssertTrue(noInventory.joined().contains("needs an inventory"), "\(noInventory)")
    }

    func plan() -> LivePlan {
        LivePlan(cluster: "c", pcsDialect: "0.11", pcsDialectNote: "pcs dialect 0.11: named", hosts: [
            .init(name: "node1", address: "10.0.0.1", unchanged: 3, changes: [
                .init(step: "hosts-file", action: .update, summary: "write /etc/hosts", diff: "--- a\n+++ b\n"),
                .init(step: "initdb", action: nil, summary: "not empty", diff: nil),
            ]),
            .init(name: "node2", address: "10.0.0.2", unchanged: 5, changes: [
                .init(step: "basebackup", action: .destructive, summary: "move aside", diff: nil),
            ]),
        ])
    }

    func testPlanTextErrorsAndJSONUseOneActionVocabulary() throws {
        let plan = plan()
        XCTAssertEqual(plan.pendingCount, 3)
        XCTAssertEqual(plan.errors.map { "\($0.host)/\($0.change.step)" }, ["node1/initdb"])
        let text = plan.text(color: false)
        XCTAssertTrue(text.contains("  ~ hosts-file           write /etc/hosts\n      --- a\n      +++ b\n"), text)
        XCTAssertTrue(text.contains("  ✗ initdb               cannot be applied: not empty"), text)
        XCTAssertTrue(text.contains("  ! basebackup           move aside"), text)
        let json = String(decoding: try JSONEncoder.pgha.encode(plan), as: UTF8.self)
        XCTAssertTrue(json.contains("\"action\" : \"destructive\""), json)
        XCTAssertTrue(json.contains("\"action\" : \"update\""), json)
        XCTAssertEqual(try JSONDecoder.pgha.decode(LivePlan.self, from: Data(json.utf8)), plan)
    }

    func testMovedNamesWhatChangedSinceASavedPlan() {
        let saved = plan()
        var now = saved
        now.hosts[0].changes.removeFirst()
        now.hosts[1].changes[0].summary = "move aside again"
        now.hosts[1].changes.append(.init(step: "pgpass", action: .create, summary: "write .pgpass", diff: nil))
        XCTAssertEqual(now.moved(since: saved), [
            "node1/hosts-file: was '~ write /etc/hosts', now already right",
            "node2/basebackup: was '! move aside', now '! move aside again'",
            "node2/pgpass: not in the saved plan, now '+ write .pgpass'",
        ])
        XCTAssertEqual(saved.moved(since: saved), [])
    }

    func testASavedPlanIsPrivateAndRefusedOnceItsInputsMove() throws {
        let spec = directory + "/spec.yaml", inventory = directory + "/inventory.yaml"
        try FileManager.default.copyItem(atPath: testbed.spec, toPath: spec)
        try FileManager.default.copyItem(atPath: testbed.inventory!, toPath: inventory)
        let inputs = SessionInputs(spec: spec, inventory: inventory)
        let path = directory + "/plan.json"
        try SavedPlan(plan: plan(), inputs: inputs, rebuild: ["node2"], runID: "20261202-000000").write(to: path)
        let mode = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o600)
        let saved = try XCTUnwrap(try SavedPlan.read(path))
        XCTAssertEqual(saved.plan, plan())
        XCTAssertEqual(saved.rebuild, ["node2"])
        XCTAssertEqual(try saved.inputs(given: SessionInputs(spec: path), rebuild: [], planPath: path).spec, URL(fileURLWithPath: spec).standardizedFileURL.path)
        // Flags belong to the saved plan.
        XCTAssertThrowsError(try saved.inputs(given: SessionInputs(spec: path, inventory: inventory), rebuild: [], planPath: path))
        XCTAssertThrowsError(try saved.inputs(given: SessionInputs(spec: path), rebuild: ["node3"], planPath: path))
        // The spec moved: refused, naming it.
        try (try String(contentsOfFile: spec, encoding: .utf8) + "\n# edited\n").write(toFile: spec, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try saved.inputs(given: SessionInputs(spec: path), rebuild: [], planPath: path)) { error in
            XCTAssertTrue("\(error)".contains("spec.yaml: error: changed since the plan"), "\(error)")
        }
        // A spec is not a saved plan; a JSON document of another shape is refused.
        XCTAssertNil(try SavedPlan.read(spec))
        try Data("{\"plan\": 1}".utf8).write(to: URL(fileURLWithPath: directory + "/other.json"))
        XCTAssertThrowsError(try SavedPlan.read(directory + "/other.json"))
    }

    struct Named: Step {
        var host: String
        var name: String
        var summary: String { name }
        var dependsOn: [String] = []
        func probe(_ script: inout FactScript) {}
        func decide(_ facts: Facts) throws -> Change? { nil }
        func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {}
    }

    func testTheApplyReportCountsEveryOutcome() throws {
        let spec = try XCTUnwrap(SpecLoader.load(path: testbed.spec).value)
        let steps: [any Step] = [Named(host: "node1", name: "a"), Named(host: "node1", name: "b"), Named(host: "node2", name: "c"),
                                 Named(host: "node2", name: "d"), Named(host: "node3", name: "e")]
        let outcomes: [String: Outcome] = ["node1/a": .changed(Change(.create, "made a")), "node1/b": .unchanged,
                                           "node2/c": .failed("disk full"), "node2/d": .skipped("node2/c did not succeed")]
        let report = ApplyReport.make(plan: plan(), outcomes: outcomes, steps: steps, spec: spec, records: ["node1/a": (1.5, 2.0)], seconds: 3)
        XCTAssertFalse(report.ok)
        XCTAssertEqual(report.hosts.map { [$0.changed, $0.unchanged, $0.failed, $0.skipped] }, [[1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1]])
        XCTAssertEqual(report.steps.first?.action, .create)
        XCTAssertEqual(report.steps.first?.seconds, 1.5)
        XCTAssertEqual(report.steps.first?.start, 0.5)
        XCTAssertTrue(report.text().contains("error: node2: c: disk full\nTime per phase: OS and packages 1.5 s (at 0.5 s).\nApply FAILED in 3.0 s.\n"), report.text())
    }

    func testPhasesSpanTheirStepsAcrossHosts() throws {
        let spec = try XCTUnwrap(SpecLoader.load(path: testbed.spec).value)
        let steps: [any Step] = [Named(host: "node1", name: "initdb"), Named(host: "node2", name: "basebackup"),
                                 Named(host: "node1", name: "cluster-start"), Named(host: "node1", name: "verify")]
        let outcomes: [String: Outcome] = Dictionary(uniqueKeysWithValues: steps.map { ($0.id, .unchanged) })
        // (seconds, end) after the steps began: the clone ends after the cluster's start began.
        var report = ApplyReport.make(plan: plan(), outcomes: outcomes, steps: steps, spec: spec,
                                      records: ["node1/initdb": (2, 3), "node2/basebackup": (4, 9), "node1/cluster-start": (6, 12), "node1/verify": (1, 13)],
                                      seconds: 13)
        report.planSeconds = 2.5
        XCTAssertEqual(report.phases.map(\.phase), [.postgresql, .pacemaker, .verify])
        XCTAssertEqual(report.phases.map(\.start), [1, 6, 12])
        XCTAssertEqual(report.phases.map(\.seconds), [8, 6, 1])
        XCTAssertEqual(report.phaseText(), "Time per phase: plan 2.5 s, PostgreSQL and replication 8.0 s (at 1.0 s), Pacemaker 6.0 s (at 6.0 s), verify 1.0 s (at 12.0 s).\n")
        XCTAssertTrue(report.slowestText().hasPrefix("Slowest steps:\n     6.0 s  node1 cluster-start (at 6.0 s)\n"), report.slowestText())
    }
}

/// What a host's commands print on stderr ends up in errors and reports: secrets are redacted
/// there; and the local transport's commands see none of pgha's environment.
final class ConnectionTests: XCTestCase {
    func testStderrIsRedactedAndTheEnvironmentStaysHome() async throws {
        setenv("PGHA_TEST_SECRET", "s3cr3t-value", 1)
        let connection = TransportConnection(transport: LocalTransport(host: "here"), counter: RoundTrips(), secrets: ["s3cr3t-value", ""])
        let result = try await connection.run("echo 'auth failed for s3cr3t-value' >&2; env; exit 3", stdin: nil)
        XCTAssertEqual(result.status, 3)
        XCTAssertEqual(result.stderr, "auth failed for (sensitive)\n")
        XCTAssertFalse(result.stdout.contains("PGHA_"), result.stdout)
        XCTAssertFalse(result.stdout.contains("s3cr3t-value"))
        XCTAssertTrue(result.stdout.contains("LC_ALL=C"))
    }
}

/// The apply lock: the pure verdict, then the whole protocol for real through the local
/// transport on a lock file of the test's own (two "hosts" sharing it stand for one host).
final class ApplyLockTests: XCTestCase {
    let me = ApplyLock.Holder(run: "20261202-100000", controller: "ctl", pid: 4242, started: 1000, renewed: 1000)

    func testVerdicts() {
        let other = ApplyLock.Holder(run: "20261202-090000", controller: "ctl", pid: 99, started: 900, renewed: 990)
        let alive: (Int32) -> Bool = { _ in true }, gone: (Int32) -> Bool = { _ in false }
        guard case .refuse(let why) = ApplyLock.judge(other, raw: other.text, now: 1000, me: me, breakLock: false, processExists: alive) else {
            return XCTFail("a live holder was not refused")
        }
        XCTAssertTrue(why.hasPrefix("an apply is running: run 20261202-090000 of pgha pid 99 on ctl, since 1970-01-01T00:15:00Z, last renewed 10 s ago"), why)
        XCTAssertEqual(ApplyLock.judge(other, raw: other.text, now: 1000, me: me, breakLock: false, processExists: gone),
                       .takeOver("took over the lock of run 20261202-090000 of pgha pid 99 on ctl, since 1970-01-01T00:15:00Z: that process is gone"))
        var remote = other
        remote.controller = "elsewhere"
        if case .takeOver = ApplyLock.judge(remote, raw: remote.text, now: 1000, me: me, breakLock: false, processExists: gone) {
            XCTFail("another controller's process cannot be checked from here: its lease decides")
        }
        XCTAssertEqual(ApplyLock.judge(remote, raw: remote.text, now: 990 + 61, me: me, breakLock: false, processExists: alive),
                       .takeOver("took over the lock of run 20261202-090000 of pgha pid 99 on elsewhere, since 1970-01-01T00:15:00Z: not renewed for 61 s"))
        if case .refuse = ApplyLock.judge(remote, raw: remote.text, now: 1000, me: me, breakLock: true, processExists: alive) { XCTFail("--break-lock") }
        if case .takeOver = ApplyLock.judge(nil, raw: "junk", now: 1000, me: me, breakLock: false, processExists: alive) { XCTFail("junk taken over") }
        XCTAssertEqual(ApplyLock.Holder(me.text), me)
        XCTAssertNil(ApplyLock.Holder("run=x\n"))
    }

    func testOneApplyAtATime() async throws {
        let path = NSTemporaryDirectory() + "pgha-lock-\(UUID().uuidString)/apply.lock"
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        func hosts() -> [String: any HostConnection] {
            ["a": TransportConnection(transport: LocalTransport(host: "a"), counter: RoundTrips(), secrets: [])]
        }
        let (first, notes) = try await ApplyLock.acquire(hosts(), run: "run-1", breakLock: false, path: path)
        XCTAssertEqual(notes, [])
        XCTAssertEqual(ApplyLock.Holder(try String(contentsOfFile: path, encoding: .utf8))?.run, "run-1")
        // A second apply from this very process (alive) is refused, naming the first.
        do {
            _ = try await ApplyLock.acquire(hosts(), run: "run-2", breakLock: false, path: path)
            XCTFail("a second apply took the lock")
        } catch let failure as SessionFailure {
            XCTAssertTrue(failure.lines.first?.hasPrefix("error: a: an apply is running: run run-1 of pgha pid \(getpid())") == true, "\(failure)")
            XCTAssertEqual(failure.lines.last, "Nothing was changed.")
        }
        XCTAssertEqual(ApplyLock.Holder(try String(contentsOfFile: path, encoding: .utf8))?.run, "run-1", "the refused apply left the lock alone")
        // Renewal moves `renewed`, release removes it; another's lock is never removed.
        try "run=run-1\ncontroller=\(first.me.controller)\npid=\(getpid())\nstarted=1\nrenewed=1\n".write(toFile: path, atomically: true, encoding: .utf8)
        await first.renew()
        XCTAssertGreaterThan(ApplyLock.Holder(try String(contentsOfFile: path, encoding: .utf8))?.renewed ?? 0, 1)
        await first.release()
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        // A lock left by a process of this controller that is gone is taken over, with a note.
        try "run=old\ncontroller=\(first.me.controller)\npid=999999\nstarted=1\nrenewed=\(Int(Date().timeIntervalSince1970))\n".write(toFile: path, atomically: true, encoding: .utf8)
        let (second, taken) = try await ApplyLock.acquire(hosts(), run: "run-3", breakLock: false, path: path)
        XCTAssertEqual(taken.count, 1)
        XCTAssertTrue(taken.first?.contains("took over the lock of run old of pgha pid 999999") == true, "\(taken)")
        await first.release()
        XCTAssertEqual(ApplyLock.Holder(try String(contentsOfFile: path, encoding: .utf8))?.run, "run-3", "release by another run removed the lock")
        await second.release()
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        // Two applies of one saved plan share its run id: only the holder's own pid releases.
        try "run=run-3\ncontroller=\(second.me.controller)\npid=1\nstarted=1\nrenewed=\(Int(Date().timeIntervalSince1970))\n".write(toFile: path, atomically: true, encoding: .utf8)
        await second.release()
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "another process's lock with the same run id was removed")
    }
}

final class SecretExposureTests: XCTestCase {
    func testASecretFileOthersCanReadWarns() throws {
        let path = NSTemporaryDirectory() + "pgha-secret-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("s\n".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o644)
        XCTAssertEqual(SecretRef.file(path).exposure, "secret file \(path) has mode 644: its group or others can read it; chmod 600 \(path)")
        chmod(path, 0o600)
        XCTAssertNil(SecretRef.file(path).exposure)
        XCTAssertNil(SecretRef.env("X").exposure)
    }
}
