import Foundation
import PghaRender
import PghaSpec

/// The steps of the pgpool topology (seed 004_c3f681306b8e49e1.txt), in order: each node's OS,
/// packages (pgpool-II's instead of the cluster stack) and pgpool's files; PostgreSQL as in the
/// Pacemaker bootstrap — the first primary's initdb, configuration, start and roles, each
/// standby's clone, started as a standby whose primary_conninfo survives restarts — then
/// pgpool-II started node by node, and the delegate VIP checked.
public enum PgpoolCatalog {
    /// pgpool's files that live outside the data directory: step name, template, summary.
    static let fileSteps: [(name: String, template: String, summary: String)] = [
        ("sudoers", "pgpool-sudoers.stencil", "the watchdog's VIP commands, exactly"),
        ("pgpool-conf", "pgpool.conf.stencil", "pgpool-II's settings, from the spec"),
        ("pgpool-node-id", "pgpool_node_id.stencil", "this node's watchdog id"),
        ("pool-hba", "pool_hba.conf.stencil", "who may connect to pgpool-II"),
        ("pcp-conf", "pcp.conf.stencil", "the pcp user and the MD5 of its password"),
        ("pool-passwd", "pool_passwd.stencil", "AES-encrypted passwords; sensitive"),
        ("pgpool-key", "pgpoolkey.stencil", "pool_passwd's key; sensitive"),
        ("pcppass", "pcppass.stencil", "for pcp commands; sensitive"),
        ("failover-script", "pgpool-failover.sh.stencil", "promotes the new main node"),
        ("follow-script", "pgpool-follow-primary.sh.stencil", "re-points the standbys"),
        ("standby-script", "pgpool-standby-conf.sh.stencil", "writes a standby's primary_conninfo"),
        ("ssh-key", "pgpool-ssh-key.stencil", "the scripts' SSH key; sensitive"),
        ("authorized-keys", "pgpool-authorized-keys.stencil", "pgha block: the scripts' key, from the nodes only"),
        ("known-hosts", "pgpool-known-hosts.stencil", "the nodes' host keys, pinned"),
    ]
    /// Online recovery's scripts, in the data directory (after initdb or the clone).
    static let dataDirectorySteps: [(name: String, template: String, summary: String)] = [
        ("recovery-script", "pgpool-recovery-1st-stage.stencil", "write recovery_1st_stage in the data directory (online recovery)"),
        ("remote-start-script", "pgpool-remote-start.stencil", "write pgpool_remote_start in the data directory (online recovery)"),
    ]
    /// The files pgpool reads at start: a newer one means the service step restarts it.
    static let serviceTemplates: Set<String> = ["pgpool.conf.stencil", "pgpool_node_id.stencil", "pool_hba.conf.stencil",
                                                "pcp.conf.stencil", "pool_passwd.stencil"]

    public static func catalog(_ c: BootstrapContext) throws -> StepCatalog {
        let spec = c.spec
        guard let pgpool = spec.pgpool else { throw CatalogError("a pgpool catalog for a spec without a pgpool section") }
        let pg = spec.postgresql
        let primary = spec.primary
        let probes = ServerProbes(spec: spec, runID: c.runID)
        let standbyConf = pgpool.configDir + "/pgha-standby-conf"
        var b = CatalogBuilder()
        var serviceFiles: [String: [String]] = [:]

        for node in spec.nodes.map(\.name) {
            try StepCatalog.addOSAndPackages(node, c, &b)
            for item in fileSteps where c.files.contains(where: { $0.node == node && $0.template == item.template }) {
                let file = try c.file(node, template: item.template)
                b.add(FileStep(host: node, name: item.name, summary: "write \(file.path) \(String(file.mode, radix: 8)) (\(item.summary))", file: file))
                if serviceTemplates.contains(item.template) { serviceFiles[node, default: []].append(file.path) }
            }
        }

        func configuration(_ host: String, standby: Bool) throws {
            for (name, template, what) in [("postgresql-conf", "postgresql.conf.stencil", "postgresql.conf"), ("pg-hba", "pg_hba.conf.stencil", "pg_hba.conf")] {
                let file = FileStep(host: host, name: name, summary: "write \(pg.dataDir)/\(what)\(standby ? " (same as the primary's)" : "")",
                                    file: try c.file(host, template: template))
                b.add(PostgresConfigStep(file: file, binDir: pg.binDir, dataDir: pg.dataDir, osUser: pg.osUser.name, port: pg.port,
                                         clone: spec.pacemaker.pgsqlClone, pgsqlResource: spec.pacemaker.pgsqlResource,
                                         sharedState: SharedFacts.pg(spec)))
            }
            for item in dataDirectorySteps {
                b.add(FileStep(host: host, name: item.name, summary: item.summary, file: try c.file(host, template: item.template)))
            }
        }

        b.add(InitdbStep(host: primary, probes: probes, rebuild: c.rebuild.contains(primary)))
        try configuration(primary, standby: false)
        b.add(StartServerStep(host: primary, role: .primary, probes: probes))
        let replicationUser = b.add(ReplicationUserStep(host: primary, probes: probes, password: c.replicationPassword))
        b.add(PgpoolUsersStep(host: primary, probes: probes, users: c.pgpoolUsers))
        var ready = [b.add(PgpoolRecoveryExtensionStep(host: primary, probes: probes))]
        var hbaWritten = [b.steps.last { $0.host == primary && $0.name == "pg-hba" }!.id]
        for standby in spec.standbys.map(\.name) {
            b.add(BasebackupStep(host: standby, probes: probes, rebuild: c.rebuild.contains(standby)), after: [replicationUser] + hbaWritten)
            try configuration(standby, standby: true)
            hbaWritten.append(b.steps.last { $0.host == standby && $0.name == "pg-hba" }!.id)
            ready.append(b.add(StartServerStep(host: standby, role: .standby, probes: probes, standbyConf: standbyConf)))
        }
        // pgpool starts once every backend answers; node by node, so that a restart of a running
        // cluster keeps a watchdog leader and the VIP.
        var previous = ready
        var services: [String] = []
        for node in spec.nodes.map(\.name) {
            let id = b.add(PgpoolServiceStep(host: node, pgpool: pgpool, files: serviceFiles[node] ?? [],
                                             address: spec.node(named: node)?.address ?? node, osUser: pg.osUser.name,
                                             desiredConf: try c.file(node, template: "pgpool.conf.stencil").content), after: previous)
            services.append(id)
            previous = [id]
        }
        // Day two: a node pgpool holds down is attached again or recovered online, one at a time.
        var rejoined = services
        for node in spec.nodes.map(\.name) {
            rejoined = [b.add(PgpoolRejoinStep(host: node, probes: probes, pgpool: pgpool, standbyConf: standbyConf), after: rejoined)]
        }
        b.add(PgpoolVerifyStep(host: primary, spec: spec, pgpool: pgpool), after: rejoined)
        return try b.build()
    }
}
