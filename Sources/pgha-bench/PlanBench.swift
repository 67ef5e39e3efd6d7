import Foundation
import PghaTransport

/// `pgha-bench plan`: the wall time of `pgha plan` on the test bed next to the physical floor
/// measured the same way in the same run — fresh connections to every host in parallel and one
/// round trip each (connect + authenticate + one command) — and pgha's round trips per host.
enum PlanBench {
    static func run(_ arguments: [String]) async throws {
        var nodes = 3, runs = 7
        var pgha = ".build/debug/pgha"
        var baseline: String?
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--nodes": nodes = try number(rest.popFirst(), argument)
            case "--runs": runs = try number(rest.popFirst(), argument)
            case "--pgha": pgha = rest.popFirst() ?? pgha
            case "--baseline": baseline = rest.popFirst()
            case "-h", "--help":
                print("usage: pgha-bench plan [--nodes N] [--runs R] [--pgha PATH] [--baseline OTHER_PGHA]   (the test bed must be up with at least N hosts)")
                print("  --baseline: another pgha binary (e.g. an earlier commit's), run alternately with PATH in the same runs")
                return
            default: throw TransportBench.Failure(description: "unknown argument \(argument)")
            }
        }
        let config = try SSHConfig(path: ".testbed/ssh_config")
        let endpoints = (1...nodes).map { config.endpoint(for: "node\($0)", file: ".testbed/ssh_config") }
        let env = ProcessInfo.processInfo.environment
        let (spec, inventory) = nodes == 3 ? ("specs/testbed.yaml", "inventory/testbed.yaml") : try generate(nodes)

        // The floor, as the issue measures it: a batched round trip per host, fresh connections.
        let floor = try await roundTrips(endpoints.map { ($0, "true", nil) }, runs: runs)

        // The same floor running pgha's own fact scripts (kept by one plan with
        // PGHA_DUMP_FACT_SCRIPTS): what the probes cost on the hosts, without pgha around them.
        let dump = NSTemporaryDirectory() + "pgha-bench-facts-\(getpid())"
        try FileManager.default.createDirectory(atPath: dump, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dump) }
        var dumpEnv = env
        dumpEnv["PGHA_DUMP_FACT_SCRIPTS"] = dump
        let (status, output) = try runProcess(pgha, ["plan", spec, "-i", inventory], environment: dumpEnv)
        guard status == 0 || status == 2 else { throw TransportBench.Failure(description: "pgha plan exited \(status): \(output)") }
        let scripts = try endpoints.map { endpoint -> Data in
            guard let data = FileManager.default.contents(atPath: "\(dump)/\(endpoint.name).sh") else {
                throw TransportBench.Failure(description: "pgha plan left no fact script for \(endpoint.name)")
            }
            return data
        }
        let probes = try await roundTrips(zip(endpoints, scripts).map { ($0, "bash -s", $1) }, runs: runs)

        // pgha plan as a user runs it (process start included); with a baseline, the two
        // binaries alternate run by run, so both see the same moments of the machine.
        var walls: [Duration] = [], baseWalls: [Duration] = []
        var tripsLine = "?", changes = "?"
        func timed(_ binary: String) throws -> Duration {
            let started = ContinuousClock.now
            let (status, output) = try runProcess(binary, ["plan", spec, "-i", inventory], environment: env)
            let wall = ContinuousClock.now - started
            guard status == 0 || status == 2 else { throw TransportBench.Failure(description: "\(binary) plan exited \(status): \(output)") }
            changes = status == 0 ? "no changes" : "changes pending"
            if let match = output.range(of: #"\d+ round trips? per host"#, options: .regularExpression) { tripsLine = String(output[match]) }
            return wall
        }
        for _ in 0..<runs {
            if let baseline { baseWalls.append(try timed(baseline)) }
            walls.append(try timed(pgha))
        }
        let floorMedian = TransportBench.median(floor), probesMedian = TransportBench.median(probes)
        let pghaMedian = TransportBench.median(walls)
        func ratio(_ a: Duration, _ b: Duration) -> String { String(format: "%.2f", seconds(a) / seconds(b)) }
        func spread(_ samples: [Duration]) -> String {
            "(p10 \(TransportBench.ms(TransportBench.percentile(samples, 10))), p90 \(TransportBench.ms(TransportBench.percentile(samples, 90))))"
        }
        print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores; \(nodes) test-bed hosts; median of \(runs) runs")
        print("floor: fresh libssh2 connections in parallel, 1 round trip per host running `true`:   \(TransportBench.ms(floorMedian).leftPad(9)) \(spread(floor))")
        print("floor: the same, running pgha's own fact script (the probes' cost on the hosts):   \(TransportBench.ms(probesMedian).leftPad(9)) \(spread(probes))")
        print("pgha plan (\(changes); facts: \(tripsLine); process start included):          \(TransportBench.ms(pghaMedian).leftPad(9)) \(spread(walls))  = \(ratio(pghaMedian, floorMedian))× the first floor, \(ratio(pghaMedian, probesMedian))× the second")
        if let baseline {
            let baseMedian = TransportBench.median(baseWalls)
            print("baseline \(baseline) plan, alternating with it:   \(TransportBench.ms(baseMedian).leftPad(9)) \(spread(baseWalls))  = \(ratio(baseMedian, floorMedian))× the first floor; pgha / baseline = \(ratio(pghaMedian, baseMedian))")
        }
    }

    /// Wall time, per run, of fresh connections to every host in parallel, each running its one
    /// command (with its stdin) and closing.
    static func roundTrips(_ jobs: [(endpoint: HostEndpoint, command: String, stdin: Data?)], runs: Int) async throws -> [Duration] {
        var walls: [Duration] = []
        for _ in 0..<runs {
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for job in jobs {
                    group.addTask {
                        let transport = try await makeTransport(.libssh2, endpoint: job.endpoint)
                        _ = try await transport.check(job.command, stdin: job.stdin)
                        await transport.close()
                    }
                }
                try await group.waitForAll()
            }
            walls.append(ContinuousClock.now - started)
        }
        return walls
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    static func number(_ value: String?, _ option: String) throws -> Int {
        guard let value, let n = Int(value), n > 0 else { throw TransportBench.Failure(description: "\(option) needs a positive number") }
        return n
    }

    /// A spec and inventory for node1…nodeN of the test bed (bare hosts are fine: plan only reads).
    static func generate(_ nodes: Int) throws -> (String, String) {
        let directory = NSTemporaryDirectory() + "pgha-bench-plan-\(nodes)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let repo = FileManager.default.currentDirectoryPath
        let names = (1...nodes).map { "node\($0)" }
        var spec = try String(contentsOfFile: "specs/testbed.yaml", encoding: .utf8)
        let nodeList = names.enumerated().map { "  - name: \($1)\n    address: 10.77.0.\(11 + $0)" }.joined(separator: "\n")
        spec = spec.replacingOccurrences(of: #"nodes:\n(  - name: .*\n    address: .*\n)+"#, with: "nodes:\n\(nodeList)\n", options: .regularExpression)
        spec = spec.replacingOccurrences(of: "pcmk_host_list: node1 node2 node3", with: "pcmk_host_list: \(names.joined(separator: " "))")
        // More standbys need more WAL senders and clone instances.
        spec = spec.replacingOccurrences(of: "    lc_messages: C\n", with: "    lc_messages: C\n    max_wal_senders: \(nodes + 4)\n")
        spec = spec.replacingOccurrences(of: "  pgsql:\n", with: "  pgsql:\n    clone_options:\n      clone_max: \(max(nodes, 5))\n")
        var inventory = "defaults:\n  user: root\n  key: \(repo)/.testbed/id_ed25519\n  known_hosts: \(repo)/.testbed/known_hosts\n  transport: libssh2\nhosts:\n"
        for (index, name) in names.enumerated() { inventory += "  \(name):\n    address: 10.77.0.\(11 + index)\n" }
        try spec.write(toFile: directory + "/spec.yaml", atomically: true, encoding: .utf8)
        try inventory.write(toFile: directory + "/inventory.yaml", atomically: true, encoding: .utf8)
        return (directory + "/spec.yaml", directory + "/inventory.yaml")
    }

    static func runProcess(_ path: String, _ arguments: [String], environment: [String: String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
