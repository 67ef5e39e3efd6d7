import Foundation
import PghaRender
import PghaShell
import PghaSpec

/// A defect in how steps were put together (a dependency on no step, one id twice, two probes
/// of one name reading different things). Found when the catalog is built, before any host is
/// contacted; a unit test builds every catalog the specs make.
public struct CatalogError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The steps of a run, in order, with their dependencies checked: every dependency names a
/// step that comes earlier (so the executor can never wait for something that runs later, or
/// never), ids are unique, and on each host no two probes of one name read different things.
/// `pgha plan --offline` prints a catalog; `plan` and `apply` run one.
public struct StepCatalog: Sendable {
    public let steps: [any Step]

    public init(_ steps: [any Step]) throws {
        var seen = Set<String>()
        for step in steps {
            for dependency in step.dependsOn where !seen.contains(dependency) {
                let exists = steps.contains { $0.id == dependency }
                throw CatalogError("\(step.id) depends on \(dependency), \(exists ? "which comes after it" : "which is no step of this run")")
            }
            guard seen.insert(step.id).inserted else { throw CatalogError("\(step.id) is in the catalog twice") }
        }
        for host in Self.hosts(of: steps) {
            var script = FactScript()
            for step in steps where step.host == host { step.probe(&script) }
            if !script.conflicts.isEmpty {
                throw CatalogError("\(host): probes \(script.conflicts.joined(separator: ", ")) are read by two steps with different commands")
            }
        }
        self.steps = steps
    }

    /// Hosts in the order their first step appears.
    public var hosts: [String] { Self.hosts(of: steps) }

    static func hosts(of steps: [any Step]) -> [String] {
        var seen: [String] = []
        for step in steps where !seen.contains(step.host) { seen.append(step.host) }
        return seen
    }

    public func step(_ id: String) -> (any Step)? { steps.first { $0.id == id } }
}

/// Appends steps in run order. Each step waits for the one before it on its host; `after`
/// adds references to steps on other hosts (the ids `add` returned).
public struct CatalogBuilder {
    public private(set) var steps: [any Step] = []

    public init() {}

    @discardableResult
    public mutating func add<S: Step>(_ step: S, after: [String] = []) -> String {
        var step = step
        let previous = steps.last(where: { $0.host == step.host }).map { [$0.id] } ?? []
        step.dependsOn = previous + after.filter { !previous.contains($0) }
        steps.append(step)
        return step.id
    }

    public func build() throws -> StepCatalog { try StepCatalog(steps) }
}

extension StepCatalog {
    /// Every step of a run of the spec's topology: Pacemaker's (`bootstrap`) or pgpool-II's
    /// (`PgpoolCatalog`).
    public static func of(_ c: BootstrapContext) throws -> StepCatalog {
        c.spec.topology == .pgpool ? try PgpoolCatalog.catalog(c) : try bootstrap(c)
    }

