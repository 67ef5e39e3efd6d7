import Foundation
import CLibCrypto
import Glibc
import PghaRender
import PghaShell
import PghaSpec

// Pacemaker and corosync up to a running cluster (seeds 000/001 §6): the hacluster password,
// pcsd, the distribution's default cluster, the resource-agents fix, pcs auth, cluster setup
// and start. The CIB itself is ClusterConfigStep.

/// The hacluster password, compared with /etc/shadow by crypt(3) and set with chpasswd over stdin.
public struct HaclusterPasswordStep: Step {
    public let host: String
    public let name = "hacluster-password"
    public var dependsOn: [String] = []
    let password: String
    let reference: SecretRef

    public init(host: String, spec: ClusterSpec, password: String) {
        self.host = host
        self.password = password
        self.reference = spec.pacemaker.haclusterPassword
    }

    public var summary: String { "set the hacluster password with chpasswd over stdin (from \(reference), sensitive)" }

    public static let shadow = Probe("hacluster.shadow", "getent shadow hacluster | cut -d: -f2")

    public func probe(_ script: inout FactScript) { script.add(Self.shadow) }

    public func decide(_ facts: Facts) throws -> Change? {
        Self.passwordMatches(password, hash: facts[Self.shadow]) ? nil : Change(.update, "set the hacluster password (sensitive)")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(Command("chpasswd", stdin: Data("hacluster:\(password)\n".utf8)), on: connection,
                          display: "chpasswd (hacluster, password on stdin)")
    }

    /// Compares a password with a crypt(3) hash from /etc/shadow, without any process seeing
    /// it. crypt_r keeps its state in the caller's buffer, so hosts are compared at once (a
    /// yescrypt hash costs ~20 ms each).
    public static func passwordMatches(_ password: String, hash: String) -> Bool {
        guard hash.hasPrefix("$") else { return false }
        let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
        defer { data.deallocate() }
        memset(data, 0, MemoryLayout<crypt_data>.size)
        guard let result = crypt_r(password, hash, data) else { return false }
        return String(cString: result) == hash
    }
}

/// pcsd started, enabled and listening on 2224.
public struct PcsdStep: Step {
    public let host: String
    public let name = "pcsd"
    public var dependsOn: [String] = []
    public let summary = "start and enable pcsd, wait for port 2224"

    public init(host: String) { self.host = host }

    static let listening: Shell = "(ss -ltn 2>/dev/null || netstat -ltn) | grep -q ':2224 '"
    /// active, enabled, listening; nil when the probe printed something else.
    public static let state = Probe("pcsd", "echo $(systemctl is-active pcsd 2>/dev/null) $(systemctl is-enabled pcsd 2>/dev/null) $( (ss -ltn 2>/dev/null || netstat -ltn) | grep -c ':2224 ')") { text -> (active: Bool, enabled: Bool, listening: Bool)? in
        let fields = text.split(separator: " ").map(String.init)
        guard fields.count == 3 else { return nil }
        return (fields[0] == "active", fields[1] == "enabled", fields[2] != "0")
    }

    public func probe(_ script: inout FactScript) { script.add(Self.state) }

    public func decide(_ facts: Facts) throws -> Change? {
        guard let state = facts[Self.state] else { return Change(.update, "start and enable pcsd") }
        var todo: [String] = []
        if !state.active || !state.listening { todo.append("start") }
        if !state.enabled { todo.append("enable") }
        return todo.isEmpty ? nil : Change(.update, "\(todo.joined(separator: " and ")) pcsd")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(Shell.all([Command("systemctl", "enable", "pcsd").shell, Command("systemctl", "start", "pcsd").shell,
                                     Shell.waitUntil(Self.listening, tries: 60, interval: 0.5, failure: "pcsd does not listen on 2224")]),
                          on: connection, display: "systemctl enable --now pcsd; wait for :2224")
    }
}

/// Debian's packages configure a single-node cluster "debian"; it is removed only when it is
/// that default (loopback ring, no resources). Another cluster is never destroyed.
public struct CorosyncDefaultStep: Step {
    public let host: String
    public let name = "corosync-default"
    public var dependsOn: [String] = []
    public let summary = "remove the distribution's default corosync.conf only if no cluster of ours is configured"
    let clusterName: String

    public init(host: String, spec: ClusterSpec) {
        self.host = host
        self.clusterName = spec.name
    }

