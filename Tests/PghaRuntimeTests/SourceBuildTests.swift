import Foundation
import PghaRuntime
import PghaSpec
import XCTest

final class SourceBuildTests: XCTestCase {
    func spec(_ install: String) throws -> ClusterSpec {
        let yaml = """
            cluster: {name: c}
            nodes: [{name: n1, address: 10.1.0.1}, {name: n2, address: 10.1.0.2}, {name: n3, address: 10.1.0.3}]
            vips: {read_write: {ip: 10.1.0.100, nic: eth0, cidr_netmask: 24}}
            postgresql: {version: 15, install: \(install), data_dir: /srv/pg}
            replication: {password: {env: R}}
            pacemaker: {pcs_dialect: "0.11", hacluster_password: {env: H}, fencing: [{name: f1, type: fence_xvm}]}
            """
        let result = SpecLoader.load(yaml: yaml, file: "t.yaml")
        return try XCTUnwrap(result.value, "\(result.diagnostics)")
    }

    static let debian12 = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"
    static let rocky9 = "NAME=\"Rocky Linux\"\nVERSION_ID=\"9.3\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n"

    func testBuildPackagesFollowTheHostsFamilyUnlessTheSpecNamesThem() throws {
        let pg = try spec("{method: source, tarball: /x/postgresql-15.20.tar.gz, prefix: /opt/pg15}").postgresql
        XCTAssertEqual(SourceBuild.buildPackages(pg, osRelease: Self.debian12),
                       ["build-essential", "libreadline-dev", "zlib1g-dev", "bison", "flex", "libssl-dev", "libxml2-dev", "pkg-config"])
        XCTAssertEqual(SourceBuild.buildPackages(pg, osRelease: Self.rocky9), SeedDefaults.buildPackages)
        XCTAssertNil(SourceBuild.buildPackages(pg, osRelease: "ID=plan9\n"))
        XCTAssertEqual(Set(SourceBuild.probedBuildPackages(pg)), Set(SeedDefaults.buildPackages + SeedDefaults.debianBuildPackages(version: 15)))
        XCTAssertTrue(SeedDefaults.debianBuildPackages(version: 16).contains("libicu-dev"), "configure wants ICU from 16 on")
        let own = try spec("{method: source, tarball: /x/postgresql-15.20.tar.gz, prefix: /opt/pg15, build_packages: [gcc, make]}").postgresql
        XCTAssertEqual(SourceBuild.buildPackages(own, osRelease: Self.debian12), ["gcc", "make"])
        XCTAssertEqual(SourceBuild.buildPackages(own, osRelease: nil), ["gcc", "make"])
        XCTAssertEqual(SourceBuild.probedBuildPackages(own), ["gcc", "make"])
    }

