import Foundation
import PghaShell
import PghaSpec

/// The `source` install method (seed 000 §5.1 and §5.2.3): the build packages for the host's OS
/// family, and a build of PostgreSQL from the spec's tarball that runs only when the prefix holds
/// another version or was configured with other flags. Pure decisions over what the host
/// reports, unit-tested without a build.
public enum SourceBuild {
    /// True when the spec names no build packages (the loader filled in seed 000's EL list).
    public static func usesDefaultBuildPackages(_ install: ClusterSpec.Install) -> Bool {
        install.buildPackages == SeedDefaults.buildPackages
    }

    /// Every name the package probe asks about: both families' defaults, or the spec's own list.
    public static func probedBuildPackages(_ pg: ClusterSpec.PostgreSQL) -> [String] {
        usesDefaultBuildPackages(pg.install) ? pg.install.buildPackages + SeedDefaults.debianBuildPackages(version: pg.version) : pg.install.buildPackages
    }

    /// The build packages for one host: the spec's list when it names one; otherwise seed 000's
    /// EL list on EL hosts and its Debian equivalents on Debian and Ubuntu. nil: the host's
    /// family is unknown and the spec names no list.
    public static func buildPackages(_ pg: ClusterSpec.PostgreSQL, osRelease: String?) -> [String]? {
        guard usesDefaultBuildPackages(pg.install) else { return pg.install.buildPackages }
        switch osRelease.flatMap(OSRelease.parse)?.family {
        case .debian?: return SeedDefaults.debianBuildPackages(version: pg.version)
        case .el?: return pg.install.buildPackages
        default: return nil
        }
    }

    /// Where a host builds: removed after a successful build, kept (with build.log) after a failure.
    public static func buildDirectory(version: String) -> String { "/var/tmp/pgha-build-postgresql-\(version)" }

    /// What the prefix holds, one `key=value` line each; a build still running in the build directory.
    public static func probe(prefix: String, buildDirectory: String) -> Shell {
        let postgres = prefix + "/bin/postgres", pgConfig = prefix + "/bin/pg_config"
        let pid = buildDirectory + "/build.pid", rc = buildDirectory + "/build.rc"
        return Shell.lines([
            "if [ -x \(postgres) ]; then echo \"version=$(\(postgres) --version)\"; fi",
            "if [ -x \(pgConfig) ]; then echo \"configure=$(\(pgConfig) --configure)\"; fi",
            "if [ -d \(prefix) ]; then echo \"owner=$(stat -c '%U %G %a' \(prefix))\"; fi",
            "if [ -f \(pid) ] && [ ! -f \(rc) ] && kill -0 \"$(cat \(pid))\" 2>/dev/null; then echo \"building=$(cat \(pid))\"; fi",
        ])
    }

    public struct Installed: Equatable, Sendable {
        /// `postgres --version`'s version ("15.20"); nil when PREFIX/bin/postgres is absent.
        public var version: String?
        /// The words of `pg_config --configure`; nil when pg_config is absent.
        public var configure: [String]?
        /// Owner, group and octal mode of the prefix; nil when it does not exist.
        public var owner: (user: String, group: String, mode: String)?
        /// The pid of a build that still runs on the host.
        public var building: String?

