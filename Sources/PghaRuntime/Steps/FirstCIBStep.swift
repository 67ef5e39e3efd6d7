import PghaShell
import PghaSpec

/// The CIB a node starts with the very first time, holding the spec's `dc-deadtime`.
///
/// At its first start Pacemaker has no CIB, so each node waits Pacemaker's default 20 s for a
/// DC before it holds an election (the cluster's properties are set only once a DC exists). A
/// node whose cluster of ours never ran here (no cib.xml yet) gets a CIB of `cibadmin --empty`
/// with the property set, written by the hacluster user itself (the directory is theirs: root
/// never writes through it). Pacemaker reads cib.xml at start; without its .sig it warns and
/// takes the file. A node that has a CIB is left alone: the property is repaired in the live
/// CIB like any other (cib-push).
public struct FirstCIBStep: Step {
    public let host: String
    public let name = "first-cib"
    public var dependsOn: [String] = []
    let clusterName: String
    let deadtime: String?
    let probes: ServerProbes

    public init(host: String, spec: ClusterSpec, probes: ServerProbes) {
        self.host = host
        self.clusterName = spec.name
        self.deadtime = Self.deadtime(spec)
        self.probes = probes
    }

    /// The spec's dc-deadtime (pgha's default; nil where the spec leaves Pacemaker's own):
    /// without one the catalog has no first-cib step.
    public static func deadtime(_ spec: ClusterSpec) -> String? {
        spec.pacemaker.properties.last { $0.key == "dc-deadtime" }?.value
    }

    public var summary: String {
        "before the cluster's first start: a CIB with dc-deadtime=\(deadtime ?? "-") (Pacemaker waits 20 s for a DC otherwise), if none exists"
    }

    static let directory = "/var/lib/pacemaker/cib"
    public static let present = Probe("pacemaker.cib-file", "[ -e \(directory + "/cib.xml") ] && echo present || echo absent") { $0 == "present" }

    public func probe(_ script: inout FactScript) {
        script.add(Self.present)
        script.add(CorosyncDefaultStep.state)
        script.add(probes.rwVIPAnswers)
    }

    /// Only for a cluster that never ran: a node added to a running one (its PostgreSQL answers
    /// behind the rw VIP) gets the cluster's CIB from its DC, which this must not compete with.
    public func decide(_ facts: Facts) throws -> Change? {
        guard let deadtime, !facts[Self.present], !facts[probes.rwVIPAnswers] else { return nil }
        // Another cluster's configuration: the corosync-default step refuses it.
        if let name = facts[CorosyncDefaultStep.state]?["name"], name != clusterName, name != "debian" { return nil }
        return Change(.create, "write the first CIB with dc-deadtime=\(deadtime) (the cluster has never started here)")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        guard let deadtime else { return }
        let new = Self.directory + "/cib.xml.pgha-new", file = Self.directory + "/cib.xml"
        let write: Shell = """
            umask 077; \(Command("cibadmin", "--empty")) > \(new) && \
            CIB_file=\(new) \(Command("crm_attribute", "--type", "crm_config", "--name", "dc-deadtime", "--update", deadtime)) && \
            \(Command("mv", "-f", new, file))
            """
        _ = try await run(Command("runuser", "-u", "hacluster", "--", "sh", "-c", write.text), on: connection,
                          display: "write \(file) with dc-deadtime=\(deadtime) (as hacluster)")
    }
}
