import PghaShell
import PghaSpec

/// One shell command as argument groups: the first group goes on the command's first line,
/// every further group on a continuation line (`\`), the way the seeds' cluster_setup.sh reads.
public struct ShellCommand: Equatable, Sendable {
    public var groups: [[String]]
    public init(_ head: [String], _ rest: [[String]] = []) { groups = [head] + rest }
    public var arguments: [String] { groups.flatMap { $0 } }

    /// The command as shell text, one group of words a line (PghaShell's one quoting function:
    /// `ip=192.168.0.28` stays readable, `node_list=db1 db2 db3` becomes `node_list='db1 db2 db3'`).
    public var shell: Shell {
        Shell.join(groups.map { "\(words: $0)" }, separator: " \\\n    ")
    }

    public var rendered: String { shell.text }
}

/// The pcs commands of seeds 000/001, generated for one pcs dialect (docs/architecture.md, "pcs dialects").
public struct PcsCommands: Sendable {
    public let spec: ClusterSpec
    public let dialect: ClusterSpec.PcsDialect
    public static let cibFile = "pgsql_cfg"

    public init(spec: ClusterSpec, dialect: ClusterSpec.PcsDialect) {
        self.spec = spec
        self.dialect = dialect
    }

    var legacy: Bool { dialect == .v0_9 }

    /// Authenticate the nodes to each other, create the cluster, start it. The hacluster
    /// password reaches pcs on stdin (pcs reads it there when stdin is not a terminal).
    public func setupCommands() -> [ShellCommand] {
        var commands = [authCommand(), clusterSetupCommand(), ShellCommand(["pcs", "cluster", "start", "--all"])]
        if spec.pacemaker.enableAtBoot { commands.append(ShellCommand(["pcs", "cluster", "enable", "--all"])) }
        return commands
    }

    /// `pcs cluster auth …` (0.9) / `pcs host auth …`: reads the hacluster password on stdin.
    public func authCommand() -> ShellCommand {
        if legacy { return ShellCommand(["pcs", "cluster", "auth"] + spec.nodes.map(\.name) + ["-u", "hacluster"]) }
        return ShellCommand(["pcs", "host", "auth"], spec.nodes.map { [$0.name, "addr=\($0.address)"] } + [["-u", "hacluster"]])
    }

    /// `pcs cluster setup …`, with the nodes' addresses and links.
    public func clusterSetupCommand() -> ShellCommand {
        if legacy {
            var setup = ["pcs", "cluster", "setup"]
            if spec.pacemaker.lastManStanding { setup.append("--last_man_standing=1") }
            setup += ["--name", spec.name]
            // corosync 2 redundant rings: node,ring1address
            setup += spec.nodes.map { ([$0.name] + $0.ringAddresses).joined(separator: ",") }
            return ShellCommand(setup)
        }
        var groups = spec.nodes.map { node in [node.name] + ([node.address] + node.ringAddresses).map { "addr=\($0)" } }
        if spec.pacemaker.lastManStanding { groups.append(["quorum", "last_man_standing=1"]) }
        return ShellCommand(["pcs", "cluster", "setup", spec.name], groups)
    }

    /// `pcs cluster node add NODE …` on a member: corosync.conf synced to every node and the
    /// new one, its cluster started (`--start`) and enabled at boot when the spec says so.
    public func nodeAddCommand(_ node: ClusterSpec.Node) -> ShellCommand {
        let flags = ["--start"] + (spec.pacemaker.enableAtBoot ? ["--enable"] : [])
        if legacy { return ShellCommand(["pcs", "cluster", "node", "add", ([node.name] + node.ringAddresses).joined(separator: ",")] + flags) }
        return ShellCommand(["pcs", "cluster", "node", "add", node.name] + ([node.address] + node.ringAddresses).map { "addr=\($0)" } + flags)
    }

    /// `pcs cluster node remove NODE`: pcs stops the cluster on it (Pacemaker stops what runs
    /// there first), removes it from corosync.conf everywhere and from Pacemaker's node list.
    public func nodeRemoveCommand(_ name: String) -> ShellCommand {
        ShellCommand(["pcs", "cluster", "node", "remove", name])
    }