        public init(_ text: String) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                switch parts[0] {
                case "version":
                    // "postgres (PostgreSQL) 15.20", or a distribution's "… 15.20 (Debian 15.20-0+deb12u1)"
                    let words = parts[1].split(separator: " ").map(String.init)
                    if let i = words.firstIndex(of: "(PostgreSQL)"), i + 1 < words.count { version = words[i + 1] }
                    else { version = words.last }
                case "configure": configure = SourceBuild.shellWords(parts[1])
                case "owner":
                    let f = parts[1].split(separator: " ").map(String.init)
                    if f.count == 3 { owner = (f[0], f[1], f[2]) }
                case "building": building = parts[1]
                default: break
                }
            }
        }

        public static func == (a: Installed, b: Installed) -> Bool {
            a.version == b.version && a.configure == b.configure && a.building == b.building
                && a.owner?.user == b.owner?.user && a.owner?.group == b.owner?.group && a.owner?.mode == b.owner?.mode
        }
    }

    /// What the step does: build (and install) PostgreSQL, or only give the prefix its owner.
    public enum Work: Equatable, Sendable { case build, ownership }

    /// The flags `configure` runs with: the prefix first, then the spec's.
    public static func configureArguments(prefix: String, flags: [String]) -> [String] { ["--prefix=\(prefix)"] + flags }

    /// Decides from what the host has (a build still running is the caller's refusal). Seed 000 leaves the prefix owned by the PostgreSQL user
    /// and group, mode 755 (§5.2.1).
    public static func decide(_ installed: Installed, version: String, prefix: String, flags: [String], tarball: String,
                              user: String, group: String) -> (work: Work, change: Change)? {
        let name = (tarball as NSString).lastPathComponent
        let configure = configureArguments(prefix: prefix, flags: flags)
        let build = "build PostgreSQL \(version) from \(name) into \(prefix) (configure \(configure.joined(separator: " ")); make; make -C contrib; install)"
        guard let have = installed.version else { return (.build, Change(.create, build)) }
        if have != version { return (.build, Change(.update, "\(prefix) holds PostgreSQL \(have), the spec's tarball is \(version): \(build)")) }
        guard let words = installed.configure else {
            return (.build, Change(.update, "\(prefix)/bin/pg_config is missing (an incomplete install): \(build)"))
        }
        // configure also records precious variables (CC=…) from its environment: compare the options.
        let had = words.filter { $0.hasPrefix("-") }.sorted(), want = configure.filter { $0.hasPrefix("-") }.sorted()
        if had != want || !configure.filter({ !$0.hasPrefix("-") }).allSatisfy(words.contains) {
            return (.build, Change(.update, "\(prefix) was configured with \(words.joined(separator: " ")), the spec says \(configure.joined(separator: " ")): \(build)"))
        }
        if let owner = installed.owner, owner.user != user || owner.group != group || owner.mode != "755" {
            return (.ownership, Change(.update, "\(prefix) \(owner.mode) \(owner.user):\(owner.group) → 755 \(user):\(group) (chown -R)"))
        }
        return nil
    }

    /// The script a host runs, detached, in the build directory: extract, configure, make,
    /// install, owner. Its output goes to build.log, its exit status to build.rc.
    /// `make` and `make -C contrib` are seed 000's `gmake world` without the documentation (it
    /// needs no build and takes time); `make install` + `make -C contrib install` likewise.
    public static func script(tarballName: String, prefix: String, flags: [String], user: String, group: String) -> String {
        let configure = configureArguments(prefix: prefix, flags: flags)
        // No value of the spec in a comment: a newline in it would start a command.
        let script = Shell.lines([
            "#!/bin/sh",
            "# pgha: build PostgreSQL from the spec's tarball into its prefix",
            "set -e",
            "export LC_ALL=C",
            "jobs=$(nproc 2>/dev/null || echo 2)",
            "rm -rf src && mkdir src && cd src",
            "echo \"== extract $(date +%T)\"",
            "tar -xf \("../" + tarballName) --strip-components=1 --no-same-owner",
            "echo \"== configure $(date +%T)\"",
            "./configure \(words: configure)",
            "echo \"== make -j$jobs $(date +%T)\"",
            "make -j\"$jobs\"",
            "make -j\"$jobs\" -C contrib",
            "echo \"== install $(date +%T)\"",
            "make install",
            "make -C contrib install",
            "chown -R \(user + ":" + group) \(prefix)",
            "chmod 755 \(prefix)",
            "echo \"== done $(date +%T)\"",
        ])
        return script.text + "\n\n"
    }

    /// Splits `pg_config --configure` output ('--prefix=/opt/pg15' '--with-openssl') into words.
    public static func shellWords(_ text: String) -> [String] {
        var words: [String] = [], current = "", inWord = false, quoted = false
        var chars = text.makeIterator()
        while let ch = chars.next() {
            if quoted {
                if ch == "'" { quoted = false } else { current.append(ch) }
            } else if ch == "'" {
                quoted = true; inWord = true
            } else if ch == "\\" {
                if let next = chars.next() { current.append(next) }
                inWord = true
            } else if ch == " " || ch == "\t" || ch == "\n" {
                if inWord { words.append(current); current = ""; inWord = false }
            } else {
                current.append(ch); inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }
}

extension SourceBuild {
    /// How long a host's build may take (configure, make, contrib, install) before pgha stops it.
    public static let buildTimeLimit: Int64 = 60 * 60
}
