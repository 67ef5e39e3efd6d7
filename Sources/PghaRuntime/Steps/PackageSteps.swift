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

    public func probe(_ script: inout FactScript) { script.add(installed) }

    func missing(_ facts: Facts) -> [String] {
        let installed = facts[installed]
        return packages.filter { installed[$0] == nil }
    }

    public func decide(_ facts: Facts) throws -> Change? {
        let missing = missing(facts)
        return missing.isEmpty ? nil : Change(.create, "install \(missing.joined(separator: " "))")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(installPackagesCommand(missing(facts)), on: connection)
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
