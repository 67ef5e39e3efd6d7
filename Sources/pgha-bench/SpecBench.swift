import Foundation
import PghaRender
import PghaRuntime
import PghaSpec

/// Times validate + render + offline plan of a generated 16-node spec (the work `pgha plan
/// --offline` does before printing), best and median of many runs, in milliseconds.
enum SpecBench {
    static func spec(nodes: Int) -> String {
        var yaml = "cluster: {name: bench}\nnodes:\n"
        for i in 1...nodes { yaml += "  - {name: db\(i), address: 10.20.0.\(10 + i)}\n" }
        yaml += """
            vips:
              read_write: {ip: 10.20.0.200, nic: eth0, cidr_netmask: 24}
              read_only: {ip: 10.20.0.201, nic: eth0, cidr_netmask: 24}
            postgresql:
              version: 15
              install: {method: package, distribution: debian}
              data_dir: /var/lib/postgresql/15/pgha
              archive_dir: /var/lib/postgresql/15/archive
              settings: {max_wal_senders: 20}
              hba: [{type: host, database: all, user: all, address: 10.20.0.0/24, method: scram-sha-256}]
            replication: {password: {env: PW}}
            pacemaker:
              pcs_dialect: "0.11"
              hacluster_password: {env: HA}
              pgsql: {clone_options: {clone_max: \(nodes)}}
              fencing: [{name: fence1, type: fence_ipmilan, parameters: {ip: 10.21.0.1}}]

            """
        return yaml
    }

    static func run(_ arguments: [String]) throws {
        let nodes = arguments.first.flatMap(Int.init) ?? 16
        let iterations = 200
        let yaml = spec(nodes: nodes)
        var times: [Double] = []
        var files = 0, steps = 0
        for _ in 0..<iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            let result = SpecLoader.load(yaml: yaml, file: "bench.yaml")
            guard let spec = result.value else {
                print(result.diagnostics.map(\.description).joined(separator: "\n"))
                throw ExitError()
            }
            let rendered = try Renderer(spec: spec, dialect: .v0_11, secrets: nil).renderAll()
            files = rendered.count
            let context = BootstrapContext(spec: spec, dialect: .v0_11, files: rendered, replicationPassword: "", haclusterPassword: "")
            steps = try StepCatalog.of(context).steps.count
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        times.sort()
        print(String(format: "spec: validate + render (%d files) + offline plan (%d steps) of a %d-node spec: median %.2f ms, best %.2f ms, p95 %.2f ms over %d runs",
                     files, steps, nodes, times[times.count / 2], times[0], times[times.count * 95 / 100], iterations))
    }

    struct ExitError: Error, CustomStringConvertible { var description: String { "the generated spec is invalid" } }
}
