import Foundation
import PghaRuntime
import PghaSpec

/// `pgha status`: every node's `NodeProbes` read in one round trip per host, hosts in parallel,
/// judged by `ClusterReport.evaluate`. Read-only, and no secret is needed. A node that cannot
/// be reached is part of the report, not an error.
public struct StatusSession: Sendable {
    public let loaded: LoadedSpec
    let connections: [String: any HostConnection]
    let unreachable: [String: String]
    public let counter = RoundTrips()

    public static func open(_ inputs: SessionInputs, log: SessionLog? = nil) async throws -> StatusSession {
        let loaded = try LoadedSpec.load(inputs, requireInventory: true, requireDialect: false)
        guard let inventory = loaded.inventory else { throw SessionFailure(["no inventory"]) }
        let counter = RoundTrips()
        var connections: [String: any HostConnection] = [:]
        var unreachable: [String: String] = [:]
        for (name, result) in await connectEach(loaded.spec, inventory, log: log, secrets: [], counter: counter) {
            switch result {
            case .success(let connection): connections[name] = connection
            case .failure(let error): unreachable[name] = "\(error)"
            }
        }
        return StatusSession(loaded: loaded, connections: connections, unreachable: unreachable)
    }

    /// One reading of every reachable node, judged.
    public func read() async -> ClusterReport {
        await Self.read(spec: loaded.spec, dialect: loaded.dialect, connections: connections, unreachable: unreachable)
    }

    /// The same over connections opened elsewhere (a switchover's).
    public static func read(spec: ClusterSpec, dialect: ClusterSpec.PcsDialect, connections: [String: any HostConnection],
                            unreachable: [String: String] = [:]) async -> ClusterReport {
        var script = FactScript()
        NodeProbes(spec: spec).probe(&script)
        let (facts, errors) = await read(script, spec: spec, connections: connections, unreachable: unreachable)
        return ClusterReport.evaluate(spec: spec, dialect: dialect, facts: facts, errors: errors)
    }

    /// Topology pgpool: pgpool-II's view and each node's PostgreSQL, judged.
    public func readPgpool(_ pgpool: PgpoolSpec) async -> PgpoolReport {
        var script = FactScript()
        PgpoolProbes(spec: loaded.spec, pgpool: pgpool).probe(&script)
        let (facts, errors) = await Self.read(script, spec: loaded.spec, connections: connections, unreachable: unreachable)
        return PgpoolReport.evaluate(spec: loaded.spec, pgpool: pgpool, facts: facts, errors: errors)
    }

    /// One fact script on every connection, hosts in parallel; a node that fails is nil, with its error.
    static func read(_ script: FactScript, spec: ClusterSpec, connections: [String: any HostConnection],
                     unreachable: [String: String]) async -> ([String: Facts?], [String: String]) {
        let script_ = script
        var facts: [String: Facts?] = [:]
        var errors = unreachable
        await withTaskGroup(of: (String, Result<Facts, Error>).self) { group in
            for (name, connection) in connections {
                group.addTask { do { return (name, .success(try await Executor.facts(script_, on: connection))) } catch { return (name, .failure(error)) } }
            }
            for await (name, result) in group {
                switch result {
                case .success(let value): facts[name] = value
                case .failure(let error): errors[name] = "\(error)"
                }
            }
        }
        for node in spec.nodes where facts[node.name] == nil { facts[node.name] = Optional<Facts>.none }
        return (facts, errors)
    }

    public func close() async { await closeAll(connections) }
}
