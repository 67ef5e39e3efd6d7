import Foundation
import PghaShell
import PghaSpec

/// Packages installed with the host's package manager (apt or yum): the cluster stack, or the
/// PostgreSQL packages of `postgresql.install.packages`.
public struct PackagesStep: Step {
    public let host: String
    public let name: String
    public let summary: String
    public var dependsOn: [String] = []
    public let packages: [String]

    public init(host: String, name: String, packages: [String], summary: String) {
        self.host = host
        self.name = name
        self.packages = packages
        self.summary = summary
    }

    /// The packages of `postgresql.install` (method package).
    public static func postgresql(host: String, spec: ClusterSpec) -> PackagesStep {
        let install = spec.postgresql.install
        return PackagesStep(host: host, name: "postgresql-packages", packages: install.packages,
                            summary: "ensure installed: \(install.packages.joined(separator: " ")) (\(install.distribution.rawValue))")
    }

    /// Installed package name → version.
    var installed: Probe<[String: String]> {
        Probe("packages:\(name)", installedPackagesQuery(packages)) { parseInstalledPackages($0) }
    }

    /// What apt knows of (`apt-cache policy`): the packages apt can find, and for the
    /// PostgreSQL packages the server majors the sources offer. nil on hosts without apt (yum
    /// names a missing package itself) and when every package is installed.
    var offered: Probe<PackageOffer?> {
        let majors: Shell = name == "postgresql-packages"
            ? "apt-cache pkgnames postgresql- 2>/dev/null | grep -E '^postgresql-[0-9]+$' | sort -V | sed 's/^/offers /'" : "true"
        // apt-cache takes ~1 s on a full Debian archive's lists: asked only when a package is missing.
        let installed: Shell = "dpkg-query -W -f='${Status}\\n' \(words: packages) 2>/dev/null | grep -c '^install ok installed$'"
        return Probe("packages-offered:\(name)", "if command -v apt-cache >/dev/null && [ \"$(\(installed))\" != \(packages.count) ]; then echo apt; apt-cache policy \(words: packages) 2>/dev/null; \(majors); fi; true") {
            PackageOffer.parse($0)
        }
    }

    public func probe(_ script: inout FactScript) {
        script.add(installed)
        script.add(offered)
    }

    func missing(_ facts: Facts) -> [String] {
        let installed = facts[installed]
        return packages.filter { installed[$0] == nil }
    }

    public func decide(_ facts: Facts) throws -> Change? {
        let missing = missing(facts)
        if let offer = facts[offered] {
            let unavailable = missing.filter { !offer.known.contains($0) }
            if !unavailable.isEmpty {
                let list = unavailable.joined(separator: ", ")
                var fix = "add the package source that has \(unavailable.count == 1 ? "it" : "them")"
                if name == "postgresql-packages" {
                    let majors = offer.postgresqlMajors.map { "postgresql-\($0)" }.joined(separator: ", ")
                    fix = "this host's sources offer \(majors.isEmpty ? "no PostgreSQL server package" : majors): set postgresql.version to one of those, add the PGDG repository (apt.postgresql.org) for this one, or build it from source (postgresql.install.method: source)"
                }
                throw fail("\(list): not offered by \(host)'s package sources (apt-cache policy does not know it): \(fix); if the package lists are stale, run apt-get update there")
            }
        }
        return missing.isEmpty ? nil : Change(.create, "install \(missing.joined(separator: " "))")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(installPackagesCommand(missing(facts)), on: connection)
    }
}

/// `apt-cache policy` of some packages: those apt knows (a section each — a virtual package
/// such as Debian 12's postgresql-contrib-15 too, which has no candidate of its own but a
/// provider apt installs); with the server majors `apt-cache pkgnames` lists (`offers 17`).
public struct PackageOffer: Equatable, Sendable {
    public var known: Set<String>
    public var postgresqlMajors: [Int]

    public static func parse(_ text: String) -> PackageOffer? {
        let lines = text.split(separator: "\n").map(String.init)
        guard lines.first == "apt" else { return nil }
        var offer = PackageOffer(known: [], postgresqlMajors: [])
        for line in lines.dropFirst() {
            if line.hasPrefix("offers postgresql-"), let major = Int(line.dropFirst("offers postgresql-".count)) {
                offer.postgresqlMajors.append(major)
            } else if !line.hasPrefix(" "), line.hasSuffix(":") {
                offer.known.insert(String(line.dropLast()))
            }
        }
        return offer
    }
}

/// What a source build needs (seed 000 §5.2): the spec's list, or seed 000's EL list and its
/// Debian equivalents, picked by the host's /etc/os-release.
public struct BuildPackagesStep: Step {
    public let host: String
    public let name = "build-packages"
    public var dependsOn: [String] = []
    let pg: ClusterSpec.PostgreSQL

    public init(host: String, spec: ClusterSpec) {
        self.host = host
        self.pg = spec.postgresql
    }

    public static let osRelease = Probe("os-release", "cat /etc/os-release")
    var installed: Probe<[String: String]> {
        Probe("packages:build", installedPackagesQuery(SourceBuild.probedBuildPackages(pg))) { parseInstalledPackages($0) }
    }

    public var summary: String {
        let listed = pg.install.buildPackages
        let seeds = listed == SeedDefaults.buildPackages
            ? " (EL hosts; Debian/Ubuntu hosts: \(SeedDefaults.debianBuildPackages(version: pg.version).joined(separator: " ")))" : ""
        return "ensure installed: \(listed.joined(separator: " "))\(seeds)"
    }

    public func probe(_ script: inout FactScript) {
        script.add(Self.osRelease)
        script.add(installed)
    }

    func missing(_ facts: Facts) throws -> [String] {
        guard let names = SourceBuild.buildPackages(pg, osRelease: facts.has(Self.osRelease) ? facts[Self.osRelease] : nil) else {
            throw fail("/etc/os-release names neither an EL nor a Debian family, so pgha cannot pick the build packages; list them in postgresql.install.build_packages")
        }
        let installed = facts[installed]
        return names.filter { installed[$0] == nil }
    }

    public func decide(_ facts: Facts) throws -> Change? {
        let names = try missing(facts)
        return names.isEmpty ? nil : Change(.create, "install \(names.joined(separator: " "))")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(installPackagesCommand(try missing(facts)), on: connection)
    }
}
