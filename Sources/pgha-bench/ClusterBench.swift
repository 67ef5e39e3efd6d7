import Foundation

/// `pgha-bench bootstrap` and `pgha-bench failover`: the two speeds issue 12 sets goals for,
/// measured on the test bed with pgha's own commands, as medians with their spread.
///
/// - bootstrap: per round a fresh bed of bare hosts (`scripts/testbed down`, `up --nodes 3`),
///   then `pgha apply SPEC --yes --format json`, timed from the process start; the JSON's
///   time per phase is kept for the phase medians.
/// - failover: `pgha drill SPEC --fault KIND --rounds N --yes --format json` on the cluster the
///   bed runs (bootstrapped first, on a fresh bed, when `pgha status` does not find it healthy).
enum ClusterBench {
    struct Options {
        var rounds = 5
        var pgha = ".build/debug/pgha"
        var spec = "specs/testbed.yaml"
        var inventory = "inventory/testbed.yaml"
        var fault = "kill-postgres"
    }

    static func parse(_ arguments: [String], usage: String) throws -> Options? {
        var options = Options()
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--rounds": options.rounds = try PlanBench.number(rest.popFirst(), argument)
            case "--pgha": options.pgha = rest.popFirst() ?? options.pgha
            case "--spec": options.spec = rest.popFirst() ?? options.spec
            case "-i", "--inventory": options.inventory = rest.popFirst() ?? options.inventory
            case "--fault": options.fault = rest.popFirst() ?? options.fault
            case "-h", "--help": print(usage); return nil
            default: throw TransportBench.Failure(description: "unknown argument \(argument)\n\(usage)")
            }
        }
        return options
    }

    /// The passwords the specs name, made up for this run where the environment has none.
    static var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        for name in ["PGHA_REPLICATION_PASSWORD", "PGHA_HACLUSTER_PASSWORD"] where env[name] == nil {
            env[name] = "bench-\(UUID().uuidString.prefix(12))"
        }
        return env
    }

    /// The bed's hosts run on in the background and keep whatever they inherited open (a pipe
    /// read until its end would never end): `scripts/testbed` is spawned with its output in a
    /// file and waited for by its pid.
    static func fresh(nodes: Int, env: [String: String]) throws {
        let log = NSTemporaryDirectory() + "pgha-bench-testbed-\(getpid()).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        for arguments in [["down"], ["up", "--nodes", String(nodes)]] {
            var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            let argv = (["scripts/testbed"] + arguments).map { strdup($0) } + [nil]
            let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { for p in argv + envp { free(p) } }
            var pid: pid_t = 0
            guard posix_spawn(&pid, "scripts/testbed", &actions, nil, argv, envp) == 0 else {
                throw TransportBench.Failure(description: "could not start scripts/testbed (run pgha-bench from the repository)")
            }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            if arguments[0] == "up" && status != 0 {
                let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw TransportBench.Failure(description: "scripts/testbed up failed: \(output)")
            }
        }
    }

    struct Apply: Decodable {
        struct Phase: Decodable { var phase: String; var seconds: Double }
        var ok: Bool
        var seconds: Double
        var planSeconds: Double?
        var phases: [Phase]?
    }

    /// One bootstrap of bare hosts: the wall time and the report.
    static func bootstrap(_ o: Options, env: [String: String]) throws -> (wall: Double, report: Apply) {
        try fresh(nodes: 3, env: env)
        let started = Date()
        let (status, output) = try PlanBench.runProcess(o.pgha, ["apply", o.spec, "-i", o.inventory, "--yes", "--format", "json"], environment: env)
        let wall = Date().timeIntervalSince(started)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard status == 0, let start = output.firstIndex(of: "{"),
              let report = try? decoder.decode(Apply.self, from: Data(output[start...].utf8)), report.ok else {
            throw TransportBench.Failure(description: "pgha apply exited \(status): \(output.suffix(2000))")
        }
        return (wall, report)
    }

    static func runBootstrap(_ arguments: [String]) throws {
        let usage = "usage: pgha-bench bootstrap [--rounds N] [--pgha PATH] [--spec SPEC] [-i INVENTORY]   (replaces the test bed with 3 bare hosts each round)"
        guard let o = try parse(arguments, usage: usage) else { return }
        let env = environment
        var walls: [Double] = [], phases: [String: [Double]] = [:], order: [String] = []
        for round in 1...o.rounds {
            let (wall, report) = try bootstrap(o, env: env)
            walls.append(wall)
            var line = String(format: "round %d: %.1f s (apply's own count: plan %.1f s + steps %.1f s)", round, wall, report.planSeconds ?? 0, report.seconds)
            for phase in report.phases ?? [] {
                if phases[phase.phase] == nil { order.append(phase.phase) }
                phases[phase.phase, default: []].append(phase.seconds)
                line += String(format: "; %@ %.1f", phase.phase, phase.seconds)
            }
            print(line)
            fflush(stdout)
        }
        print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores; 3 bare test-bed hosts (packages present); \(o.spec)")
        print("bootstrap, pgha apply from process start to exit: \(spread(walls))")
        for name in order { print("  phase \(name): \(spread(phases[name] ?? []))") }
    }

    static func runFailover(_ arguments: [String]) throws {
        let usage = "usage: pgha-bench failover [--fault kill-postgres|kill-corosync|fence|stop-node] [--rounds N] [--pgha PATH] [--spec SPEC] [-i INVENTORY]   (bootstraps a fresh test bed first when the spec's cluster is not healthy there)"
        guard var o = try parse(arguments, usage: usage) else { return }
        o.rounds = min(o.rounds, 20)
        let env = environment
        let (health, _) = try PlanBench.runProcess(o.pgha, ["status", o.spec, "-i", o.inventory], environment: env)
        if health != 0 {
            print("the cluster of \(o.spec) is not healthy on the bed (pgha status exited \(health)): bootstrapping 3 fresh hosts")
            let (wall, _) = try bootstrap(o, env: env)
            print(String(format: "bootstrapped in %.1f s", wall))
        }
        let (status, output) = try PlanBench.runProcess(o.pgha, ["drill", o.spec, "-i", o.inventory, "--fault", o.fault, "--rounds", String(o.rounds),
                                                                 "--yes", "--format", "json"], environment: env)
        guard let start = output.firstIndex(of: "{"),
              let json = try JSONSerialization.jsonObject(with: Data(output[start...].utf8)) as? [String: Any],
              let rounds = json["rounds"] as? [[String: Any]] else {
            throw TransportBench.Failure(description: "pgha drill exited \(status) without its report: \(output.suffix(2000))")
        }
        func values(_ key: String) -> [Double] { rounds.compactMap { $0[key] as? Double } }
        for round in rounds {
            let n = round["round"] as? Int ?? 0
            func s(_ key: String) -> String { (round[key] as? Double).map { String(format: "%.1f s", $0) } ?? "-" }
            print("round \(n): \(round["target"] as? String ?? "?") → \(round["promoted"] as? String ?? "-"): writes back after \(s("write_recovery")), reads after \(s("read_recovery")), healthy after \(s("healthy")), rows missing \(round["rows_missing"].map { "\($0)" } ?? "-")\((round["error"] as? String).map { "; error: \($0)" } ?? "")")
        }
        print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores; \(o.spec) (\(json["replication"] as? String ?? "?")); fault \(o.fault) of the \(json["node"] as? String ?? "primary")")
        print("a write through the rw VIP succeeds again: \(spread(values("write_recovery")))")
        print("a read through the ro VIP succeeds again:  \(spread(values("read_recovery")))")
        print("the cluster is healthy again (rejoined):   \(spread(values("healthy")))")
        print("acknowledged rows missing, all rounds:     \(rounds.compactMap { $0["rows_missing"] as? Int }.reduce(0, +))")
        if status != 0 { throw TransportBench.Failure(description: "pgha drill exited \(status): a round failed (above)") }
    }

    /// "median 7.4 s (min 6.9, max 8.3; n=5)".
    static func spread(_ values: [Double]) -> String {
        guard !values.isEmpty else { return "no value" }
        let sorted = values.sorted(), mid = sorted.count / 2
        let median = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        return String(format: "median %.1f s (min %.1f, max %.1f; n=%d)", median, sorted[0], sorted[sorted.count - 1], sorted.count)
    }
}