    func pcs(_ words: [String], _ rest: [[String]] = []) -> ShellCommand {
        ShellCommand(["pcs", "-f", Self.cibFile] + words, rest)
    }

    func role(_ promoted: Bool) -> String { promoted ? dialect.promotedRole : dialect.unpromotedRole }

    func agent(_ type: String) -> String { legacy ? type : "ocf:heartbeat:\(type)" }

    func operations(_ ops: [ClusterSpec.Operation]) -> [[String]] {
        ops.map { op in
            var group = ["op", op.name, "timeout=\(op.timeout)", "interval=\(op.interval)"]
            if let onFail = op.onFail { group.append("on-fail=\(onFail)") }
            if op.role == "promoted" { group.append("role=\(role(true))") }
            return group
        }
    }

    func vip(_ vip: ClusterSpec.VIP) -> ShellCommand {
        var groups: [[String]] = [["ip=\(vip.ip)"], ["nic=\(vip.nic)"], ["cidr_netmask=\(vip.cidrNetmask)"]]
        if !vip.meta.isEmpty { groups.append(["meta"] + vip.meta.map { "\($0.0)=\($0.1)" }) }
        return pcs(["resource", "create", vip.resource, agent("IPaddr2")], groups + operations(vip.operations))
    }

    /// The pgsql resource's parameters. No password: primary_conninfo_opt ends up in the CIB,
    /// so the password lives in ~postgres/.pgpass instead.
    public func pgsqlParameters() -> [String] {
        let pg = spec.postgresql
        var parameters = [
            "pgctl=\(pg.binDir)/pg_ctl",
            "psql=\(pg.binDir)/psql",
            "pgdata=\(pg.dataDir)",
            "config=\(pg.dataDir)/postgresql.conf",
        ]
        if pg.port != 5432 { parameters.append("pgport=\(pg.port)") }
        if let tmpdir = spec.pacemaker.tmpdir { parameters.append("tmpdir=\(tmpdir)") }
        parameters += [
            "rep_mode=\(spec.replication.mode.rawValue)",
            "node_list=\(spec.nodes.map(\.name).joined(separator: " "))",
            "master_ip=\(spec.vips.readWrite.ip)",
            "repuser=\(spec.replication.user)",
            "primary_conninfo_opt=\(spec.replication.conninfoOptions.map { "\($0.key)=\($0.value)" }.joined(separator: " "))",
            "restart_on_promote=\(spec.pacemaker.restartOnPromote)",
        ]
        if let count = spec.pacemaker.xlogCheckCount { parameters.append("xlog_check_count=\(count)") }
        return parameters
    }

