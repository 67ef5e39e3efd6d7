import Foundation
import PghaSpec

/// What the hosts run together: the plan names each host's versions, and a cluster whose hosts
/// run different releases is refused unless it is a known-safe rolling-upgrade state
/// (docs/architecture.md, "Platforms"):
/// - Corosync: one major version (2 and 3 speak different protocols);
/// - Pacemaker: mixed only as its rolling upgrades allow (3.x from 2.0.0 on, 2.x from 1.1.11 on,
///   its changelog and "Pacemaker Administration", Upgrading);
/// - pcs: one dialect every host's pcs accepts and every Pacemaker understands — the older one;
///   pcs 0.12 rejects Master/Slave and Pacemaker before 2.1 knows nothing else, so 0.10 with 0.12
///   has none;
/// - and only an existing cluster is in a rolling state: a new one is built on one release.
public enum PlatformMix {
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// One line per group of hosts that run the same: `Debian GNU/Linux 12 (bookworm): pcs 0.11.5, … (node1, node2)`.
    public static func lines(_ platforms: [(host: String, platform: Platform)]) -> [String] {
        var groups: [(summary: String, hosts: [String])] = []
        for (host, platform) in platforms {
            let summary = platform.summary
            if let index = groups.firstIndex(where: { $0.summary == summary }) { groups[index].hosts.append(host) }
            else { groups.append((summary, [host])) }
        }
        return groups.map { "\($0.summary) (\($0.hosts.joined(separator: ", ")))" }
    }

    /// nil when the hosts run one release; a note when they are in a known-safe rolling state;
    /// throws naming what runs where when they are not.
    public static func judge(_ platforms: [(host: String, platform: Platform)],
                             dialects: [(host: String, dialect: ClusterSpec.PcsDialect)]) throws -> String? {
        func majorMinor(_ v: String) -> String { v.split(separator: ".").prefix(2).joined(separator: ".") }
        let releases = Set(platforms.map { p in p.platform.os.map { "\($0.id) \($0.versionID.split(separator: ".").first ?? "")" } ?? "?" })
        let pacemaker = platforms.compactMap { p in p.platform.version("pacemaker").map { (host: p.host, version: $0) } }
        let corosync = platforms.compactMap { p in p.platform.version("corosync").map { (host: p.host, version: $0) } }
        let dialectSet = Set(dialects.map(\.dialect))
        let mixed = releases.count > 1 || dialectSet.count > 1 || Set(pacemaker.map { majorMinor($0.version) }).count > 1
            || Set(corosync.map { $0.version.split(separator: ".").first ?? "" }).count > 1
        guard mixed else { return nil }

        func hosts<T>(_ list: [(host: String, T)], where keep: (T) -> Bool) -> String {
            list.filter { keep($0.1) }.map(\.host).joined(separator: ", ")
        }
        var unsafe: [String] = []
        let corosyncMajors = Set(corosync.compactMap { Int($0.version.split(separator: ".").first ?? "") })
        if corosyncMajors.count > 1 {
            unsafe.append("Corosync " + corosyncMajors.sorted().map { major in
                "\(major) (\(hosts(corosync) { $0.hasPrefix("\(major).") }))" }.joined(separator: " and ")
                + " do not form one cluster")
        }
        if let newest = pacemaker.max(by: { versionParts($0.version).lexicographicallyPrecedes(versionParts($1.version)) }),
           let oldest = pacemaker.min(by: { versionParts($0.version).lexicographicallyPrecedes(versionParts($1.version)) }) {
            let major = versionParts(newest.version).first ?? 0
            let oldestSupported: [Int]? = major >= 3 ? [2, 0, 0] : major == 2 ? [1, 1, 11] : nil
            if let floor = oldestSupported, versionParts(oldest.version).lexicographicallyPrecedes(floor) {
                unsafe.append("Pacemaker \(newest.version) (\(newest.host)) takes rolling upgrades from \(floor.map(String.init).joined(separator: ".")) on, not from \(oldest.version) (\(oldest.host))")
            }
        }
        if let low = dialectSet.min(), let high = dialectSet.max(), low != high {
            if high >= .v0_12 && low <= .v0_10 {
                unsafe.append("pcs 0.12 (\(hosts(dialects) { $0 >= .v0_12 })) rejects the Master/Slave roles that the pcs 0.10 hosts' Pacemaker (\(hosts(dialects) { $0 <= .v0_10 })) needs: no pcs dialect suits both — upgrade \(hosts(dialects) { $0 <= .v0_10 }) to pcs 0.11 (Debian 12, EL9) first")
            } else if low == .v0_9 {
                unsafe.append("pcs 0.9 (\(hosts(dialects) { $0 == .v0_9 })) and pcs \(high.rawValue) drive Corosync 2 and 3")
            }
        }
        if !platforms.contains(where: { $0.platform.clusterConfigured }) {
            unsafe.append("none of them is a cluster member yet: pgha builds a new cluster on one release")
        }
        let runs = lines(platforms).joined(separator: "; ")
        if !unsafe.isEmpty {
            throw Problem(description: "the hosts run different releases — \(runs) — and this is no known-safe rolling-upgrade state: \(unsafe.joined(separator: "; ")). Upgrade or reinstall the hosts to one release, or upgrade them one at a time from a running cluster")
        }
        let low = dialectSet.min().map { "; pgha generates pcs \($0.rawValue) commands, which every host's pcs accepts" } ?? ""
        return "rolling upgrade under way: \(runs)\(low). Pacemaker runs mixed versions only during an upgrade: finish it"
    }

