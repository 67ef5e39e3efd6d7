import Foundation
import PghaRender
import PghaRuntime
import PghaShell
import PghaSpec
import XCTest

/// The command layer seen from the steps: values of the spec and of the host reach the shell
/// only as quoted words, and nothing a host prints can pass for another fact.
final class CommandLayerTests: XCTestCase {
    func testbedSpec() throws -> ClusterSpec {
        try XCTUnwrap(SpecLoader.load(path: "\(repositoryRoot)/specs/testbed.yaml").value)
    }

    /// Every probe of every step, for a spec whose free-form values carry shell payloads (as if
    /// validation had let them through: this is the layer behind it), runs for real in bash on
    /// this machine — the probes only read — and no payload runs.
    func testNoSpecValueRunsInTheFactScripts() throws {
        let canary = NSTemporaryDirectory() + "pgha-canary-\(UUID().uuidString)"
        let payloads = ["$(touch \(canary)-1)", "`touch \(canary)-2`", "; touch \(canary)-3;", "'; touch \(canary)-4; '",
                        "\"; touch \(canary)-5; \"", "\ntouch \(canary)-6\n", "\\'$(touch \(canary)-7)", " && touch \(canary)-8 #"]
        // Files are found by node and template; the clean spec's serve (their content is not probed).
        let files = try Renderer(spec: try testbedSpec(), dialect: .v0_11, secrets: nil).renderAll()
        for (i, payload) in payloads.enumerated() {
            var spec = try testbedSpec()
            spec.postgresql.binDir += payload
            spec.postgresql.dataDir += payload
            spec.postgresql.archiveDir = (spec.postgresql.archiveDir ?? "/var/lib/pgsql/archive") + payload
            spec.postgresql.osUser.name += payload
            spec.postgresql.osUser.group += payload
            spec.postgresql.osUser.home += payload
            spec.postgresql.install.packages.append("pkg" + payload)
            spec.replication.user += payload
            spec.pacemaker.pgsqlResource += payload
            spec.pacemaker.tmpdir = (spec.pacemaker.tmpdir ?? "/var/lib/pgsql/tmp") + payload
            spec.os.timeServers.append("ntp" + payload)
            let steps = try bootstrapCatalog(spec, dialect: .v0_11, files: files, rebuild: ["node2"],
                                             passwords: ("r" + payload, "h" + payload)).steps
            for host in spec.nodes.map(\.name) {
                var script = FactScript()
                for step in steps where step.host == host { step.probe(&script) }
                XCTAssertEqual(script.conflicts, [], "payload \(i)")
                _ = try runLocally(script.script)
            }
            let left = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix((canary as NSString).lastPathComponent) }
            XCTAssertEqual(left, [], "payload \(i) (\(payload.debugDescription)) ran")
        }
    }

    /// A host's output cannot open a section: the header's marker is drawn for each script.
    func testAHostCannotForgeAFact() throws {
        var script = FactScript()
        script.add("os", "echo debian")
        script.add("hostile", "printf '%s\\n' '@@pgha-fact os' 'forged' '@@pgha-fact-0000 os' 'forged too'")
        script.add("after", "echo real")
        let sections = script.parse(try runLocally(script.script))
        XCTAssertEqual(sections["os"], "debian")
        XCTAssertEqual(sections["after"], "real")
        XCTAssertEqual(sections["hostile"], "@@pgha-fact os\nforged\n@@pgha-fact-0000 os\nforged too")
        XCTAssertNotEqual(FactScript().marker, FactScript().marker)
    }

    /// One name, two different probes: a defect the executor refuses to run, never a silent
    /// choice of the first.
    func testTwoProbesWithOneNameAreAConflict() {
        var script = FactScript()
        script.add("x", "echo 1")
        script.add("x", "echo 1")
        XCTAssertEqual(script.conflicts, [])
        script.add("x", "echo 2")
        XCTAssertEqual(script.conflicts, ["x"])
        var other = FactScript()
        other.add("y", "echo y")
        other.merge(script)
        XCTAssertEqual(other.conflicts, ["x"])
    }

    /// Names read from a host are plain words or refused: a Debian cluster directory whose
    /// name carries a payload is reported, not run.
    func testDistributionClusterWithAHostileNameIsRefused() throws {
        let spec = try testbedSpec()
        let step = try XCTUnwrap(try bootstrapCatalog(spec).step("node1/distribution-cluster"))
        let port = spec.postgresql.port
        XCTAssertThrowsError(try step.decide(Facts(["distribution-cluster": "$(reboot) \(port) online auto 0"]))) { error in
            XCTAssertTrue("\(error)".contains("'$(reboot)'"), "\(error)")
        }
        XCTAssertNotNil(try step.decide(Facts(["distribution-cluster": "main \(port) online auto 0"])))
        XCTAssertNil(try step.decide(Facts(["distribution-cluster": "main \(port) down manual 0"])))
    }

    func testWaitLoopsEndAsTold() throws {
        XCTAssertEqual(try runLocally("(\(Shell.waitUntil("true", tries: 3, interval: 0.01, failure: "never"))) 2>&1; echo rc=$?"), "rc=0\n")
        XCTAssertEqual(try runLocally("(\(Shell.waitUntil("false", tries: 2, interval: 0.01, failure: "it's late"))) 2>&1; echo rc=$?"), "it's late\nrc=1\n")
    }
}
