import Foundation
import PghaShell
import PghaSpec

/// What a host is, read before anything else (one small round trip): its OS and its pcs — the
/// pcs dialect follows pcs's capabilities (docs/architecture.md, "pcs dialects"), read from the capabilities.xml that
/// pcsd ships (the same list `pcs --version --full` prints, without a Python start).
public struct Platform: Equatable, Sendable {
    public var os: OSRelease?
    public var pcs: PcsCapabilities?

    public static let probe: FactScript = {
        var script = FactScript()
        script.add("os-release", "cat /etc/os-release")
        script.add("pcs", """
            if command -v dpkg-query >/dev/null; then v=$(dpkg-query -W -f='${Status} ${Version}' pcs 2>/dev/null); v=${v#install ok installed }; case $v in *" "*|"") v= ;; esac
            else v=$(rpm -q --qf '%{VERSION}' pcs 2>/dev/null) || v=; fi
            caps=/usr/share/pcsd/capabilities.xml; [ -f $caps ] || caps=/usr/lib/pcsd/capabilities.xml
            [ -n "$v" ] && echo "$v" $(sed -n 's/.*capability id="\\(pcmk.cib.roles.promoted-unpromoted\\|pcs.auth.separated-name-and-address\\|pcmk.resource.promotable\\)".*/\\1/p' $caps 2>/dev/null)
            """)
        // Topology pgpool: the installed pgpool-II decides which pgpool.conf names to write.
        script.add("pgpool-version", "command -v pgpool >/dev/null && pgpool --version 2>&1 | head -1 || true")
        return script
    }()

    public init(os: OSRelease?, pcs: PcsCapabilities?) {
        self.os = os
        self.pcs = pcs
    }

    public init(_ facts: Facts) {
        os = facts["os-release"].flatMap(OSRelease.parse)
        pcs = facts["pcs"].flatMap(PcsCapabilities.parse)
    }

    /// The pcs a distribution ships, for hosts where pcs is not installed yet.
    public var distributionDialect: ClusterSpec.PcsDialect? {
        guard let os else { return nil }
        let major = Int(os.versionID.split(separator: ".").first ?? "") ?? 0
        switch os.family {
        case .debian where os.id == "debian": return major >= 12 ? .v0_11 : major == 11 ? .v0_10 : nil
        case .debian where os.id == "ubuntu": return major >= 23 ? .v0_11 : major >= 20 ? .v0_10 : nil
        case .el: return major >= 9 ? .v0_11 : major == 8 ? .v0_10 : major == 7 ? .v0_9 : nil
        default: return nil
        }
    }
}

/// The dialect pgha generates for: the hosts' pcs decides; a dialect the spec or inventory
/// names must agree with it.
public enum DialectChoice {
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// Returns the dialect and one line saying how it was chosen.
    public static func choose(declared: ClusterSpec.PcsDialect?, platforms: [(host: String, platform: Platform)]) throws
        -> (ClusterSpec.PcsDialect, String) {
        var detected: [(host: String, dialect: ClusterSpec.PcsDialect, why: String)] = []
        var unknown: [String] = []
        for (host, platform) in platforms {
            if let pcs = platform.pcs {
                detected.append((host, pcs.dialect, "pcs \(pcs.version)"))
            } else if let dialect = platform.distributionDialect, let os = platform.os {
                detected.append((host, dialect, "pcs not installed yet; \(os.prettyName) ships the \(dialect.rawValue) dialect"))
            } else {
                unknown.append(host)
            }
        }
        let dialects = Set(detected.map(\.dialect))
        if dialects.count > 1 {
            let list = detected.map { "\($0.host): \($0.dialect.rawValue) (\($0.why))" }.joined(separator: ", ")
            throw Problem(description: "the hosts run different pcs dialects (\(list)); pgha drives one cluster with one dialect: align the pcs versions")
        }
        let hosts = detected.map(\.host).joined(separator: ", ")
        let why = Array(Set(detected.map(\.why))).sorted().joined(separator: "; ")
        switch (declared, dialects.first) {
        case let (declared?, found?) where declared != found:
            throw Problem(description: "the spec or inventory names pcs dialect \(declared.rawValue), but \(hosts) run\(detected.count == 1 ? "s" : "") the \(found.rawValue) dialect (\(why)); correct pacemaker.pcs_dialect, or remove it and let pgha detect it")
        case let (_, found?):
            return (found, "pcs dialect \(found.rawValue): \(declared == nil ? "detected" : "named, and detected") on \(hosts) (\(why))")
        case let (declared?, nil):
            return (declared, "pcs dialect \(declared.rawValue): named by the spec/inventory (pcs is not installed on \(unknown.joined(separator: ", ")) yet)")
        case (nil, nil):
            throw Problem(description: "pcs is not installed on \(unknown.joined(separator: ", ")) and pgha cannot tell which pcs its distribution ships: name pacemaker.pcs_dialect (0.9, 0.10 or 0.11) in the spec")
        }
    }
}
