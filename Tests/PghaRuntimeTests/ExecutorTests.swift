import Foundation
import PghaRender
import PghaRuntime
import PghaShell
import XCTest

/// This machine as a host: commands run with bash, uploads go through a temp file and mv.
struct ThisMachine: HostConnection {
    var name: String
    func run(_ command: Shell, stdin: Data?) async throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", command.text]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(stdin ?? Data())
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let signal = process.terminationReason == .uncaughtSignal ? String(process.terminationStatus) : nil
        return CommandResult(stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self),
                             status: signal == nil ? process.terminationStatus : 0, signal: signal)
    }

    func upload(_ bytes: Data, to path: String, mode: UInt32, owner: String, group: String) async throws {
        let temporary = path + ".pgha-upload"
        FileManager.default.createFile(atPath: temporary, contents: bytes)
        let result = try await run("chmod \(String(mode, radix: 8)) \(temporary) && chown \(owner + ":" + group) \(temporary) && mv -f \(temporary) \(path)", stdin: nil)
        if !result.succeeded { throw StepFailure(host: name, step: "upload", message: result.stderr) }
    }
}

/// A step that never does what it says, to prove the executor notices.
struct StubbornStep: Step {
    var host: String
    var name = "stubborn"
    var summary = "stay stubborn"
    var dependsOn: [String] = []
    func probe(_ script: inout FactScript) { script.add("stubborn", "echo no") }
    func decide(_ facts: Facts) throws -> Change? { facts["stubborn"] == "yes" ? nil : Change(.update, "make it yes") }
    func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {}
}

struct FailingStep: Step {
    var host: String
    var name = "failing"
    var summary = "fail"
    var dependsOn: [String] = []
    func probe(_ script: inout FactScript) {}
    func decide(_ facts: Facts) throws -> Change? { Change(.create, "fail") }
    func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run("echo 'disk full' >&2; exit 3", on: connection)
    }
}

final class ExecutorTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "pgha-exec-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func fileStep(_ host: String, _ name: String, _ content: String, after: [String] = [], kind: RenderedFile.Kind = .whole) -> FileStep {
        FileStep(host: host, name: name, dependsOn: after,
                 file: RenderedFile(node: host, path: "\(directory)/\(host)-\(name)", content: content, mode: 0o640,
                                    owner: "root", group: "root", kind: kind, sensitive: false, template: "t"))
    }

    func testApplyConvergesAndASecondApplyChangesNothing() async throws {
        let steps: [any Step] = [fileStep("a", "one", "1\n"), fileStep("a", "two", "2\n", after: ["a/one"]),
                                 fileStep("b", "three", "3\n", after: ["a/two"])]
        let executor = Executor(steps: steps, connections: ["a": ThisMachine(name: "a"), "b": ThisMachine(name: "b")])
        let plan = executor.plan(try await executor.gatherFacts())
        XCTAssertEqual(plan.compactMap { try? $0.change.get()?.action }, [.create, .create, .create])

        let first = await executor.apply { _ in }
        XCTAssertEqual(first.values.filter { if case .changed = $0 { return true } else { return false } }.count, 3)
        XCTAssertEqual(try String(contentsOfFile: "\(directory)/b-three", encoding: .utf8), "3\n")
        let attributes = try FileManager.default.attributesOfItem(atPath: "\(directory)/a-one")
        XCTAssertEqual(attributes[.posixPermissions] as? Int, 0o640)

        let second = await executor.apply { _ in }
        XCTAssertEqual(second.count, 3)
        XCTAssertTrue(second.values.allSatisfy { if case .unchanged = $0 { return true } else { return false } })
        let converged = executor.plan(try await executor.gatherFacts())
        XCTAssertTrue(converged.allSatisfy { (try? $0.change.get()) == .some(nil) })

        // Drift: someone edits a file; only that file is repaired.
        try "edited by hand\n".write(toFile: "\(directory)/a-two", atomically: true, encoding: .utf8)
        let third = await executor.apply { _ in }
        guard case .changed(let change)? = third["a/two"] else { return XCTFail("\(third)") }
        XCTAssertEqual(change.diff, "--- \(directory)/a-two\n+++ \(directory)/a-two\n@@ -1,1 +1,1 @@\n-edited by hand\n+2\n")
        XCTAssertEqual(third.values.filter { if case .unchanged = $0 { return true } else { return false } }.count, 2)
    }

    func testAFailureSkipsDependantsAndLetsOthersFinish() async throws {
        let steps: [any Step] = [FailingStep(host: "a"), fileStep("a", "after", "x\n", after: ["a/failing"]),
                                 fileStep("b", "independent", "y\n"), fileStep("b", "dependant", "z\n", after: ["a/failing"])]
        let outcomes = await Executor(steps: steps, connections: ["a": ThisMachine(name: "a"), "b": ThisMachine(name: "b")]).apply { _ in }
        guard case .failed(let message)? = outcomes["a/failing"] else { return XCTFail() }
        XCTAssertEqual(message, "`echo 'disk full' >&2; exit 3` exited 3: disk full")
        guard case .skipped(let why)? = outcomes["a/after"] else { return XCTFail() }
        XCTAssertEqual(why, "a/failing did not succeed")
        guard case .skipped? = outcomes["b/dependant"] else { return XCTFail() }
        guard case .changed? = outcomes["b/independent"] else { return XCTFail() }
    }

    func testAStepThatDoesNotConvergeFails() async {
        let outcomes = await Executor(steps: [StubbornStep(host: "a")], connections: ["a": ThisMachine(name: "a")]).apply { _ in }
        guard case .failed(let message)? = outcomes["a/stubborn"] else { return XCTFail() }
        XCTAssertEqual(message, "did not converge: after applying, it still wants to make it yes")
    }
}