    /// name=, loopback= (ring0 on 127.0.0.1 count), resources= (primitives in the CIB); nil when absent.
    public static let state = Probe("corosync.conf", "if [ -f /etc/corosync/corosync.conf ]; then echo \"name=$(awk '$1 == \"cluster_name:\" {print $2}' /etc/corosync/corosync.conf)\"; echo \"loopback=$(grep -c 'ring0_addr: *127.0.0.1' /etc/corosync/corosync.conf)\"; echo \"resources=$(printf '%s' \(SharedFacts.Variable.cib.expansion) | grep -c '<primitive')\"; else echo absent; fi",
                                    reads: [SharedFacts.cib]) { text -> [String: String]? in
        text.isEmpty || text == "absent" ? nil : keyValueLines(text)
    }

    public func probe(_ script: inout FactScript) { script.add(Self.state) }

    public func decide(_ facts: Facts) throws -> Change? {
        guard let values = facts[Self.state], values["name"] != clusterName else { return nil }
        if values["name"] == "debian" && values["loopback"] != "0" && (values["resources"] ?? "0") == "0" {
            return Change(.delete, "remove the distribution's default single-node cluster 'debian' (it has no resources: pcs cluster kill, pcs cluster destroy)")
        }
        throw fail("this host is already in cluster '\(values["name"] ?? "?")' (/etc/corosync/corosync.conf); pgha will not destroy another cluster. Remove it yourself, then re-run")
    }

    /// Its daemons are killed first: it runs no resources (decide checked its CIB), and a
    /// Pacemaker stopped politely right after it started waits out its DC election (up to
    /// dc-deadtime, 20 s: measured 19 s on a freshly booted test-bed host, 1.6 s so).
    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(Command("pcs", "cluster", "kill"), on: connection)
        _ = try await run(Command("pcs", "cluster", "destroy"), on: connection)
    }
}

/// resource-agents 4.12 on Debian 12 calls `crm_attribute -p`, which its Pacemaker refuses:
/// every pgsql start fails. ocf-shellfuncs is patched where it has that call.
public struct AgentFixStep: Step {
    public let host: String
    public let name = "pgsql-agent-fix"
    public var dependsOn: [String] = []
    public let summary = "patch resource-agents' ocf-shellfuncs where it calls 'crm_attribute -p' (Debian 12 bug), if present"

    public init(host: String) { self.host = host }

    static let shellfuncs = "/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs"
    /// grep -c prints the count (0 included); a missing file prints nothing.
    public static let calls = Probe("ocf.crm_attribute", "grep -c 'crm_attribute -p \\$@' \(shellfuncs) 2>/dev/null; true") { text in
        Int(text.split(separator: "\n").first ?? "") ?? 0
    }

    /// The installed resource-agents, named in the plan (the bug is read from the file, not the version).
    static let installed = Probe("packages:resource-agents", installedPackagesQuery(["resource-agents"])) { parseInstalledPackages($0) }

    public func probe(_ script: inout FactScript) {
        script.add(Self.calls)
        script.add(Self.installed)
    }

    public func decide(_ facts: Facts) throws -> Change? {
        guard facts[Self.calls] > 0 else { return nil }
        let version = facts[Self.installed]["resource-agents"].map { "resource-agents \(upstream($0))" } ?? "the installed resource-agents"
        return Change(.update, "patch \(Self.shellfuncs): crm_attribute -p → crm_attribute --promotion (\(version) has the call, which fails every pgsql start)")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(Command("sed", "-i", "s|crm_attribute -p \\$@|crm_attribute --promotion $@|", Self.shellfuncs), on: connection)
    }
}

/// pcs host auth (0.10+) or cluster auth (0.9) of every node, password on stdin.
public struct PcsAuthStep: Step {
    public let host: String
    public let name = "pcs-auth"
    public var dependsOn: [String] = []
    let nodes: [String]
    let dialect: ClusterSpec.PcsDialect
    let command: Command
    let password: String

    public init(host: String, spec: ClusterSpec, dialect: ClusterSpec.PcsDialect, password: String) {
        self.host = host
        self.nodes = spec.nodes.map(\.name)
        self.dialect = dialect
        self.command = Command(PcsCommands(spec: spec, dialect: dialect).authCommand().arguments)
        self.password = password
    }

    public var summary: String { command.argv.joined(separator: " ") + "  (password on stdin)" }

