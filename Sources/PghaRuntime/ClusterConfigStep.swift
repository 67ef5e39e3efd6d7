import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import PghaRender
import PghaShell
import PghaSpec

/// The Pacemaker configuration (the "cib-push" step): the first time, the rendered
/// pcs-resources.sh builds everything in one cib-push; afterwards the live CIB is compared with
/// what pgha declares and a repair script pushes exactly the differences (ClusterConfigRepair).
public struct ClusterConfigStep: Step {
    public var host: String
    public var name: String
    public var dependsOn: [String]
    public var spec: ClusterSpec
    public var dialect: ClusterSpec.PcsDialect
    /// The rendered cluster/pcs-resources.sh.
    public var createScript: String
    /// Names pgha's hold of sync standbys during the first configuration.
    public var runID: String

    public static let probeName = "cluster.configuration"
    static let createPath = "/root/pgha-pcs-resources.sh"
    static let repairPath = "/root/pgha-cib-repair.sh"

    public init(host: String, name: String = "cib-push", dependsOn: [String] = [], spec: ClusterSpec,
                dialect: ClusterSpec.PcsDialect, createScript: String, runID: String = "") {
        self.host = host
        self.name = name
        self.dependsOn = dependsOn
        self.spec = spec
        self.dialect = dialect
        self.createScript = createScript
        self.runID = runID
    }

    public var summary: String {
        let offline = PcsCommands(spec: spec, dialect: dialect).resourceCommands().filter { $0.arguments.starts(with: ["pcs", "-f"]) }.count
        return "build the CIB offline (\(offline) pcs -f commands, cluster/pcs-resources.sh) and push it once"
    }

