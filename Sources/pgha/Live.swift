import ArgumentParser
import Foundation
import PghaRender
import PghaRuntime
import PghaSpec

/// What `plan` and `apply` share: the spec turned into steps, a connection per host, and the
/// facts gathered in one batched round trip per host, hosts in parallel.
struct LiveSession {
    let loaded: Loaded
    /// How the pcs dialect was chosen, for the plan's first line.
    let dialectNote: String
    let steps: [any Step]
    let connections: [String: any HostConnection]
    let executor: Executor
    /// Per host, read before anything changed.
    let facts: [String: Facts]
    let counter: RoundTrips
    let verbose: Bool
    let runID: String

    /// Resolves every secret before any host is touched (they are needed to compare too: the
    /// hacluster password against /etc/shadow, .pgpass by digest), connects, and reads every
    /// host's facts.
    static func open(_ inputs: Inputs, rebuild: [String], verbose: Bool, runID: String? = nil) async throws -> LiveSession {
        var loaded = try Loaded.load(inputs, requireInventory: true, requireDialect: false)
        guard let inventory = loaded.inventory else { throw ExitCode.failure }
        let spec = loaded.spec
        for node in rebuild where spec.node(named: node) == nil {
            report([Diagnostic(file: "--rebuild", line: 0, column: 0, message: "'\(node)' is not a node of \(spec.file)")])
            throw ExitCode.failure
        }
        let replication: String, hacluster: String
        do {
            replication = try spec.replication.password.resolve()
            hacluster = try spec.pacemaker.haclusterPassword.resolve()
        } catch {
            report([Diagnostic(file: inputs.spec, line: 0, column: 0, message: "\(error)")])
            throw ExitCode.failure
        }
        let counter = RoundTrips()
        let connectStart = Date()
        let connections = try await connect(spec, inventory, verbose: verbose, secrets: [replication, hacluster], counter: counter)
        if verbose { log("connected to \(connections.count) hosts in \(seconds(since: connectStart))") }
        // The facts, and in the same round trip what each host is: its pcs decides the dialect.
        // Steps are built for the named dialect (or 0.11); when the hosts' pcs says otherwise,
        // they are built again and the facts read once more (a second round trip).
        let runID = runID ?? BootstrapContext.newRunID()
        func build(_ dialect: ClusterSpec.PcsDialect) throws -> [any Step] {
            loaded.dialect = dialect
            let files = try loaded.render(secrets: true)
            let context = BootstrapContext(spec: spec, dialect: dialect, files: files, replicationPassword: replication,
                                           haclusterPassword: hacluster, rebuild: Set(rebuild), runID: runID)
            do {
                return try StepCatalog.bootstrap(context).steps
            } catch {
                report([Diagnostic(file: inputs.spec, line: 0, column: 0, message: "\(error) (a defect of pgha; please report it)")])
                throw ExitCode.failure
            }
        }
        func gather(_ steps: [any Step], extra: FactScript? = nil) async throws -> [String: Facts] {
            let start = Date()
            do {
                let facts = try await Executor(steps: steps, connections: connections).gatherFacts(extra: extra)
                if verbose { log("facts gathered in \(seconds(since: start))") }
                return facts
            } catch {
                await closeAll(connections)
                log("error: gathering facts failed: \(error)")
                throw ExitCode.failure
            }
        }
        let provisional = loaded.declaredDialect ?? .v0_11
        var steps = try build(provisional)
        var facts = try await gather(steps, extra: Platform.probe)
        let dialectNote: String
        do {
            let platforms = spec.nodes.map { (host: $0.name, platform: Platform(facts[$0.name] ?? Facts([:]))) }
            let choice = try DialectChoice.choose(declared: loaded.declaredDialect, platforms: platforms)
            dialectNote = choice.1
            if choice.0 != provisional {
                steps = try build(choice.0)
                facts = try await gather(steps)
            }
        } catch let problem as DialectChoice.Problem {
            await closeAll(connections)
            report([Diagnostic(file: inputs.spec, line: 0, column: 0, message: problem.description)])
            throw ExitCode.failure
        }
        return LiveSession(loaded: loaded, dialectNote: dialectNote, steps: steps, connections: connections,
                           executor: Executor(steps: steps, connections: connections), facts: facts, counter: counter,
                           verbose: verbose, runID: runID)
    }

    /// Every step's pure decision on the facts read when the session opened.
    func plan() -> LivePlan {
        let decideStart = Date()
        defer { if verbose { log("decided in \(seconds(since: decideStart))") } }
        let spec = loaded.spec
        var plan = LivePlan(cluster: spec.name, pcsDialect: loaded.dialect.rawValue, pcsDialectNote: dialectNote, hosts: [])
        let decisions = executor.plan(facts)
        for node in spec.nodes {
            var host = LivePlan.Host(name: node.name, address: node.address, unchanged: 0, changes: [])
            for (step, change) in decisions where step.host == node.name {
                switch change {
                case .success(nil): host.unchanged += 1
                case .success(let change?):
                    host.changes.append(.init(step: step.name, action: change.action.word, summary: change.summary, diff: change.diff))
                case .failure(let error):
                    let message = (error as? StepFailure)?.message ?? "\(error)"
                    host.changes.append(.init(step: step.name, action: "error", summary: message, diff: nil))
                }
            }
            plan.hosts.append(host)
        }
        return plan
    }

    func close() async {
        await closeAll(connections)
    }
}