    /// The bootstrap of seeds 000/001: every node's OS and packages, the first primary's
    /// initdb and replication role, each standby's clone (after the primary accepts
    /// replication), then Pacemaker up to the CIB and its verification. Each step checks its
    /// host first, so the same catalog bootstraps bare hosts and repairs a drifted cluster.
    public static func bootstrap(_ c: BootstrapContext) throws -> StepCatalog {
        let spec = c.spec
        let pg = spec.postgresql
        let primary = spec.primary
        let probes = ServerProbes(spec: spec, runID: c.runID)
        var b = CatalogBuilder()

        for node in spec.nodes { try addOSAndPackages(node.name, c, &b) }

        // Each node's Pacemaker preparation needs nothing of PostgreSQL: on a standby it runs
        // while the primary is initialised, on the primary while the standbys clone.
        var pcsd: [String] = [], corosync: [String] = [], agentFix: [String] = []
        func preparePacemaker(_ node: String) {
            b.add(HaclusterPasswordStep(host: node, spec: spec, password: c.haclusterPassword))
            pcsd.append(b.add(PcsdStep(host: node)))
            corosync.append(b.add(CorosyncDefaultStep(host: node, spec: spec)))
            agentFix.append(b.add(AgentFixStep(host: node)))
        }
        for standby in spec.standbys.map(\.name) { preparePacemaker(standby) }

        func configuration(_ host: String, standby: Bool) throws -> (conf: PostgresConfigStep, hba: PostgresConfigStep) {
            func step(_ name: String, _ template: String, _ summary: String) throws -> PostgresConfigStep {
                let file = FileStep(host: host, name: name, summary: summary, file: try c.file(host, template: template))
                return PostgresConfigStep(file: file, binDir: pg.binDir, dataDir: pg.dataDir, osUser: pg.osUser.name, port: pg.port,
                                          clone: spec.pacemaker.pgsqlClone, pgsqlResource: spec.pacemaker.pgsqlResource,
                                          sharedState: SharedFacts.pg(spec))
            }
            let conf = "write \(pg.dataDir)/postgresql.conf (\(standby ? "same as the primary's" : "\(pg.settings.count) settings"))"
            let hba = "write \(pg.dataDir)/pg_hba.conf (\(standby ? "same as the primary's" : "\(pg.hba.count + 2 * spec.nodes.count + 1) rules"))"
            return (try step("postgresql-conf", "postgresql.conf.stencil", conf), try step("pg-hba", "pg_hba.conf.stencil", hba))
        }

        // Primary first: initdb, configuration, start, replication role.
        b.add(InitdbStep(host: primary, probes: probes, rebuild: c.rebuild.contains(primary)))
        let primaryFiles = try configuration(primary, standby: false)
        b.add(primaryFiles.conf)
        b.add(primaryFiles.hba)
        b.add(StartServerStep(host: primary, role: .primary, probes: probes))
        let replicationUser = b.add(ReplicationUserStep(host: primary, probes: probes, password: c.replicationPassword))
        preparePacemaker(primary)
        var stopped: [String] = []
        // A node added to a running cluster clones from whoever is primary now, which lets it
        // replicate once its pg_hba.conf lists the node: after every earlier node's.
        var hbaWritten = [b.steps.last { $0.host == primary && $0.name == "pg-hba" }!.id]
        for standby in spec.standbys.map(\.name) {
            b.add(BasebackupStep(host: standby, probes: probes, rebuild: c.rebuild.contains(standby)), after: [replicationUser] + hbaWritten)
            let files = try configuration(standby, standby: true)
            b.add(files.conf)
            hbaWritten.append(b.add(files.hba))
            b.add(StartServerStep(host: standby, role: .standby, probes: probes))
            stopped.append(b.add(StopServerStep(host: standby, role: .standby, probes: probes)))
        }
        stopped.insert(b.add(StopServerStep(host: primary, role: .primary, probes: probes), after: stopped), at: 0)

        b.add(PcsAuthStep(host: primary, spec: spec, dialect: c.dialect, password: c.haclusterPassword), after: pcsd + corosync)
        let setup = b.add(ClusterSetupStep(host: primary, spec: spec, dialect: c.dialect))
        // Only for a spec that manages dc-deadtime (pgha's default; the seed specs leave Pacemaker's).
        let firstCIB = FirstCIBStep.deadtime(spec) != nil ? spec.nodes.map(\.name).map { b.add(FirstCIBStep(host: $0, spec: spec, probes: probes), after: [setup]) } : []
        b.add(ClusterStartStep(host: primary, spec: spec), after: firstCIB)
        // Day two: nodes added to or removed from the spec join or leave (a new node after its
        // clone was handed over and its agent patched).
        b.add(ClusterNodesStep(host: primary, spec: spec, dialect: c.dialect), after: stopped + agentFix)
        // First time: the rendered script; afterwards: drift against the live CIB, repaired in one push.
        let script = try c.file(nil, template: "pcs-resources.sh.stencil")
        let cib = b.add(ClusterConfigStep(host: primary, spec: spec, dialect: c.dialect, createScript: script.content, runID: c.runID),
                        after: stopped + agentFix)
        // Day two: any node may be the primary now; each node is made a standby of it again
        // when it is not one (after a failover, a lost node), from the current primary.
        // The replication role as the spec says on whichever node is primary (grants, password)
        // before any rejoin connects with it.
        var role: [String] = []
        for node in spec.nodes.map(\.name) {
            b.add(RewindGrantsStep(host: node, probes: probes), after: [cib])
            role.append(b.add(ReplicationPasswordStep(host: node, probes: probes, password: c.replicationPassword)))
        }
        var rejoined: [String] = []
        for node in spec.nodes.map(\.name) {
            let files = [try c.file(node, template: "postgresql.conf.stencil"), try c.file(node, template: "pg_hba.conf.stencil")]
            rejoined.append(b.add(RejoinStep(host: node, probes: probes, rebuild: c.rebuild.contains(node), configuration: files), after: role))
        }
        b.add(VerifyStep(host: primary, spec: spec, dialect: c.dialect), after: rejoined.filter { !$0.hasPrefix(primary + "/") })
        return try b.build()
    }

