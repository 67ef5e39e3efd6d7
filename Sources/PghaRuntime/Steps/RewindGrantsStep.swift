import Foundation
import PghaShell
import PghaSpec

/// pg_rewind's source role: the replication role gets EXECUTE on the four functions pg_rewind
/// calls (PostgreSQL's pg_rewind documentation lists them), so a rejoin needs no superuser
/// password on the network. Granted on whichever node is primary now (on every other node the
/// step has nothing to do: grants replicate), so it works after a failover too. A bootstrap
/// grants them with the replication role (ReplicationUserStep); this step repairs a running
/// cluster that lacks them.
public struct RewindGrantsStep: Step {
    public let host: String
    public let name = "rewind-grants"
    public var dependsOn: [String] = []
    let probes: ServerProbes

    public init(host: String, probes: ServerProbes) {
        self.host = host
        self.probes = probes
    }

    /// The functions pg_rewind runs on its source server.
    public static let functions = [
        "pg_catalog.pg_ls_dir(text, boolean, boolean)",
        "pg_catalog.pg_stat_file(text, boolean)",
        "pg_catalog.pg_read_binary_file(text)",
        "pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)",
    ]

    var role: String { probes.spec.replication.user }
    var grants: Probe<String> { probes.serverValue("pg.rewind-grants", "rewind_grants") }

    public var summary: String { "grant \(role) EXECUTE on the 4 functions pg_rewind reads its source with (on the current primary)" }

    public func probe(_ script: inout FactScript) {
        script.add(probes.managed)
        script.add(grants)
        script.add(probes.serverRole)
    }

    public func decide(_ facts: Facts) throws -> Change? {
        // Only a running primary can grant; where the role is absent the replication-user step comes first.
        guard facts[probes.managed], facts[probes.serverRole] == "primary", facts[grants] == "false" else { return nil }
        return Change(.update, "grant \(role) EXECUTE on \(Self.functions.map { $0.replacingOccurrences(of: "pg_catalog.", with: "") }.joined(separator: ", ")) (pg_rewind's source role)")
    }

    /// The statement (ReplicationUserStep runs it too).
    static func grant(_ role: String) -> String { "GRANT EXECUTE ON FUNCTION \(functions.joined(separator: ", ")) TO \(sqlIdentifier(role));\n" }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        let sql = Self.grant(role)
        _ = try await run(probes.pg.tools.psqlCommand.appending("-v", "ON_ERROR_STOP=1", "-q", "-f", "-").feeding(Data(sql.utf8)), on: connection,
                          display: "psql (grant pg_rewind's functions, SQL on stdin)")
    }
}
