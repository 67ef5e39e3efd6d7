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
            return Change(.delete, "remove the distribution's default single-node cluster 'debian' (pcs cluster destroy; it has no resources)")
        }
        throw fail("this host is already in cluster '\(values["name"] ?? "?")' (/etc/corosync/corosync.conf); pgha will not destroy another cluster. Remove it yourself, then re-run")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
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

    public func probe(_ script: inout FactScript) { script.add(Self.calls) }

    public func decide(_ facts: Facts) throws -> Change? {
        facts[Self.calls] == 0 ? nil
            : Change(.update, "patch \(Self.shellfuncs): crm_attribute -p → crm_attribute --promotion (resource-agents 4.12 on Debian 12 fails every pgsql start)")
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
    let nodeCount: Int
    let enableAtBoot: Bool

    public init(host: String, spec: ClusterSpec) {
        self.host = host
        self.nodeCount = spec.nodes.count
        self.enableAtBoot = spec.pacemaker.enableAtBoot
    }

    public var summary: String { "pcs cluster start --all\(enableAtBoot ? "; pcs cluster enable --all" : ""); wait for quorum" }

    public static let status = CrmMonStatus.probe.map { CrmMonStatus.parse($0) }

    public func probe(_ script: inout FactScript) { script.add(Self.status) }

    public func decide(_ facts: Facts) throws -> Change? {
        guard let status = facts[Self.status], status.quorate, status.onlineNodes.count == nodeCount else {
            return Change(.update, "start the cluster on every node and wait for quorum")
        }
        return nil
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(Command("pcs", "cluster", "start", "--all"), on: connection)
        if enableAtBoot { _ = try await run(Command("pcs", "cluster", "enable", "--all"), on: connection) }
        let quorate: Shell = "s=$(\(CrmMonStatus.query) 2>/dev/null); [ \"$(printf '%s' \"$s\" | grep -c 'online=\"true\"')\" -ge \(nodeCount) ] && printf '%s' \"$s\" | grep -q 'with_quorum=\"true\"'"
        _ = try await run(Shell.waitUntil(quorate, tries: 120, interval: 0.5, failure: "the cluster did not reach quorum with all \(nodeCount) nodes within 60 s"),
                          on: connection, display: "wait for quorum")
    }
}