    /// Real output of Debian's postgres --version and pg_config --configure (postgresql-15 on Debian 12).
    func testParsesWhatThePrefixHolds() {
        let debian = SourceBuild.Installed("""
            version=postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)
            configure= '--build=x86_64-linux-gnu' '--prefix=/usr' '--includedir=${prefix}/include' '--with-icu' 'LLVM_CONFIG=/usr/bin/llvm-config-14' 'CPPFLAGS=-Wdate-time -D_FORTIFY_SOURCE=2'
            owner=root root 755
            """)
        XCTAssertEqual(debian.version, "15.18")
        XCTAssertEqual(debian.configure, ["--build=x86_64-linux-gnu", "--prefix=/usr", "--includedir=${prefix}/include", "--with-icu",
                                          "LLVM_CONFIG=/usr/bin/llvm-config-14", "CPPFLAGS=-Wdate-time -D_FORTIFY_SOURCE=2"])
        XCTAssertEqual(debian.owner?.mode, "755")
        XCTAssertNil(debian.building)
        let bare = SourceBuild.Installed("")
        XCTAssertNil(bare.version)
        XCTAssertNil(bare.owner)
        XCTAssertEqual(SourceBuild.shellWords(#"'--with-includes=/usr/include/it'\''s' plain"#), ["--with-includes=/usr/include/it's", "plain"])
    }

    func testBuildsOnlyWhenTheVersionOrTheFlagsDiffer() {
        func decide(_ text: String) -> (work: SourceBuild.Work, change: Change)? {
            SourceBuild.decide(SourceBuild.Installed(text), version: "15.20", prefix: "/opt/pg15", flags: ["--without-icu"],
                               tarball: "/src/postgresql-15_15.20.orig.tar.bz2", user: "postgres", group: "postgres")
        }
        let build = "build PostgreSQL 15.20 from postgresql-15_15.20.orig.tar.bz2 into /opt/pg15 (configure --prefix=/opt/pg15 --without-icu; make; make -C contrib; install)"
        XCTAssertEqual(decide("")?.work, .build)
        XCTAssertEqual(decide("")?.change, Change(.create, build))
        let same = "version=postgres (PostgreSQL) 15.20\nconfigure= '--prefix=/opt/pg15' '--without-icu'\nowner=postgres postgres 755"
        XCTAssertNil(decide(same))
        // configure records precious variables from its environment: not a difference.
        XCTAssertNil(decide(same.replacingOccurrences(of: "'--without-icu'", with: "'--without-icu' 'PKG_CONFIG_PATH=/x'")))
        XCTAssertEqual(decide(same.replacingOccurrences(of: "15.20\n", with: "15.18\n"))?.change,
                       Change(.update, "/opt/pg15 holds PostgreSQL 15.18, the spec's tarball is 15.20: " + build))
        XCTAssertEqual(decide(same.replacingOccurrences(of: " '--without-icu'", with: ""))?.change,
                       Change(.update, "/opt/pg15 was configured with --prefix=/opt/pg15, the spec says --prefix=/opt/pg15 --without-icu: " + build))
        XCTAssertEqual(decide("version=postgres (PostgreSQL) 15.20\nowner=postgres postgres 755")?.work, .build, "no pg_config: incomplete")
        let owned = decide(same.replacingOccurrences(of: "owner=postgres postgres 755", with: "owner=root root 755"))
        XCTAssertEqual(owned?.work, .ownership)
        XCTAssertEqual(owned?.change, Change(.update, "/opt/pg15 755 root:root → 755 postgres:postgres (chown -R)"))
    }

    /// The probe, run for real against a fake prefix and a build directory whose build still runs.
    func testProbeRunsOnThisMachine() throws {
        let root = NSTemporaryDirectory() + "pgha-source-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let prefix = root + "/opt/pg15", build = root + "/build"
        try FileManager.default.createDirectory(atPath: prefix + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: build, withIntermediateDirectories: true)
        try "#!/bin/sh\necho 'postgres (PostgreSQL) 15.20'\n".write(toFile: prefix + "/bin/postgres", atomically: true, encoding: .utf8)
        try "#!/bin/sh\necho \" '--prefix=\(prefix)'\"\n".write(toFile: prefix + "/bin/pg_config", atomically: true, encoding: .utf8)
        _ = try runLocally("chmod 755 \(prefix) \(prefix)/bin/*")
        let probe = SourceBuild.probe(prefix: prefix, buildDirectory: build)
        let installed = SourceBuild.Installed(try runLocally("echo $PPID > \(build)/build.pid\n" + probe.text))
        XCTAssertEqual(installed.version, "15.20")
        XCTAssertEqual(installed.configure, ["--prefix=\(prefix)"])
        XCTAssertEqual(installed.owner?.mode, "755")
        XCTAssertNotNil(installed.building, "the pid in build.pid is alive")
        _ = try runLocally("echo 0 > \(build)/build.rc")
        XCTAssertNil(SourceBuild.Installed(try runLocally(probe)).building, "a build with an exit status is over")
        XCTAssertNil(SourceBuild.Installed(try runLocally(SourceBuild.probe(prefix: root + "/absent", buildDirectory: root + "/none"))).version)
    }

    /// The test bed's source spec (scripts/e2e/test_21_source.sh substitutes the tarball it fetched).
    func testTestbedSourceSpec() throws {
        let result = SpecLoader.load(path: "\(repositoryRoot)/specs/testbed-source.yaml", displayPath: "specs/testbed-source.yaml")
        XCTAssertFalse(result.diagnostics.hasErrors, "\(result.diagnostics)")
        let pg = try XCTUnwrap(result.value).postgresql
        XCTAssertEqual(pg.install.sourceVersion, "15.20")
        XCTAssertEqual(pg.binDir, "/opt/pg15/bin")
        XCTAssertEqual(pg.osUser.home, "/var/lib/postgresql", "Debian's postgres user")
        XCTAssertEqual(SourceBuild.buildPackages(pg, osRelease: Self.debian12), SeedDefaults.debianBuildPackages(version: 15))
    }

    func testBuildScript() {
        let script = SourceBuild.script(tarballName: "postgresql-15_15.20.orig.tar.bz2", prefix: "/opt/pg15",
                                        flags: ["--without-icu", "--with-includes=/usr/include/my dir"], user: "postgres", group: "dba")
        XCTAssertTrue(script.contains("tar -xf ../postgresql-15_15.20.orig.tar.bz2 --strip-components=1"))
        XCTAssertTrue(script.contains("./configure --prefix=/opt/pg15 --without-icu --with-includes='/usr/include/my dir'\n"))
        XCTAssertTrue(script.contains("make -j\"$jobs\" -C contrib\n"))
        XCTAssertTrue(script.contains("chown -R postgres:dba /opt/pg15\nchmod 755 /opt/pg15\n"))
        XCTAssertTrue(script.contains("set -e\n"))
    }
}