    static func versionParts(_ version: String) -> [Int] {
        version.split(separator: ".").map { Int($0.prefix { $0.isNumber }) ?? 0 }
    }
}

/// The dialect pgha generates for: the hosts' pcs decides (the older one in a rolling upgrade,
/// PlatformMix); a dialect the spec or inventory names must agree with it.
public enum DialectChoice {
    public typealias Problem = PlatformMix.Problem

    /// Returns the dialect and one line saying how it was chosen (and, in a rolling upgrade, what runs where).
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
        let rolling = try PlatformMix.judge(platforms, dialects: detected.map { ($0.host, $0.dialect) })
        let hosts = detected.map(\.host).joined(separator: ", ")
        let why = Array(Set(detected.map(\.why))).sorted().joined(separator: "; ")
        let found = detected.map(\.dialect).min()
        let suffix = rolling.map { ". Note: \($0)" } ?? ""
        switch (declared, found) {
        case let (declared?, found?) where declared == .v0_11 && found == .v0_12:
            // An upgrade to pcs 0.12 with a spec written for 0.11: 0.12 still takes 0.11's forms.
            return (declared, "pcs dialect 0.11: named; \(hosts) run the 0.12 dialect (\(why)), which accepts 0.11's commands (set pacemaker.pcs_dialect to 0.12, or remove it, for 0.12's own)\(suffix)")
        case let (declared?, found?) where declared != found:
            throw Problem(description: "the spec or inventory names pcs dialect \(declared.rawValue), but \(hosts) run\(detected.count == 1 ? "s" : "") the \(found.rawValue) dialect (\(why)); correct pacemaker.pcs_dialect, or remove it and let pgha detect it")
        case let (_, found?):
            return (found, "pcs dialect \(found.rawValue): \(declared == nil ? "detected" : "named, and detected") on \(hosts) (\(why))\(suffix)")
        case let (declared?, nil):
            return (declared, "pcs dialect \(declared.rawValue): named by the spec/inventory (pcs is not installed on \(unknown.joined(separator: ", ")) yet)")
        case (nil, nil):
            throw Problem(description: "pcs is not installed on \(unknown.joined(separator: ", ")) and pgha cannot tell which pcs its distribution ships: name pacemaker.pcs_dialect (\(ClusterSpec.PcsDialect.allCases.map(\.rawValue).joined(separator: ", "))) in the spec")
        }
    }
}