    /// Build the whole resource configuration in a CIB file, then push it once.
    public func resourceCommands() -> [ShellCommand] {
        let pm = spec.pacemaker
        var commands: [ShellCommand] = [ShellCommand(["pcs", "cluster", "cib", Self.cibFile]),
                                        ShellCommand(["cp", Self.cibFile, "\(Self.cibFile).orig"])]
        for (key, value) in pm.properties {
            commands.append(pcs(["property", "set", "\(key)=\(value)"]))
        }
        for (key, value) in pm.resourceDefaults {
            commands.append(pcs(dialect == .v0_9 ? ["resource", "defaults", "\(key)=\(value)"]
                                                 : ["resource", "defaults", "update", "\(key)=\(value)"]))
        }
        for device in pm.fencing {
            commands.append(pcs(["stonith", "create", device.name, device.type],
                                device.parameters.map { ["\($0.key)=\($0.value)"] }))
        }
        commands.append(vip(spec.vips.readWrite))
        if let ro = spec.vips.readOnly { commands.append(vip(ro)) }
        commands.append(pcs(["resource", "create", pm.pgsqlResource, agent("pgsql")],
                            pgsqlParameters().map { [$0] } + operations(pm.operations)))

        let c = pm.clone
        let cloneOptions = legacy
            ? ["master-max=\(c.promotedMax)", "master-node-max=\(c.promotedNodeMax)"]
            : ["promoted-max=\(c.promotedMax)", "promoted-node-max=\(c.promotedNodeMax)"]
        let rest = cloneOptions + ["clone-max=\(c.cloneMax)", "clone-node-max=\(c.cloneNodeMax)", "notify=\(c.notify)"]
        switch dialect {
        case .v0_9: commands.append(pcs(["resource", "master", pm.pgsqlClone, pm.pgsqlResource], [rest]))
        case .v0_10: commands.append(pcs(["resource", "promotable", pm.pgsqlResource, pm.pgsqlClone], [rest]))
        case .v0_11, .v0_12: commands.append(pcs(["resource", "promotable", pm.pgsqlResource, pm.pgsqlClone], [["meta"] + rest]))
        }

        var vips = [(spec.vips.readWrite, true)]
        if let ro = spec.vips.readOnly { vips.append((ro, false)) }
        for (vip, _) in vips { commands.append(pcs(["resource", "group", "add", vip.group, vip.resource])) }
        for (vip, promoted) in vips {
            let roleWord = legacy ? (promoted ? "master" : "slave") : role(promoted)
            // pcs 0.12 takes the score as an option (a bare score is deprecated there).
            commands.append(pcs(["constraint", "colocation", "add", vip.group, "with", roleWord, pm.pgsqlClone,
                                 dialect >= .v0_12 ? "score=INFINITY" : "INFINITY"]))
            commands.append(pcs(["constraint", "order", "promote", pm.pgsqlClone, "then", "start", vip.group,
                                 "symmetrical=false", legacy ? "score=INFINITY" : "kind=Mandatory"]))
            commands.append(pcs(["constraint", "order", "demote", pm.pgsqlClone, "then", "stop", vip.group,
                                 "symmetrical=false", legacy ? "score=0" : "kind=Optional"]))
        }
        commands += objectCommands()
        commands.append(ShellCommand(["pcs", "cluster", "cib-push", Self.cibFile, "diff-against=\(Self.cibFile).orig"]))
        return commands
    }

    /// The spec's own resources, groups and constraints (`pacemaker.resources`, `.constraints`;
    /// seeds 002/003), after pgha's: a constraint may name pgha's objects.
    func objectCommands() -> [ShellCommand] {
        let pm = spec.pacemaker
        var commands: [ShellCommand] = []
        for resource in pm.resources {
            var groups = resource.params.map { ["\($0.key)=\($0.value)"] }
            if !resource.meta.isEmpty { groups.append(["meta"] + resource.meta.map { "\($0.key)=\($0.value)" }) }
            for op in resource.operations {
                var group = ["op", op.name]
                if let interval = op.interval { group.append("interval=\(interval)") }
                if let timeout = op.timeout { group.append("timeout=\(timeout)") }
                if let onFail = op.onFail { group.append("on-fail=\(onFail)") }
                groups.append(group)
            }
            commands.append(pcs(["resource", "create", resource.id, resource.agent], groups))
        }
        for group in ClusterSpec.groups(of: pm.resources) {
            commands.append(pcs(["resource", "group", "add", group.id] + group.members))
        }
        func roleWord(_ role: ClusterSpec.ConstraintRole?) -> [String] {
            guard let role else { return [] }
            return [legacy ? (role == .promoted ? "master" : "slave") : self.role(role == .promoted)]
        }
        for constraint in pm.constraints {
            switch constraint.rule {
            case .location(let resource, let node, let score):
                let negative = score.hasPrefix("-")
                let magnitude = negative || score.hasPrefix("+") ? String(score.dropFirst()) : score
                commands.append(pcs(["constraint", "location", resource, negative ? "avoids" : "prefers", "\(node)=\(magnitude)"]))
            case .colocation(let resource, let role, let with, let withRole, let score):
                // score=… is taken by pcs 0.10 and later (a bare score is deprecated in 0.12).
                commands.append(pcs(["constraint", "colocation", "add"] + roleWord(role) + [resource, "with"] + roleWord(withRole)
                                    + [with, legacy ? score : "score=\(score)"]))
            case .order(let first, let firstAction, let then, let thenAction, let kind, let symmetrical):
                var words = ["constraint", "order"] + [firstAction?.rawValue, first, "then", thenAction?.rawValue, then].compactMap { $0 }
                if let kind { words.append("kind=\(kind.rawValue)") }
                if let symmetrical { words.append("symmetrical=\(symmetrical)") }
                commands.append(pcs(words))
            }
        }
        return commands
    }
}
