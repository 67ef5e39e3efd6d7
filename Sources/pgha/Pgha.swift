import ArgumentParser
import Foundation
import PghaRender
import PghaRuntime
import PghaSession
import PghaSpec


struct Pgha: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pgha",
        abstract: "Declarative PostgreSQL high availability with Pacemaker, Corosync and pcs.",
        version: PghaVersion.string,
        subcommands: [Validate.self, Render.self, Plan.self, Apply.self, Status.self, SwitchoverCommand.self, DrillCommand.self])
}

/// SPEC and -i INVENTORY, shared by every command.
struct Inputs: ParsableArguments {
    @Argument(help: "The cluster spec (YAML), e.g. specs/testbed.yaml.")
    var spec: String

    @Option(name: [.short, .customLong("inventory")], help: "How to reach the hosts (YAML), e.g. inventory/testbed.yaml.")
    var inventory: String?

    @Option(help: "A folder of templates overriding the built-in ones by file name.")
    var templates: String?

    @Option(help: "Generate pcs commands for this pcs dialect (0.9, 0.10, 0.11, 0.12), whatever the spec and inventory say.")
    var pcsDialect: String?
}

extension Inputs {
    var session: SessionInputs { SessionInputs(spec: spec, inventory: inventory, templates: templates, pcsDialect: pcsDialect) }
}

extension LoadedSpec {
    /// Loaded and cross-checked, or every diagnostic printed and exit 1.
    static func load(_ inputs: Inputs, requireInventory: Bool = false) throws -> LoadedSpec {
        let loaded = try cli { try LoadedSpec.load(inputs.session, requireInventory: requireInventory) }
        report(loaded.warnings)
        return loaded
    }

    func rendered(secrets: Bool) throws -> [RenderedFile] { try cli { try render(secrets: secrets) } }
}

/// Runs library code the CLI way: input problems printed as file:line:col diagnostics, other
/// failures as their lines, then exit 1.
func cli<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch { throw exit(error) }
}

func cli<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch { throw exit(error) }
}

func exit(_ error: Error) -> Error {
    switch error {
    case let error as DiagnosticsError: report(error.diagnostics)
    case let error as SessionFailure: for line in error.lines { log(line) }
    case is ExitCode: return error
    default: log("error: \(error)")
    }
    return ExitCode.failure
}

/// Errors and -v lines go to stderr; stdout is flushed first so the two never interleave mid-line.
@Sendable func log(_ line: String) {
    fflush(stdout)
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

func printJSON<T: Encodable>(_ value: T) {
    let data = (try? JSONEncoder.pgha.encode(value)) ?? Data("{}".utf8)
    print(String(decoding: data, as: UTF8.self))
}

func report(_ diagnostics: [Diagnostic]) {
    fflush(stdout)
    for diagnostic in diagnostics { FileHandle.standardError.write(Data((diagnostic.description + "\n").utf8)) }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a spec (and inventory) without touching any host; every problem is listed.")

    @OptionGroup var inputs: Inputs

    func run() throws {
        let loaded = try LoadedSpec.load(inputs)
        // Render in memory too, so template problems show up here and not on a host.
        let files = try loaded.rendered(secrets: false)
        let spec = loaded.spec
        print("\(inputs.spec): ok: cluster \(spec.name), \(spec.nodes.count) nodes, PostgreSQL \(spec.postgresql.version) (\(spec.postgresql.install.method.rawValue)), \(spec.replication.mode.rawValue) replication, pcs \(loaded.dialect.rawValue) dialect, \(files.count) files")
    }
}

struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write every file the cluster needs, per node and cluster-wide, exactly as it will be installed.")

    @OptionGroup var inputs: Inputs

    @Option(help: "The output folder: <out>/<node>/<path on the node>, <out>/cluster/<script>.")
    var out: String

    @Flag(help: "Write '(sensitive)' instead of secret values (no secret needs to be set).")
    var redactSecrets = false

    func run() throws {
        let loaded = try LoadedSpec.load(inputs)
        let files = try loaded.rendered(secrets: !redactSecrets)
        var counts: [String: Int] = [:]
        for file in files {
            let path = (out as NSString).appendingPathComponent(file.outputPath)
            do {
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                try writeAtomically(file.content, to: path, mode: file.sensitive ? 0o600 : (file.mode & 0o755 == 0o700 ? 0o755 : 0o644))
            } catch {
                report([Diagnostic(file: path, line: 0, column: 0, message: "cannot write: \(error.localizedDescription)")])
                throw ExitCode.failure
            }
            counts[file.node ?? "cluster", default: 0] += 1
        }
        let summary = (loaded.spec.nodes.map(\.name) + ["cluster"]).map { "\($0): \(counts[$0] ?? 0)" }.joined(separator: ", ")
        print("wrote \(files.count) files to \(out) (\(summary))")
    }

    func writeAtomically(_ content: String, to path: String, mode: Int) throws {
        let temporary = path + ".pgha-tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(content.utf8),
                                             attributes: [.posixPermissions: mode]) else {
            throw CocoaError(.fileWriteNoPermission)
        }
        if rename(temporary, path) != 0 { throw CocoaError(.fileWriteUnknown) }
    }
}

