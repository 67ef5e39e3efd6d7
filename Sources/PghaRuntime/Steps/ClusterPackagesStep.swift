import Foundation
import PghaShell
import PghaSpec

/// The cluster stack (seed 000 §3): pacemaker, corosync, pcs, resource-agents, and the fence
/// agents of the spec's devices. Debian 13 splits fence-agents into one package per agent
/// (`fence-agents-ipmilan`, …); its `fence-agents` pulls in all ~80 with their cloud SDKs. There
/// each device's agent that is not installed yet comes from its own package (`fence_apc_snmp` →
/// `fence-agents-apc-snmp`); Debian 12 and older and EL hosts get `fence-agents` as before.
public struct ClusterPackagesStep: Step {
    public let host: String
    public let name = "cluster-packages"
    public var dependsOn: [String] = []
    let dialect: ClusterSpec.PcsDialect
    public let fenceTypes: [String]

    static let base = ["pacemaker", "corosync", "pcs", "resource-agents"]

    public init(host: String, dialect: ClusterSpec.PcsDialect, fenceTypes: [String]) {
        self.host = host
        self.dialect = dialect
        self.fenceTypes = Array(Set(fenceTypes.filter(Self.isAgentName))).sorted()
    }

    /// fence_ and letters, digits, underscores: a name that can be a file in /usr/sbin.
    static func isAgentName(_ type: String) -> Bool {
        type.hasPrefix("fence_") && type.count > 6 && type.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    /// Debian's package of one agent (Debian 13+).
    public static func package(of type: String) -> String {
        "fence-agents-" + type.dropFirst("fence_".count).replacingOccurrences(of: "_", with: "-")
    }

    public var summary: String {
        "ensure installed: \(Self.base.joined(separator: " ")) and fence agents (fence-agents; Debian 13+: the package of each device's agent that is missing\(fenceTypes.isEmpty ? "" : ": " + fenceTypes.joined(separator: ", "))); detect pcs \(dialect.rawValue) capabilities"
    }

    var installed: Probe<[String: String]> {
        Probe("packages:cluster-packages", installedPackagesQuery(Self.base + ["fence-agents", "fence-agents-common"] + fenceTypes.map(Self.package))) {
            parseInstalledPackages($0)
        }
    }
    /// The spec's agents present on the host (a device type pgha has no package for may be installed by hand).
    var agents: Probe<Set<String>> {
        let checks = fenceTypes.map { type -> Shell in
            let path = "/usr/sbin/" + type
            return "if [ -x \(path) ]; then echo \(type); fi"
        }
        return Probe("fence.agents", checks.isEmpty ? "true" : Shell.lines(checks)) { Set($0.split(separator: "\n").map(String.init)) }
    }

    public func probe(_ script: inout FactScript) {
        script.add(installed)
        script.add(agents)
        script.add(BuildPackagesStep.osRelease)
    }

    /// What the host needs (pure).
    public static func wanted(os: OSRelease?, fenceTypes: [String], present: Set<String>) -> [String] {
        let major = Int(os?.versionID.split(separator: ".").first ?? "") ?? 0
        guard os?.id == "debian" && major >= 13 else { return base + ["fence-agents"] }
        return base + ["fence-agents-common"] + fenceTypes.filter { !present.contains($0) }.map(package)
    }

    func missing(_ facts: Facts) -> [String] {
        let installed = facts[installed]
        return Self.wanted(os: OSRelease.parse(facts[BuildPackagesStep.osRelease]), fenceTypes: fenceTypes, present: facts[agents])
            .filter { installed[$0] == nil }
    }

    public func decide(_ facts: Facts) throws -> Change? {
        let missing = missing(facts)
        return missing.isEmpty ? nil : Change(.create, "install \(missing.joined(separator: " "))")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(installPackagesCommand(missing(facts)), on: connection)
    }
}