extension Change.Action {
    var word: String {
        switch self {
        case .create: return "create"
        case .update: return "update"
        case .delete: return "delete"
        case .destructive: return "destructive"
        }
    }
}

/// A live plan: per host, what apply would change. Codable: `--format json` prints it and
/// `plan --out` saves it.
struct LivePlan: Codable, Equatable {
    struct Change: Codable, Equatable {
        var step: String
        /// create, update, delete, destructive, or error (the step cannot decide: apply would fail).
        var action: String
        var summary: String
        var diff: String?
    }
    struct Host: Codable, Equatable {
        var name: String
        var address: String
        var unchanged: Int
        var changes: [Change]
    }
    var cluster: String
    var pcsDialect: String
    var pcsDialectNote: String
    var hosts: [Host]

    var pendingCount: Int { hosts.reduce(0) { $0 + $1.changes.count } }
    var errors: [(host: String, change: Change)] {
        hosts.flatMap { host in host.changes.filter { $0.action == "error" }.map { (host.name, $0) } }
    }

    static func symbol(_ action: String) -> String {
        switch action {
        case "create": return "+"
        case "update": return "~"
        case "delete": return "-"
        case "destructive": return "!"
        default: return "?"
        }
    }

    /// The plan as people read it; `!` (destructive) and errors in red on a terminal.
    func text(color: Bool) -> String {
        func red(_ s: String) -> String { color ? "\u{1B}[31m\(s)\u{1B}[0m" : s }
        var out = "\(pcsDialectNote)\n"
        for host in hosts {
            out += "\(host.name) (\(host.address)): \(host.changes.count) to change, \(host.unchanged) already right\n"
            for change in host.changes {
                let name = change.step.padding(toLength: 20, withPad: " ", startingAt: 0)
                let line = change.action == "error"
                    ? "  ✗ \(name) cannot be applied: \(change.summary)"
                    : "  \(Self.symbol(change.action)) \(name) \(change.summary)"
                out += (change.action == "destructive" || change.action == "error" ? red(line) : line) + "\n"
                if let diff = change.diff, !diff.isEmpty {
                    for line in diff.split(separator: "\n", omittingEmptySubsequences: false).reversed().drop(while: \.isEmpty).reversed() {
                        out += "      \(line)\n"
                    }
                }
            }
        }
        return out
    }

    /// Step ids whose planned change differs between two plans, with what moved.
    func moved(since saved: LivePlan) -> [String] {
        func index(_ plan: LivePlan) -> [String: Change] {
            var all: [String: Change] = [:]
            for host in plan.hosts { for change in host.changes { all["\(host.name)/\(change.step)"] = change } }
            return all
        }
        let now = index(self), then = index(saved)
        var moved: [String] = []
        for id in Set(now.keys).union(then.keys).sorted() {
            switch (then[id], now[id]) {
            case let (a?, b?) where a != b: moved.append("\(id): was '\(LivePlan.symbol(a.action)) \(a.summary)', now '\(LivePlan.symbol(b.action)) \(b.summary)'")
            case let (a?, nil): moved.append("\(id): was '\(LivePlan.symbol(a.action)) \(a.summary)', now already right")
            case let (nil, b?): moved.append("\(id): not in the saved plan, now '\(LivePlan.symbol(b.action)) \(b.summary)'")
            default: break
            }
        }
        return moved
    }
}

/// `pgha plan --out FILE`: the plan and the exact inputs it was made from, so `pgha apply FILE`
/// applies that plan or refuses, naming what moved. No secret is in it (diffs of secret files
/// read "(sensitive)").
struct SavedPlan: Codable {
    struct Input: Codable, Equatable {
        var path: String
        var sha256: String
    }
    var pghaSavedPlan = 1
    var created: String
    var spec: Input
    var inventory: Input
    var templates: Input?
    var pcsDialect: String?
    var rebuild: [String]
    /// Names what a --rebuild leaves behind; apply reuses it so the plan reads the same.
    var runId: String
    var plan: LivePlan

    static func input(_ path: String) throws -> Input {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        return Input(path: absolute, sha256: try digest(of: absolute))
    }

    /// sha256 of a file, or of every file of a folder (names and contents).
    static func digest(of path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ValidationError("\(path) no longer exists")
        }
        if !isDirectory.boolValue { return SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: path))) }
        var all = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: path).sorted() {
            all += Data(name.utf8) + (try Data(contentsOf: URL(fileURLWithPath: path).appendingPathComponent(name)))
        }
        return SHA256.hex(all)
    }

    /// A saved plan, or nil when the file is not JSON (then it is a spec).
    static func read(_ path: String) throws -> SavedPlan? {
        guard let data = FileManager.default.contents(atPath: path), data.first == UInt8(ascii: "{") else { return nil }
        do {
            return try JSONDecoder.pgha.decode(SavedPlan.self, from: data)
        } catch {
            report([Diagnostic(file: path, line: 0, column: 0, message: "this is not a plan saved by `pgha plan --out` of this version; make a new plan")])
            throw ExitCode.failure
        }
    }
}

extension JSONEncoder {
    static var pgha: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }
}

extension JSONDecoder {
    static var pgha: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

func printJSON<T: Encodable>(_ value: T) {
    let data = (try? JSONEncoder.pgha.encode(value)) ?? Data("{}".utf8)
    print(String(decoding: data, as: UTF8.self))
}