struct Plan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what an apply would do, per host and step; nothing on any host changes.",
        discussion: """
            Connects to every host (one connection each, in parallel), gathers facts in one batched round trip per host and
            prints what apply would do: + create, ~ update, - delete, ! destructive, with unified diffs for files.
            Exit status: 0 no changes, 2 changes pending, 1 error. With --offline nothing is contacted: the plan is the
            full bootstrap of bare hosts.
            """)

    @OptionGroup var inputs: Inputs

    @Flag(help: "Do not connect: list every step a bootstrap of bare hosts runs.")
    var offline = false

    @Option(help: "text, or json (the same plan for machines).")
    var format: OutputFormat = .text

    @Option(help: "Save the plan to FILE; `pgha apply FILE` applies exactly it, or refuses if the hosts moved since.")
    var out: String?

    @Option(name: .customLong("rebuild"), help: "Plan as if this node's data directory may be rebuilt (see apply --rebuild). Repeatable.")
    var rebuild: [String] = []

    @Flag(name: [.short, .long], help: "Show every command run on the hosts (all read-only).")
    var verbose = false

    func run() async throws {
        if offline { return try runOffline() }
        let started = Date()
        signal(SIGPIPE, SIG_IGN)
        let session = try await cli { try await LiveSession.open(inputs.session, rebuild: rebuild, log: verbose ? log : nil) }
        report(session.loaded.warnings)
        let plan = session.plan()
        await session.close()
        let trips = session.counter.perHost.values
        if format == .json {
            printJSON(plan)
        } else {
            print(plan.text(color: isatty(1) != 0), terminator: "")
            let hosts = plan.hosts.count
            let cost = "\(session.steps.count) steps checked on \(hosts) hosts in \(seconds(since: started)), \(trips.max() ?? 0) round trip\((trips.max() ?? 0) == 1 ? "" : "s") per host"
            if !plan.errors.isEmpty {
                print("Plan: \(plan.errors.count) steps cannot be applied as things are (✗ above); \(plan.pendingCount - plan.errors.count) other changes (\(cost)).")
            } else if plan.pendingCount == 0 {
                print("No changes: the cluster matches the spec (\(cost)).")
            } else {
                print("Plan: \(plan.pendingCount) changes (\(cost)). Apply with: pgha apply \(out ?? "\(inputs.spec) -i \(inputs.inventory ?? "INVENTORY")")")
            }
        }
        if let out { try save(plan, runID: session.runID, to: out) }
        if !plan.errors.isEmpty { throw ExitCode.failure }
        if plan.pendingCount > 0 { throw ExitCode(2) }
    }

    func save(_ plan: LivePlan, runID: String, to path: String) throws {
        try cli { try SavedPlan(plan: plan, inputs: inputs.session, rebuild: rebuild, runID: runID).write(to: path) }
        if format == .text { print("Saved to \(path).") }
    }

    func runOffline() throws {
        let loaded = try LoadedSpec.load(inputs, requireInventory: true)
        let files = try loaded.rendered(secrets: false)
        let spec = loaded.spec
        // No secret is needed to list the steps: nothing runs.
        let context = BootstrapContext(spec: spec, dialect: loaded.dialect, files: files, replicationPassword: "", haclusterPassword: "")
        let plan: StepCatalog
        do {
            plan = try StepCatalog.of(context)
        } catch {
            report([Diagnostic(file: inputs.spec, line: 0, column: 0, message: "\(error) (a defect of pgha; please report it)")])
            throw ExitCode.failure
        }
        if format == .json {
            struct Offline: Encodable { var cluster: String; var pcsDialect: String; var steps: [OfflineStep] }
            printJSON(Offline(cluster: spec.name, pcsDialect: loaded.dialect.rawValue, steps: plan.offlineSteps))
            return
        }
        print("pgha plan --offline: cluster \(spec.name), \(spec.nodes.count) nodes, PostgreSQL \(spec.postgresql.version) (\(spec.postgresql.install.method.rawValue)), \(spec.replication.mode.rawValue), \(spec.topology == .pgpool ? "pgpool-II \(loaded.pgpoolDialect.rawValue)\(loaded.pgpoolDialect == .v4_2 ? "+" : "") names" : "pcs \(loaded.dialect.rawValue) dialect")")
        print("No host was contacted: this is every step a bootstrap of bare hosts runs, in order.")
        print("Each step checks the host first and changes nothing that is already right.\n")
        print(plan.text(spec: spec), terminator: "")
        let hosts = Set(plan.steps.map(\.host)).count
        print("Plan: \(plan.steps.count) steps on \(hosts) hosts.")
    }
}

/// `exit(_:)` under a name commands can call (ParsableCommand's own `exit` hides it inside them).
func reported(_ error: Error) -> Error { exit(error) }
