import Foundation
import PghaShell
import PghaSpec

/// The agents of `pacemaker.resources` as the hosts have them, checked before anything is
/// pushed: each agent installed on each node (an OCF script under /usr/lib/ocf/resource.d, a
/// systemd unit, an init script), and on the first node each OCF resource's parameters against
/// the agent's own metadata (`crm_resource --show-metadata`): a parameter the agent does not have
/// or a required one left out is refused at plan time, naming the spec key. It changes nothing;
/// on hosts without resource-agents yet (a bootstrap) it cannot tell, and pcs checks the same
/// when the configuration is pushed.
public struct ResourceAgentsStep: Step {
    public let host: String
    public let name = "resource-agents"
    public var dependsOn: [String] = []
    let resources: [ClusterSpec.Resource]
    /// Whether this node's step checks the parameters (one node says it once).
    let checkParameters: Bool

    public init(host: String, resources: [ClusterSpec.Resource], checkParameters: Bool) {
        self.host = host
        self.resources = resources
        self.checkParameters = checkParameters
    }

    public var summary: String {
        "check that \(agents.joined(separator: ", ")) \(agents.count == 1 ? "is" : "are") installed\(checkParameters ? ", and the resources' parameters against each agent's metadata" : "")"
    }

    /// The distinct agents, in the order the spec lists them.
    var agents: [String] {
        var seen: [String] = []
        for resource in resources where !seen.contains(resource.agent) { seen.append(resource.agent) }
        return seen
    }

    static let ocfRoot = "/usr/lib/ocf/resource.d"
    static let unitDirectories = ["/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"]

    /// The files that show an agent installed: any one of them (the agents passed the spec's grammar).
    public static func files(of agent: String) -> [String] {
        let parts = agent.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.first {
        case "ocf" where parts.count == 3: return ["\(ocfRoot)/\(parts[1])/\(parts[2])"]
        case "systemd", "service":
            var unit = parts.dropFirst().joined(separator: ":")
            if let at = unit.firstIndex(of: "@") {  // a template unit: name@instance[.type] → name@.type
                let instance = unit[unit.index(after: at)...]
                let type = instance.contains(".") ? "." + instance.split(separator: ".").last! : ".service"
                unit = String(unit[...at]) + type
            } else if !unit.contains(".") {
                unit += ".service"
            }
            let units = unitDirectories.map { "\($0)/\(unit)" }
            return parts[0] == "service" ? units + ["/etc/init.d/\(parts[1])"] : units
        case "lsb": return ["/etc/init.d/\(parts.dropFirst().joined(separator: ":"))"]
        default: return []
        }
    }

    /// Per agent: `present`, `missing`, or nothing (the host has no resource-agents yet); for OCF
    /// agents on the checking node, their `<parameter …>` tags.
    var state: Probe<AgentsState> {
        var lines: [Shell] = ["if [ -d \(Self.ocfRoot) ]; then echo stack=yes; fi"]
        for agent in agents {
            let files = Self.files(of: agent)
            let test = Shell.join(files.map { "[ -e \($0) ]" }, separator: " || ")
            let line = "agent " + agent
            var present: Shell = "echo present"
            if checkParameters && agent.hasPrefix("ocf:") {
                present = "echo present; crm_resource --show-metadata \(agent) 2>/dev/null | grep -o '<parameter [^>]*>'"
            }
            lines.append("echo \(line); if \(test); then \(present); else echo missing; fi")
        }
        return Probe("resource-agents", Shell.lines(lines)) { AgentsState.parse($0) }
    }

    public func probe(_ script: inout FactScript) { script.add(state) }

    public func decide(_ facts: Facts) throws -> Change? {
        let state = facts[state]
        guard state.stack else { return nil }
        var problems: [String] = []
        for agent in agents where state.agents[agent]?.present == false {
            let users = resources.filter { $0.agent == agent }.map { "pacemaker.resources[\($0.index)] \($0.id)" }.joined(separator: ", ")
            problems.append("\(agent) (\(users)) is not installed on \(host): none of \(Self.files(of: agent).joined(separator: ", ")) exists; install the package that provides it, or correct the agent name")
        }
        if checkParameters {
            for resource in resources {
                guard let parameters = state.agents[resource.agent]?.parameters, !parameters.isEmpty else { continue }
                problems += Self.parameterProblems(resource, parameters: parameters, host: host)
            }
        }
        // One problem a line, indented under the step's line in the plan.
        if !problems.isEmpty { throw fail(problems.joined(separator: "\n      ")) }
        return nil
    }

    /// A parameter the agent does not have, and required ones the resource leaves out (pure).
    public static func parameterProblems(_ resource: ClusterSpec.Resource, parameters: [String: Bool], host: String) -> [String] {
        let path = "pacemaker.resources[\(resource.index)]"
        let known = parameters.keys.sorted()
        var problems: [String] = []
        for param in resource.params where parameters[param.key] == nil {
            let hint = closestMatch(param.key, in: known).map { "did you mean '\($0)'? " } ?? ""
            problems.append("\(path).params.\(param.key): \(resource.agent) on \(host) has no parameter '\(param.key)'; \(hint)its parameters: \(known.joined(separator: ", "))")
        }
        let given = Set(resource.params.map(\.key))
        for name in known where parameters[name] == true && !given.contains(name) {
            problems.append("\(path).params: \(resource.agent) on \(host) requires '\(name)' (\(resource.id) does not set it)")
        }
        return problems
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {}
}

/// What the resource-agents probe read: whether the host has resource-agents at all, and per
/// agent whether it is installed and the parameters its metadata lists (name → required).
public struct AgentsState: Equatable, Sendable {
    public struct Agent: Equatable, Sendable {
        public var present: Bool
        public var parameters: [String: Bool]
    }
    public var stack: Bool
    public var agents: [String: Agent]

    /// `stack=yes`, then per agent `agent NAME`, `present` or `missing`, and `<parameter …>` tags.
    /// Names read from the host pass Grammar.pacemakerName or are dropped.
    public static func parse(_ text: String) -> AgentsState {
        var state = AgentsState(stack: false, agents: [:])
        var current: String?
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line == "stack=yes" { state.stack = true } else if line.hasPrefix("agent ") {
                current = String(line.dropFirst("agent ".count))
                state.agents[current!] = Agent(present: false, parameters: [:])
            } else if let agent = current, line == "present" {
                state.agents[agent]?.present = true
            } else if let agent = current, line.hasPrefix("<parameter ") {
                guard let name = attribute("name", in: line), Grammar.matches(name, Grammar.pacemakerName) else { continue }
                let required = attribute("required", in: line).map { $0 == "1" || $0.lowercased() == "true" } ?? false
                state.agents[agent]?.parameters[name] = required
            }
        }
        return state
    }

    static func attribute(_ name: String, in tag: String) -> String? {
        guard let range = tag.range(of: " \(name)=\"") else { return nil }
        let rest = tag[range.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end])
    }
}
