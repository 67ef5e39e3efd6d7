import Foundation
import PghaShell
import PghaSpec

/// What a host is, read before anything else (one small round trip): its OS, its pcs — the
/// pcs dialect follows pcs's capabilities (docs/architecture.md, "pcs dialects"), read from the capabilities.xml that
/// pcsd ships (the same list `pcs --version --full` prints, without a Python start) — the
/// versions of the cluster stack and PostgreSQL installed, and whether it has been a cluster
/// member (a CIB on disk). PlatformMix judges what the hosts run together.
public struct Platform: Equatable, Sendable {
    public var os: OSRelease?
    public var pcs: PcsCapabilities?
    /// Installed package → its version: pacemaker, corosync, resource-agents, postgresql-N.
    public var packages: [String: String] = [:]
    /// Pacemaker keeps a CIB here (/var/lib/pacemaker/cib/cib.xml): the host has been a cluster
    /// member. (Not corosync.conf: Debian's corosync package installs a default one.)
    public var clusterConfigured = false

    public static let probe: FactScript = {
        var script = FactScript()
        script.add("os-release", "cat /etc/os-release")
        script.add("pcs", """
            if command -v dpkg-query >/dev/null; then v=$(dpkg-query -W -f='${Status} ${Version}' pcs 2>/dev/null); v=${v#install ok installed }; case $v in *" "*|"") v= ;; esac
            else v=$(rpm -q --qf '%{VERSION}' pcs 2>/dev/null) || v=; fi
            caps=/usr/share/pcsd/capabilities.xml; [ -f $caps ] || caps=/usr/lib/pcsd/capabilities.xml
            [ -n "$v" ] && echo "$v" $(sed -n 's/.*capability id="\\(pcs.auth.separated-name-and-address\\|pcmk.cib.roles.promoted-unpromoted\\|pcmk.constraint.colocation.simple.options.score\\)".*/\\1/p' $caps 2>/dev/null)
            """)
        script.add("platform-packages", """
            if command -v dpkg-query >/dev/null; then dpkg-query -W -f='${Package}\\t${Status}\\t${Version}\\n' pacemaker corosync resource-agents 'postgresql-[0-9]*' 2>/dev/null
            else rpm -qa --qf '%{NAME}\\tinstall ok installed\\t%{VERSION}-%{RELEASE}\\n' pacemaker corosync resource-agents 'postgresql*-server' 2>/dev/null; fi; true
            """)
        script.add("cluster-member", "[ -f /var/lib/pacemaker/cib/cib.xml ] && echo yes || echo no")
        // Topology pgpool: the installed pgpool-II decides which pgpool.conf names to write.
        script.add("pgpool-version", "command -v pgpool >/dev/null && pgpool --version 2>&1 | head -1 || true")
        return script
    }()

    public init(os: OSRelease?, pcs: PcsCapabilities?, packages: [String: String] = [:], clusterConfigured: Bool = false) {
        self.os = os
        self.pcs = pcs
        self.packages = packages
        self.clusterConfigured = clusterConfigured
    }

    public init(_ facts: Facts) {
        os = facts["os-release"].flatMap(OSRelease.parse)
        pcs = facts["pcs"].flatMap(PcsCapabilities.parse)
        packages = parseInstalledPackages(facts["platform-packages"] ?? "")
        clusterConfigured = facts["cluster-member"]?.trimmingCharacters(in: .whitespacesAndNewlines) == "yes"
    }

    /// An installed package's upstream version (`upstream`).
    public func version(_ package: String) -> String? { packages[package].map(upstream) }

    /// The PostgreSQL server packages installed: major → upstream version.
    public var postgresql: [(major: String, version: String)] {
        packages.keys.compactMap { name -> (String, String)? in
            let major = name.hasPrefix("postgresql-") ? String(name.dropFirst("postgresql-".count))
                : name.hasPrefix("postgresql") && name.hasSuffix("-server") ? String(name.dropFirst("postgresql".count).dropLast("-server".count)) : ""
            guard let number = Int(major), number >= 0, let version = version(name) else { return nil }
            return (String(number), version)
        }.sorted { (Int($0.0) ?? 0) < (Int($1.0) ?? 0) }
    }

    /// What this host runs, for the plan: `Debian GNU/Linux 13 (trixie): pcs 0.12.0.2, Pacemaker 3.0.0, …`.
    public var summary: String {
        var parts: [String] = []
        if let pcs { parts.append("pcs \(pcs.upstreamVersion)") }
        for (package, name) in [("pacemaker", "Pacemaker"), ("corosync", "Corosync"), ("resource-agents", "resource-agents")] {
            if let version = version(package) { parts.append("\(name) \(version)") }
        }
        for pg in postgresql { parts.append("PostgreSQL \(pg.version)") }
        let os = os?.prettyName ?? "an unknown OS"
        let line = parts.isEmpty ? "\(os): no cluster stack installed yet" : "\(os): \(parts.joined(separator: ", "))"
        // Read from the host, printed on a terminal: no control characters (escape sequences).
        return String(String.UnicodeScalarView(line.unicodeScalars.map { CharacterSet.controlCharacters.contains($0) ? "?" : $0 }))
    }

    /// The pcs a distribution ships, for hosts where pcs is not installed yet.
    public var distributionDialect: ClusterSpec.PcsDialect? {
        guard let os else { return nil }
        let major = Int(os.versionID.split(separator: ".").first ?? "") ?? 0
        switch os.family {
        case .debian where os.id == "debian": return major >= 13 ? .v0_12 : major == 12 ? .v0_11 : major == 11 ? .v0_10 : nil
        case .debian where os.id == "ubuntu": return major >= 23 ? .v0_11 : major >= 20 ? .v0_10 : nil
        case .el: return major >= 10 ? .v0_12 : major == 9 ? .v0_11 : major == 8 ? .v0_10 : major == 7 ? .v0_9 : nil
        default: return nil
        }
    }
}
