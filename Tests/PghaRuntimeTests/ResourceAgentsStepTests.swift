import Foundation
import PghaRuntime
import PghaSpec
import XCTest

/// The agents of `pacemaker.resources` checked on the hosts, from the probe's output recorded on
/// the test bed's node1 (Debian 12, resource-agents 4.12: IPaddr2 and anything present, nginx and
/// a made-up agent missing): Tests/Fixtures/resource-agents-debian12-node1.txt.
final class ResourceAgentsStepTests: XCTestCase {
    func recorded() throws -> String {
        try String(contentsOfFile: "\(repositoryRoot)/Tests/Fixtures/resource-agents-debian12-node1.txt", encoding: .utf8)
    }

    func appResources() throws -> [ClusterSpec.Resource] {
        try XCTUnwrap(SpecLoader.load(path: "\(repositoryRoot)/specs/testbed-app.yaml").value).pacemaker.resources
    }

    func decide(_ resources: [ClusterSpec.Resource], _ output: String, primary: Bool = true) throws -> Change? {
        try ResourceAgentsStep(host: "node1", resources: resources, checkParameters: primary).decide(Facts(["resource-agents": output]))
    }

    func message(_ resources: [ClusterSpec.Resource], _ output: String) throws -> String {
        do { _ = try decide(resources, output); return "" } catch { return "\(error)" }
    }

    func testParsesWhatTheHostSaid() throws {
        let state = AgentsState.parse(try recorded())
        XCTAssertTrue(state.stack)
        XCTAssertEqual(state.agents["ocf:heartbeat:IPaddr2"]?.present, true)
        XCTAssertEqual(state.agents["ocf:heartbeat:IPaddr2"]?.parameters["ip"], true)
        XCTAssertEqual(state.agents["ocf:heartbeat:IPaddr2"]?.parameters["nic"], false)
        XCTAssertEqual(state.agents["ocf:heartbeat:anything"]?.parameters["binfile"], true)
        XCTAssertEqual(state.agents["systemd:nginx"]?.present, false)
        XCTAssertEqual(state.agents["ocf:heartbeat:nosuch"]?.present, false)
        // A name from the host outside Pacemaker's grammar is dropped, not echoed.
        let hostile = AgentsState.parse("stack=yes\nagent ocf:x:y\npresent\n<parameter name=\"a$(reboot)\" required=\"1\">\n")
        XCTAssertEqual(hostile.agents["ocf:x:y"]?.parameters, [:])
    }

    func testTheTestApplicationPasses() throws {
        XCTAssertNil(try decide(try appResources(), try recorded()))
        XCTAssertNil(try decide(try appResources(), try recorded(), primary: false))
    }

    func testAParameterTheAgentLacksAndARequiredOneLeftOut() throws {
        var resources = try appResources()
        let http = try XCTUnwrap(resources.firstIndex { $0.id == "app-http" })
        resources[http].params = resources[http].params.map { $0.key == "binfile" ? .init("bin_file", $0.value) : $0 }
        let text = try message(resources, try recorded())
        XCTAssertTrue(text.contains("pacemaker.resources[1].params.bin_file: ocf:heartbeat:anything on node1 has no parameter 'bin_file'; did you mean 'binfile'?"), text)
        XCTAssertTrue(text.contains("pacemaker.resources[1].params: ocf:heartbeat:anything on node1 requires 'binfile' (app-http does not set it)"), text)
        // The other nodes' steps check presence only.
        XCTAssertNil(try decide(resources, try recorded(), primary: false))
    }

    func testAnAgentNotInstalledIsRefusedOnEveryNode() throws {
        let nginx = ClusterSpec.Resource(id: "web", agent: "systemd:nginx", index: 2)
        for primary in [true, false] {
            do {
                _ = try decide([nginx], try recorded(), primary: primary)
                XCTFail("nginx is not installed")
            } catch {
                XCTAssertTrue("\(error)".contains("systemd:nginx (pacemaker.resources[2] web) is not installed on node1: none of /etc/systemd/system/nginx.service,"), "\(error)")
            }
        }
    }

    func testHostsWithoutResourceAgentsCannotTell() throws {
        XCTAssertNil(try decide([ClusterSpec.Resource(id: "web", agent: "systemd:nginx")], "agent systemd:nginx\nmissing\n"))
    }

    func testWhereEachKindOfAgentLives() {
        XCTAssertEqual(ResourceAgentsStep.files(of: "ocf:heartbeat:IPaddr2"), ["/usr/lib/ocf/resource.d/heartbeat/IPaddr2"])
        XCTAssertEqual(ResourceAgentsStep.files(of: "systemd:nginx").first, "/etc/systemd/system/nginx.service")
        XCTAssertEqual(ResourceAgentsStep.files(of: "systemd:getty@tty1").last, "/usr/lib/systemd/system/getty@.service")
        XCTAssertEqual(ResourceAgentsStep.files(of: "systemd:app.socket").first, "/etc/systemd/system/app.socket")
        XCTAssertEqual(ResourceAgentsStep.files(of: "lsb:myapp"), ["/etc/init.d/myapp"])
        XCTAssertEqual(ResourceAgentsStep.files(of: "service:myapp").last, "/etc/init.d/myapp")
    }
}