    /// What the CIB holds, one line per kind.
    public var details: [String] {
        var lines: [String] = []
        let pacemaker = spec.pacemaker
        if !pacemaker.properties.isEmpty {
            lines.append("properties: " + pacemaker.properties.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        if !pacemaker.resourceDefaults.isEmpty {
            lines.append("resource defaults: " + pacemaker.resourceDefaults.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        for device in pacemaker.fencing { lines.append("stonith \(device.name) (\(device.type))") }
        let rw = spec.vips.readWrite
        lines.append("\(rw.resource) \(rw.ip)/\(rw.cidrNetmask) on \(rw.nic) in \(rw.group), with the promoted instance")
        if let ro = spec.vips.readOnly {
            lines.append("\(ro.resource) \(ro.ip)/\(ro.cidrNetmask) on \(ro.nic) in \(ro.group), with an unpromoted instance")
        }
        lines.append("\(pacemaker.pgsqlResource) (ocf:heartbeat:pgsql, rep_mode=\(spec.replication.mode.rawValue)) as promotable clone \(pacemaker.pgsqlClone)")
        return lines
    }

    public func probe(_ script: inout FactScript) {
        // Empty when the cluster is not running yet (cibadmin needs it). The same query serves
        // every step that asks whether pgha's resources exist (SharedFacts.cib).
        script.share(SharedFacts.cib.variable, SharedFacts.cib.command)
        script.add(Self.probeName, "printf '%s\\n' \(SharedFacts.Variable.cib.expansion)")
    }


    func desired() throws -> ClusterConfig {
        do { return try ClusterConfig.desired(spec: spec, dialect: dialect) } catch { throw fail("\(error)") }
    }

    /// The live configuration, or nil when there is none to read.
    func live(_ facts: Facts) throws -> ClusterConfig? {
        let text = (facts[Self.probeName] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return nil }
        do { return try ClusterConfig.parse(text) } catch { throw fail("cannot read the cluster configuration: \(error)") }
    }

    public func decide(_ facts: Facts) throws -> Change? {
        let desired = try desired()
        guard let live = try live(facts), live.holdsAnyResource(of: desired) else {
            return Change(.create, "configure the resources, groups and constraints (one cib-push)")
        }
        let held = Self.heldNodes(facts[Self.probeName] ?? "")
        let differences = ClusterConfig.compare(desired: desired, live: live)
        guard !differences.isEmpty || !held.isEmpty else { return nil }
        var parts: [String] = []
        if !held.isEmpty {
            parts.append("release \(held.map(\.node).joined(separator: ", ")) from the standby mode an interrupted first configuration (run \(Set(held.map(\.run)).sorted().joined(separator: ", "))) left them in")
        }
        if !differences.isEmpty {
            let count = differences.count == 1 ? "1 difference" : "\(differences.count) differences"
            parts.append("repair \(count) in the cluster configuration (one cib-push)")
        }
        return Change(.update, parts.joined(separator: "; "),
                      diff: differences.isEmpty ? nil : differences.map(\.description).joined(separator: "\n"))
    }

    /// The node attribute that marks pgha's hold of a sync standby (its value: the run id).
    static let holdAttribute = "pgha-held"

    /// Nodes pgha put in standby mode for a first sync configuration and did not release.
    static func heldNodes(_ xml: String) -> [(node: String, run: String)] { withXMLLock { heldNodesLocked(xml) } }

    static func heldNodesLocked(_ xml: String) -> [(node: String, run: String)] {
        guard xml.contains(holdAttribute), let document = try? XMLDocument(xmlString: xml, options: []),
              let nodes = try? document.nodes(forXPath: "//nodes/node") else { return [] }
        return nodes.compactMap { node -> (String, String)? in
            guard let element = node as? XMLElement, let name = element.attribute(forName: "uname")?.stringValue,
                  let pair = (try? element.nodes(forXPath: "instance_attributes/nvpair[@name='\(holdAttribute)']"))?.first as? XMLElement,
                  let run = pair.attribute(forName: "value")?.stringValue else { return nil }
            return (name, run)
        }
    }

    func hold(_ nodes: [String], _ on: Bool, run: String) -> Shell {
        Shell.all(nodes.flatMap { node in
            on ? [Command("crm_attribute", "--node", node, "--name", Self.holdAttribute, "--update", run).shell,
                  Command("crm_attribute", "--node", node, "--name", "standby", "--update", "on").shell]
               : [Command("crm_attribute", "--node", node, "--name", "standby", "--delete").shell,
                  Command("crm_attribute", "--node", node, "--name", Self.holdAttribute, "--delete").shell]
        })
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        let desired = try desired()
        guard let live = try live(facts), live.holdsAnyResource(of: desired) else {
            try await create(on: connection)
            return
        }
        let held = Self.heldNodes(facts[Self.probeName] ?? "").map(\.node)
        if !held.isEmpty {
            // As the first configuration would have: the intended primary promoted first.
            let last = try await waitForPromotion(on: connection)
            _ = try await run(hold(held, false, run: runID), on: connection, display: "release \(held.joined(separator: ", ")) from standby")
            if let last { throw fail("\(spec.primary) was not promoted within 120 s (\(last)); \(held.joined(separator: ", ")) released") }
        }
        let script: String?
        do { script = try ClusterConfigRepair(spec: spec, dialect: dialect).script(live: live) } catch { throw fail("\(error)") }
        guard let script else { return }
        // The CIB holds no secrets by design (the pgsql resource has no password), so neither does this.
        // Its `pcs -f` commands run in one pcs process, as the first configuration's do (PcsBatch).
        try await connection.upload(Data(PcsBatch.runner.utf8), to: PcsBatch.runnerPath, mode: 0o700, owner: "root", group: "root")
        try await connection.upload(Data(PcsBatch.wrap(script).utf8), to: Self.repairPath, mode: 0o700, owner: "root", group: "root")
        _ = try await run(Command("bash", Self.repairPath), on: connection)
    }

    /// The first configuration. In sync mode the agent may promote a fresh clone instead of the
    /// intended primary (their WAL positions are equal), so the standbys' nodes are held in
    /// standby until the intended primary is promoted, then released.
    func create(on connection: HostConnection) async throws {
        let standbys = spec.standbys.map(\.name)
        let pin = spec.replication.mode == .sync && !standbys.isEmpty
        // Marked as pgha's hold, so that a re-run after an interruption releases them (decide).
        func standby(_ on: Bool) -> Shell { hold(standbys, on, run: runID) }
        if pin { _ = try await run(standby(true), on: connection, display: "hold \(standbys.joined(separator: ", ")) in standby until \(spec.primary) is promoted") }
        try await connection.upload(Data(PcsBatch.runner.utf8), to: PcsBatch.runnerPath, mode: 0o700, owner: "root", group: "root")
        try await connection.upload(Data(PcsBatch.wrap(createScript).utf8), to: Self.createPath, mode: 0o700, owner: "root", group: "root")
        _ = try await run(Command("bash", Self.createPath), on: connection)
        guard pin else { return }
        let last = try await waitForPromotion(on: connection)
        _ = try await run(standby(false), on: connection, display: "release \(standbys.joined(separator: ", ")) from standby")
        if let last { throw fail("\(spec.primary) was not promoted within 120 s (\(last))") }
    }

    /// Waits (120 s at most) until the intended primary is the promoted instance; nil when it
    /// is, else what crm_mon last showed.
    func waitForPromotion(on connection: HostConnection) async throws -> String? {
        let promoted = dialect.promotedRole
        var last = "no status"
        for _ in 0..<240 {
            let xml = try await connection.run(CrmMonStatus.query).stdout
            let nodes = CrmMonStatus.parse(xml)?.nodes(of: spec.pacemaker.pgsqlResource, role: promoted) ?? []
            if nodes == [spec.primary] { return nil }
            last = nodes.isEmpty ? "promoted nowhere" : "promoted on \(nodes.joined(separator: ", "))"
            try await Task.sleep(nanoseconds: 500_000_000)
        }
        return last
    }
}