    var known: Probe<String> {
        Probe("pcs.known-hosts", "cat \(dialect == .v0_9 ? "/var/lib/pcsd/tokens" : "/var/lib/pcsd/known-hosts") 2>/dev/null")
    }

    public func probe(_ script: inout FactScript) { script.add(known) }

    public func decide(_ facts: Facts) throws -> Change? {
        let text = facts[known]
        let missing = nodes.filter { !text.contains("\"\($0)\"") }
        return missing.isEmpty ? nil : Change(.update, "authenticate \(missing.joined(separator: ", ")) to each other as hacluster")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(command.feeding(Data("\(password)\n".utf8)), on: connection, display: command.description + " (password on stdin)")
    }
}

/// pcs cluster setup with every node (seed 000 §6.3).
public struct ClusterSetupStep: Step {
    public let host: String
    public let name = "cluster-setup"
    public var dependsOn: [String] = []
    let spec: ClusterSpec
    let command: Command

    public init(host: String, spec: ClusterSpec, dialect: ClusterSpec.PcsDialect) {
        self.host = host
        self.spec = spec
        self.command = Command(PcsCommands(spec: spec, dialect: dialect).clusterSetupCommand().arguments)
    }

    public var summary: String { command.argv.joined(separator: " ") }

    public static let clusterName = Probe("corosync.name", "awk '$1 == \"cluster_name:\" {print $2}' /etc/corosync/corosync.conf 2>/dev/null")

    public func probe(_ script: inout FactScript) { script.add(Self.clusterName) }

    public func decide(_ facts: Facts) throws -> Change? {
        facts[Self.clusterName] == spec.name ? nil : Change(.create, "create cluster \(spec.name) on \(spec.nodes.map(\.name).joined(separator: ", "))")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(command, on: connection)
    }
}

/// The cluster started on every node (and enabled at boot when the spec says so), with quorum.
public struct ClusterStartStep: Step {
    public let host: String
    public let name = "cluster-start"
    public var dependsOn: [String] = []
    let nodes: [String]
    let enableAtBoot: Bool

    public init(host: String, spec: ClusterSpec) {
        self.host = host
        self.nodes = spec.nodes.map(\.name)
        self.enableAtBoot = spec.pacemaker.enableAtBoot
    }

    /// The spec's nodes that are members (all of them before the cluster runs: setup makes
    /// them so); a node the spec adds joins later (cluster-nodes).
    func members(_ status: CrmMonStatus?) -> [String] {
        guard let status, !status.nodes.isEmpty else { return nodes }
        return nodes.filter { node in status.nodes.contains { $0.name == node } }
    }

    public var summary: String { "pcs cluster start --all\(enableAtBoot ? "; pcs cluster enable --all" : ""); wait for quorum" }

    public static let status = CrmMonStatus.probe.map { CrmMonStatus.parse($0) }

    public func probe(_ script: inout FactScript) { script.add(Self.status) }

    public func decide(_ facts: Facts) throws -> Change? {
        let status = facts[Self.status]
        guard let status, status.quorate, members(status).allSatisfy(status.onlineNodes.contains) else {
            return Change(.update, "start the cluster on every node and wait for quorum")
        }
        return nil
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(Command("pcs", "cluster", "start", "--all"), on: connection)
        if enableAtBoot { _ = try await run(Command("pcs", "cluster", "enable", "--all"), on: connection) }
        let nodeCount = members(facts[Self.status]).count
        let quorate: Shell = "s=$(\(CrmMonStatus.query) 2>/dev/null); [ \"$(printf '%s' \"$s\" | grep -c 'online=\"true\"')\" -ge \(nodeCount) ] && printf '%s' \"$s\" | grep -q 'with_quorum=\"true\"'"
        _ = try await run(Shell.waitUntil(quorate, tries: 120, interval: 0.5, failure: "the cluster did not reach quorum with all \(nodeCount) nodes within 60 s"),
                          on: connection, display: "wait for quorum")
    }
}

/// The cluster's members follow the spec on a running cluster: a node added to the spec joins
/// (`pcs cluster node add`, its cluster started), a node removed from it leaves
/// (`pcs cluster node remove`: Pacemaker stops its standby first). The removed node's data
/// directory stays as it is. Removing the node that is the primary now is refused: switch over
/// first. A new cluster is cluster-setup's; this step looks only at one that exists.
public struct ClusterNodesStep: Step {
    public let host: String
    public let name = "cluster-nodes"
    public var dependsOn: [String] = []
    let spec: ClusterSpec
    let commands: PcsCommands