    static func addOSAndPackages(_ host: String, _ c: BootstrapContext, _ b: inout CatalogBuilder) throws {
        let spec = c.spec, os = spec.os, pg = spec.postgresql
        if os.manageHostsFile {
            let count = spec.nodes.count + 1 + (spec.vips.readOnly == nil ? 0 : 1) + os.extraHosts.count
            b.add(FileStep(host: host, name: "hosts-file", summary: "manage the pgha block in /etc/hosts (\(count) entries; other lines untouched)",
                           file: try c.file(host, template: "hosts.stencil")))
        }
        if os.firewall != .unmanaged { b.add(FirewallStep(host: host, spec: spec)) }
        if os.selinux != .unmanaged { b.add(SELinuxStep(host: host, spec: spec)) }
        if os.timeSync != .none { b.add(TimeSyncStep(host: host, spec: spec)) }
        switch (spec.topology, spec.pgpool) {
        case (.pgpool, let pgpool?): b.add(PackagesStep.pgpool(host: host, pgpool: pgpool))
        default:
            b.add(ClusterPackagesStep(host: host, dialect: c.dialect, fenceTypes: spec.pacemaker.fencing.map(\.type)))
            // The agents of pacemaker.resources: installed everywhere; parameters checked once.
            if !spec.pacemaker.resources.isEmpty {
                b.add(ResourceAgentsStep(host: host, resources: spec.pacemaker.resources, checkParameters: host == spec.primary))
            }
        }
        switch pg.install.method {
        case .package: b.add(PackagesStep.postgresql(host: host, spec: spec))
        case .source: b.add(BuildPackagesStep(host: host, spec: spec))
        }
        if pg.install.method == .package && pg.install.distribution == .debian {
            b.add(DistributionClusterStep(host: host, spec: spec))
        }
        b.add(OSUserStep(host: host, spec: spec))
        // After os-user: the installed prefix is owned by the PostgreSQL user (seed 000 §5.2.1).
        if pg.install.method == .source { b.add(try PostgresBuildStep(host: host, spec: spec)) }
        b.add(DirectoriesStep(host: host, spec: spec))
        b.add(FileStep(host: host, name: "profile", summary: "manage the pgha block in \(pg.osUser.home)/.bash_profile (PGDATA, PATH, PGPORT)",
                       file: try c.file(host, template: "bash_profile.stencil")))
        b.add(FileStep(host: host, name: "pgpass", summary: "write \(pg.osUser.home)/.pgpass 0600 for \(spec.replication.user) (sensitive)",
                       file: try c.file(host, template: "pgpass.stencil")))
    }
}

/// `pgha plan --offline`: every step of a catalog, as JSON documents it.
public struct OfflineStep: Equatable, Sendable, Encodable {
    public var host: String
    public var name: String
    public var summary: String
    public var details: [String]
    public var dependsOn: [String]
}

extension StepCatalog {
    public var offlineSteps: [OfflineStep] {
        steps.map { OfflineStep(host: $0.host, name: $0.name, summary: $0.summary, details: $0.details, dependsOn: $0.dependsOn) }
    }

    /// Hosts in spec order, each with its steps in execution order and what it waits for on others.
    public func text(spec: ClusterSpec) -> String {
        let number = Dictionary(uniqueKeysWithValues: steps.enumerated().map { ($1.id, $0 + 1) })
        var out = ""
        let indent = String(repeating: " ", count: 30)
        for node in spec.nodes {
            let role = node.name == spec.primary ? "first primary" : "standby"
            out += "\(node.name) (\(node.address), \(role))\n"
            for step in steps where step.host == node.name {
                let n = String(number[step.id] ?? 0)
                let crossHost = step.dependsOn.filter { !$0.hasPrefix("\(node.name)/") }
                let padded = step.name.padding(toLength: 20, withPad: " ", startingAt: 0)
                out += "  + \(String(repeating: " ", count: max(0, 2 - n.count)) + n) \(padded) \(step.summary)\n"
                for detail in step.details { out += indent + detail + "\n" }
                if !crossHost.isEmpty {
                    out += indent + "waits for " + crossHost.map { "\($0) (#\(number[$0] ?? 0))" }.joined(separator: ", ") + "\n"
                }
            }
            out += "\n"
        }
        return out
    }
}
