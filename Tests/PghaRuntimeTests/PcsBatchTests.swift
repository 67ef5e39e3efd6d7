import Foundation
import XCTest
import PghaShell
@testable import PghaRuntime

/// PcsBatch (Sources/PghaRuntime/PcsBatch.swift) with this machine's real pcs: the rendered
/// test-bed script's `pcs -f` commands, run one process each and through the batch against
/// `cibadmin --empty`, build the same CIB.
final class PcsBatchTests: XCTestCase {
    /// The script run by bash in `dir` on this machine (ExecutorTests' ThisMachine), its stdout and stderr together.
    func run(_ script: String, in dir: URL) async throws -> (status: Int32, output: String) {
        let path = dir.appendingPathComponent("script.sh")
        try script.write(to: path, atomically: true, encoding: .utf8)
        let result = try await ThisMachine(name: "here").run("cd \(dir.path) && bash \(path.path)", stdin: nil)
        return (result.status, result.stdout + result.stderr)
    }

    func testTheBatchBuildsTheSameCIBAsOneProcessPerCommand() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/pcs") else { throw XCTSkip("pcs is not installed (scripts/install-deps)") }
        let golden = try String(contentsOfFile: "\(repositoryRoot)/Tests/Golden/testbed/cluster/pcs-resources.sh", encoding: .utf8)
        // The offline part: from the copy of the CIB to the push (which needs a live cluster),
        // with the test bed's fence agent accepted unverified.
        var body: [String] = [], on = false
        for line in golden.components(separatedBy: "\n") {
            if line.hasPrefix("pcs cluster cib-push") { break }
            if on { body.append(line.replacingOccurrences(of: "stonith create fence-testbed fence_testbed", with: "stonith create fence-testbed fence_testbed --force")) }
            if line.hasPrefix("cp pgsql_cfg") { on = true }
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pgha-pcs-batch-\(getpid())")
        defer { try? FileManager.default.removeItem(at: root) }
        var cibs: [String] = []
        for batched in [false, true] {
            let dir = root.appendingPathComponent(batched ? "batched" : "single")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let runner = dir.appendingPathComponent("runner.py")
            try PcsBatch.runner.write(to: runner, atomically: true, encoding: .utf8)
            var script = "#!/bin/bash\nset -euo pipefail\ncibadmin --empty > pgsql_cfg\n" + body.joined(separator: "\n") + "\npcs --version >/dev/null\n"
            if batched { script = PcsBatch.wrap(script).replacingOccurrences(of: PcsBatch.runnerPath, with: runner.path) }
            let result = try await run(script, in: dir)
            XCTAssertEqual(result.status, 0, result.output)
            let cib = try String(contentsOf: dir.appendingPathComponent("pgsql_cfg"), encoding: .utf8)
            cibs.append(cib.replacingOccurrences(of: #"(epoch|num_updates|cib-last-written)="[^"]*""#, with: "", options: .regularExpression))
        }
        XCTAssertTrue(cibs[1].contains("<primitive id=\"pgsql\""), cibs[1])
        XCTAssertEqual(cibs[0], cibs[1])

        // A failing command stops the script before the push.
        let dir = root.appendingPathComponent("failing")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let runner = dir.appendingPathComponent("runner.py")
        try PcsBatch.runner.write(to: runner, atomically: true, encoding: .utf8)
        let failing = PcsBatch.wrap("#!/bin/bash\nset -euo pipefail\ncibadmin --empty > c\npcs -f c resource create x ocf:heartbeat:NoSuchAgent\npcs --version\necho pushed\n")
            .replacingOccurrences(of: PcsBatch.runnerPath, with: runner.path)
        let result = try await run(failing, in: dir)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertFalse(result.output.contains("pushed"), result.output)
        XCTAssertTrue(result.output.contains("pcs -f c resource create: exit 1"), result.output)
    }
}