    public init(host: String, spec: ClusterSpec, dialect: ClusterSpec.PcsDialect) {
        self.host = host
        self.spec = spec
        self.commands = PcsCommands(spec: spec, dialect: dialect)
    }

    public var summary: String { "keep the cluster's members the spec's nodes: pcs cluster node add / remove" }
    public var details: [String] {
        ["a node leaving is refused while it is the primary; its data directory is left in place"]
    }

    /// The members corosync.conf lists: its nodes' `name:` (corosync 3, pcs 0.10+), else their
    /// `ring0_addr:` (corosync 2 under pcs 0.9 names nodes by it). Empty when there is no file.
    /// Names come from the host: only those of the node-name grammar are acted on; any other
    /// makes the step refuse.
    public static let members = Probe("corosync.members",
                                      "awk '$1 == \"name:\" || $1 == \"ring0_addr:\" {print $1, $2}' /etc/corosync/corosync.conf 2>/dev/null") { text -> [String] in
        let pairs = text.split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1).map(String.init) }.filter { $0.count == 2 }
        let names = pairs.filter { $0[0] == "name:" }.map { $0[1] }
        return names.isEmpty ? pairs.map { $0[1] } : names
    }
    static let status = CrmMonStatus.probe.map { CrmMonStatus.parse($0) }

    public func probe(_ script: inout FactScript) {
        script.add(ClusterSetupStep.clusterName)
        script.add(Self.members)
        script.add(Self.status)
    }

    /// (join, leave) in spec order / corosync order.
    func differences(_ facts: Facts) throws -> (join: [ClusterSpec.Node], leave: [String]) {
        // Only our own cluster's members: a bare Debian host's default corosync.conf (cluster
        // 'debian', one node on 127.0.0.1) is cluster-setup's to replace, not to join.
        let members = facts[Self.members]
        guard facts[ClusterSetupStep.clusterName] == spec.name, !members.isEmpty else { return ([], []) }
        if let bad = members.first(where: { !Grammar.matches($0, Grammar.nodeName) }) {
            throw fail("/etc/corosync/corosync.conf names a node '\(Grammar.escaped(bad))' that is no plain node name; pgha does not act on it. Check the file")
        }
        let join = spec.nodes.filter { !members.contains($0.name) }
        let leave = members.filter { name in !spec.nodes.contains { $0.name == name } }
        return (join, leave)
    }

    public func decide(_ facts: Facts) throws -> Change? {
        let (join, leave) = try differences(facts)
        guard !join.isEmpty || !leave.isEmpty else { return nil }
        let promoted = facts[Self.status]?.promoted(spec.pacemaker.pgsqlResource) ?? []
        if let primary = leave.first(where: promoted.contains) {
            throw fail("\(primary) is the primary now and is no longer in the spec; pgha does not remove the primary. Move the primary first (pgha switchover SPEC -i INVENTORY --to NODE), then apply again")
        }
        var parts: [String] = []
        if !join.isEmpty { parts.append("add \(join.map(\.name).joined(separator: ", ")) to the cluster (\(join.map { commands.nodeAddCommand($0).rendered }.joined(separator: "; ")))") }
        if !leave.isEmpty {
            parts.append("remove \(leave.joined(separator: ", ")) from the cluster (pcs cluster node remove: Pacemaker stops PostgreSQL there first); "
                + "\(leave.count == 1 ? "its" : "their") data directory \(spec.postgresql.dataDir) is left in place")
        }
        return Change(leave.isEmpty ? .create : .delete, parts.joined(separator: "; "))
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        let (join, leave) = try differences(facts)
        for node in join {
            _ = try await run(commands.nodeAddCommand(node).shell, on: connection)
            let online: Shell = "\(CrmMonStatus.query) 2>/dev/null | grep -qF -- \("<node name=\"\(node.name)\" ") && \(CrmMonStatus.query) 2>/dev/null | grep -F -- \("<node name=\"\(node.name)\" ") | grep -q 'online=\"true\"'"
            _ = try await run(Shell.waitUntil(online, tries: 240, interval: 0.5, failure: "\(node.name) did not come online in the cluster within 120 s"),
                              on: connection, display: "wait until \(node.name) is online")
        }
        for name in leave {
            _ = try await run(commands.nodeRemoveCommand(name).shell, on: connection)
        }
    }
}
