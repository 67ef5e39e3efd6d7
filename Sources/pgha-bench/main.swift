// pgha-bench: benchmarks that print numbers (never timed assertions in tests).
//   pgha-bench spec [NODES]     validate + render + offline plan of a generated spec
//   pgha-bench transport …      SSH transports: connect, per-command round trip, parallel hosts
//   pgha-bench plan [--nodes N]  pgha plan on the test bed vs the floor of one round trip per host
//   pgha-bench bootstrap …       pgha apply on 3 fresh bare test-bed hosts, per round; phases
//   pgha-bench failover …        pgha drill on the bed's cluster: write/read recovery, healthy
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch arguments.first {
    case "spec": try SpecBench.run(Array(arguments.dropFirst()))
    case "transport": try await TransportBench.run(Array(arguments.dropFirst()))
    case "plan": try await PlanBench.run(Array(arguments.dropFirst()))
    case "bootstrap": try ClusterBench.runBootstrap(Array(arguments.dropFirst()))
    case "failover": try ClusterBench.runFailover(Array(arguments.dropFirst()))
    default:
        print("usage: pgha-bench spec [NODES] | transport [options] | plan [--nodes N] | bootstrap [--rounds N] | failover [--fault KIND] [--rounds N] [--spec SPEC]")
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("pgha-bench: \(error)\n".utf8))
    exit(1)
}
